"""Secretless credentials: a federated token file (and its rotation
mid-run), a ``client_assertion`` callable and a managed identity each send
mail against the emulator; each common failure raises its class with
Entra's code and a hint; no token or assertion reaches any output."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Dict

import pytest

import graphmailer
from graphmailer.testing import Emulator

from .conftest import ALLOWED, TENANT

WORKLOAD_CLIENT = "7e1d5a3c-9b2f-4c8e-a6d4-3f2b1c0e9d8a"
SUBJECT = "system:serviceaccount:erp:graphmailer"
NO_MAIL_SEND_IDENTITY = "0f1e2d3c-4b5a-4968-8776-655443322110"

CREDENTIAL_VARIABLES = (
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_FEDERATED_TOKEN_FILE",
    "GRAPHMAILER_CREDENTIAL",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
)


def mint(emu: Emulator, **overrides: Any) -> str:
    """A workload token from the emulator's own OIDC issuer."""
    body: Dict[str, Any] = {"subject": SUBJECT, "audience": "api://AzureADTokenExchange", "lifetime_seconds": 3600}
    body.update(overrides)
    token: str = emu.call("POST", "oidc/token", body)["token"]
    return token


def send(mailer: graphmailer.Mailer) -> graphmailer.SendReceipt:
    return mailer.send(sender=ALLOWED, to="accounts@example.com", subject="Invoice 4711", text="Please pay.")


@pytest.fixture
def clean_env(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The emulator's endpoints in the environment, and no credential."""
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", emu.url)
    monkeypatch.setenv("GRAPHMAILER_GRAPH_ENDPOINT", emu.url)
    monkeypatch.setenv("GRAPHMAILER_MAX_ATTEMPTS", "1")
    return monkeypatch


def federated(env: pytest.MonkeyPatch, token_file: Path) -> graphmailer.Mailer:
    env.setenv("AZURE_TENANT_ID", TENANT)
    env.setenv("AZURE_CLIENT_ID", WORKLOAD_CLIENT)
    env.setenv("AZURE_FEDERATED_TOKEN_FILE", str(token_file))
    return graphmailer.Mailer.from_env()


def rotate(token_file: Path, token: str) -> None:
    """As the platform does: a new file moved over the old one."""
    fresh = token_file.with_suffix(".next")
    fresh.write_text(token + "\n")
    os.replace(fresh, token_file)


def test_a_federated_token_file_sends_and_is_read_again_after_rotation(
    emu: Emulator, clean_env: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    token_file = tmp_path / "azure-identity-token"
    first = mint(emu, lifetime_seconds=600)
    rotate(token_file, first)
    mailer = federated(clean_env, token_file)
    assert mailer.credential == "federated token file"
    with caplog.at_level(logging.DEBUG, logger="graphmailer"):
        send(mailer)
        second = mint(emu, lifetime_seconds=7200)
        rotate(token_file, second)
        # Past the first token's expiry and the access token's: the next
        # token request must read the new file.
        emu.call("POST", "clock/advance", {"secs": 3700})
        send(mailer)
    assert mailer.token_requests == 2
    assert len(emu.messages()) == 2
    logged = " ".join(str(r.__dict__) for r in caplog.records)
    for token in (first, second):
        assert token.rsplit(".", 1)[1] not in logged
        assert token not in repr(mailer)


@pytest.mark.parametrize(
    ("overrides", "code", "hint"),
    [
        ({"subject": "system:serviceaccount:erp:other"}, "AADSTS700213", "system:serviceaccount:<namespace>"),
        ({"audience": "api://SomethingElse"}, "AADSTS700212", "api://AzureADTokenExchange"),
        ({"lifetime_seconds": -60}, "AADSTS700024", "stopped refreshing"),
    ],
)
def test_each_mismatch_has_its_code_and_hint(
    emu: Emulator,
    clean_env: pytest.MonkeyPatch,
    tmp_path: Path,
    overrides: Dict[str, Any],
    code: str,
    hint: str,
) -> None:
    token_file = tmp_path / "token"
    token = mint(emu, **overrides)
    rotate(token_file, token)
    with pytest.raises(graphmailer.AuthenticationError) as caught:
        send(federated(clean_env, token_file))
    e = caught.value
    assert e.code == code
    assert e.hint is not None and hint in e.hint
    signature = token.rsplit(".", 1)[1]
    for text in (str(e), repr(e), str(e.__dict__)):
        assert signature not in text


def test_a_missing_token_file_names_the_file_and_the_variable(
    emu: Emulator, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    token_file = tmp_path / "never-written"
    with pytest.raises(graphmailer.ConfigError) as caught:
        send(federated(clean_env, token_file))
    assert caught.value.field == "AZURE_FEDERATED_TOKEN_FILE"
    assert str(token_file) in caught.value.message
    assert emu.counters()["token_requests"] == 0


def test_a_client_assertion_callable_is_asked_per_token_request(emu: Emulator) -> None:
    token = mint(emu)
    calls: list[int] = []

    def assertion() -> str:
        calls.append(1)
        return token

    mailer = emu.mailer(client_id=WORKLOAD_CLIENT, client_secret=None, client_assertion=assertion)
    assert mailer.credential == "assertion callback"
    send(mailer)
    send(mailer)
    assert len(calls) == 1
    assert token not in repr(mailer)

    def failing() -> str:
        raise RuntimeError("no OIDC token in this job")

    broken = emu.mailer(client_id=WORKLOAD_CLIENT, client_secret=None, client_assertion=failing)
    with pytest.raises(graphmailer.AuthenticationError) as caught:
        send(broken)
    assert "no OIDC token in this job" in caught.value.message
    with pytest.raises(TypeError):
        emu.mailer(client_id=WORKLOAD_CLIENT, client_secret=None, client_assertion="a string")


def test_a_managed_identity_sends_through_imds(emu: Emulator, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("GRAPHMAILER_CREDENTIAL", "managed_identity")
    clean_env.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", emu.url)
    mailer = graphmailer.Mailer.from_env()
    assert mailer.credential == "managed identity (IMDS, system-assigned)"
    send(mailer)
    assert len(emu.messages()) == 1


def test_a_managed_identity_sends_through_app_service(emu: Emulator, clean_env: pytest.MonkeyPatch) -> None:
    header = str(emu.banner["identity_header"])
    clean_env.setenv("GRAPHMAILER_CREDENTIAL", "managed_identity")
    clean_env.setenv("IDENTITY_ENDPOINT", f"{emu.url}/msi/token")
    clean_env.setenv("IDENTITY_HEADER", header)
    mailer = graphmailer.Mailer.from_env()
    assert mailer.credential == "managed identity (App Service, system-assigned)"
    send(mailer)
    assert header not in repr(mailer)


def test_an_identity_without_mail_send_gets_the_grant(emu: Emulator, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("GRAPHMAILER_CREDENTIAL", "managed_identity")
    clean_env.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", emu.url)
    clean_env.setenv("AZURE_CLIENT_ID", NO_MAIL_SEND_IDENTITY)
    with pytest.raises(graphmailer.AccessDeniedError) as caught:
        send(graphmailer.Mailer.from_env())
    hint = caught.value.hint or ""
    assert "New-MgServicePrincipalAppRoleAssignment" in hint and NO_MAIL_SEND_IDENTITY in hint
