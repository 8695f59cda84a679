"""diagnose(), verify() and policy_script(): the administrator's side."""

from __future__ import annotations

import asyncio

import pytest

import graphmailer
from graphmailer.testing import Emulator

from .conftest import ALLOWED, CLIENT, DENIED, REPORTING_CLIENT, REPORTING_SECRET, SHARED, TENANT


def test_diagnose_explains_a_working_app(emu: Emulator) -> None:
    d = emu.mailer().diagnose()
    assert d.ok is True
    assert d.token_acquired is True
    assert d.error is None
    assert d.roles == ["Mail.Send"]
    assert d.app_display_name == "Contoso ERP"
    assert d.token_tenant == TENANT
    assert (d.tenant_id, d.client_id, d.credential) == (TENANT, CLIENT, "client secret")
    assert d.token_url == f"{emu.url}/{TENANT}/oauth2/v2.0/token"
    assert d.graph_endpoint == emu.url
    assert d.token_lifetime is not None and d.token_lifetime > 0
    assert d.clock_skew_secs is not None and abs(d.clock_skew_secs) <= 5
    ids = [f.id for f in d.findings]
    assert "mail-send-granted" in ids
    assert all(f.severity in ("info", "warning", "error") for f in d.findings)
    as_dict = d.to_dict()
    assert as_dict["ok"] is True and as_dict["roles"] == ["Mail.Send"]
    assert as_dict["token_lifetime_secs"] == int(d.token_lifetime)
    assert [f["id"] for f in as_dict["findings"]] == ids
    assert emu.counters()["tokens_issued"] == 1


def test_diagnose_finds_a_missing_role(emu: Emulator) -> None:
    d = emu.mailer(client_id=REPORTING_CLIENT, client_secret=REPORTING_SECRET).diagnose()
    assert d.ok is False
    missing = [f for f in d.findings if f.id == "missing-mail-send"]
    assert len(missing) == 1
    assert missing[0].severity == "error"
    assert missing[0].hint is not None and "admin consent" in missing[0].hint
    assert missing[0].to_dict()["id"] == "missing-mail-send"


def test_diagnose_reports_a_failed_token_request(emu: Emulator) -> None:
    d = emu.mailer(client_secret="Bad8Q~wrongSecretValue.0123456789abcdefghi", max_attempts=1).diagnose()
    assert d.ok is False and d.token_acquired is False
    assert isinstance(d.error, graphmailer.AuthenticationError)
    assert d.error.code == "AADSTS7000215"
    assert [f.id for f in d.findings] == ["token-request-failed"]
    error = d.to_dict()["error"]
    assert {k: error[k] for k in ("kind", "message", "code", "request_id", "hint", "status")} == {
        "kind": "authentication",
        "message": d.error.message,
        "code": "AADSTS7000215",
        "request_id": d.error.request_id,
        "hint": d.error.hint,
        "status": 401,
    }


def test_diagnose_async(emu: Emulator) -> None:
    async def main() -> graphmailer.Diagnosis:
        return await emu.mailer().diagnose_async()

    assert asyncio.run(main()).ok


def test_verify_holds_for_the_default_policy(emu: Emulator) -> None:
    v = emu.mailer(allowed_senders=[ALLOWED]).verify([ALLOWED, SHARED], [DENIED])
    assert v.holds is True and bool(v) is True
    assert v.round == 1
    assert [(r.sender, r.expected, r.observed, r.passed) for r in v.rows] == [
        (ALLOWED, "allowed", "sent", True),
        (SHARED, "allowed", "sent", True),
        (DENIED, "denied", "denied", True),
    ]
    assert v.rows[2].code == "ErrorAccessDenied"
    # Each probe went to the sender's own mailbox only.
    stored = emu.messages()
    assert sorted(s["mailbox"] for s in stored) == sorted([ALLOWED, SHARED])
    for s in stored:
        assert [r["emailAddress"]["address"] for r in s["message"]["toRecipients"]] == [s["mailbox"]]


def test_verify_fails_when_expectations_are_wrong(emu: Emulator) -> None:
    v = emu.mailer().verify(allowed=DENIED, denied=ALLOWED)
    assert v.holds is False
    assert [(r.observed, r.passed) for r in v.rows] == [("denied", False), ("sent", False)]
    assert "should be allowed" in v.rows[0].detail


def test_verify_refuses_bad_input(emu: Emulator) -> None:
    mailer = emu.mailer()
    with pytest.raises(graphmailer.ConfigError) as caught:
        mailer.verify([ALLOWED], ["not an address"])
    assert caught.value.field == "denied[0]"
    with pytest.raises(graphmailer.ConfigError):
        mailer.verify()


def test_verify_until_stops_when_it_holds(emu: Emulator) -> None:
    rounds: list[tuple[bool, float]] = []
    v = emu.mailer().verify_until(
        [ALLOWED], [DENIED], wait=30, interval=0.1, progress=lambda r, left: rounds.append((r.holds, left))
    )
    assert v.holds
    assert len(rounds) == 1 and rounds[0][0] is True and rounds[0][1] > 25


def test_verify_until_repeats_until_the_wait_is_over(emu: Emulator) -> None:
    seen: list[int] = []
    v = emu.mailer().verify_until(DENIED, wait=0.5, interval=0.2, progress=lambda r, _: seen.append(r.round))
    assert v.holds is False
    assert seen == list(range(1, len(seen) + 1)) and len(seen) >= 2
    assert v.round == seen[-1]


def test_verify_async(emu: Emulator) -> None:
    async def main() -> graphmailer.Verification:
        return await emu.mailer().verify_async([ALLOWED], [DENIED])

    assert asyncio.run(main()).holds


SP = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"


def test_policy_scripts() -> None:
    rbac = graphmailer.policy_script(
        CLIENT, [ALLOWED, SHARED], service_principal_id=SP, display_name="Contoso ERP", denied=[DENIED]
    )
    assert f"New-ServicePrincipal -AppId '{CLIENT}' -ObjectId '{SP}'" in rbac
    assert f"-Resource '{DENIED}'" in rbac
    for warning in graphmailer.POLICY_WARNINGS:
        assert warning in rbac
    legacy = graphmailer.policy_script(
        CLIENT, ALLOWED, style="application_access_policy", group="erp-senders@contoso.test"
    )
    assert "New-ApplicationAccessPolicy" in legacy and "-PolicyScopeGroupId 'erp-senders@contoso.test'" in legacy


def test_policy_script_refuses_what_could_escape() -> None:
    with pytest.raises(graphmailer.ConfigError) as caught:
        graphmailer.policy_script(CLIENT, [ALLOWED], service_principal_id=SP, display_name="x'; Remove-Mailbox ceo; '")
    assert caught.value.field == "display_name"
    with pytest.raises(graphmailer.ConfigError) as caught:
        graphmailer.policy_script(CLIENT, ["a@b.com' -or 1 -eq 1 #"], service_principal_id=SP)
    assert caught.value.field == "mailboxes[0]"
    with pytest.raises(graphmailer.ConfigError) as caught:
        graphmailer.policy_script(CLIENT, [ALLOWED])
    assert caught.value.field == "service_principal_id"


def test_a_failing_progress_callback_does_not_stop_the_rounds(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    reported: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda info: reported.append(info.exc_value))
    calls: list[int] = []

    def progress(round: graphmailer.Verification, left: float) -> None:
        calls.append(round.round)
        raise ValueError("a bug in the caller's callback")

    v = emu.mailer().verify_until(DENIED, wait=0.3, interval=0.1, progress=progress)
    assert v.holds is False
    assert len(calls) >= 2
    assert len(reported) == len(calls) and all(isinstance(e, ValueError) for e in reported)
