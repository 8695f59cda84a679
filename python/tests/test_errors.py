"""Every kind of error of the core raises its own class, with the service's
code, the request id and a hint; the classes form one hierarchy."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

import graphmailer
from graphmailer.testing import Emulator

from .conftest import ALLOWED, CLIENT, DENIED, SECRET, TENANT

CLASSES: dict[str, type[graphmailer.GraphMailerError]] = {
    "config": graphmailer.ConfigError,
    "invalid_message": graphmailer.InvalidMessageError,
    "sender_not_allowed": graphmailer.SenderNotAllowedError,
    "authentication": graphmailer.AuthenticationError,
    "access_denied": graphmailer.AccessDeniedError,
    "mailbox_not_found": graphmailer.MailboxNotFoundError,
    "throttled": graphmailer.ThrottledError,
    "transient": graphmailer.TransientError,
    "ambiguous_delivery": graphmailer.AmbiguousDeliveryError,
    "service": graphmailer.ServiceError,
}


def send(mailer: graphmailer.Mailer, sender: str = ALLOWED) -> graphmailer.SendReceipt:
    return mailer.send(sender=sender, to="alice@example.com", subject="Hi", text="x")


def test_every_core_kind_has_its_class() -> None:
    assert [name for name, _, _, _ in graphmailer.ERROR_KINDS] == list(CLASSES)
    for name, class_name, number, code in graphmailer.ERROR_KINDS:
        cls = CLASSES[name]
        assert cls.__name__ == class_name
        assert issubclass(cls, graphmailer.GraphMailerError)
        assert getattr(graphmailer, class_name) is cls
        assert code == "ERR_" + name.upper()
        assert 1 <= number <= 10
        assert cls.__doc__
    assert issubclass(graphmailer.ConfigError, ValueError)
    assert issubclass(graphmailer.InvalidMessageError, ValueError)


def test_each_kind_has_a_class_of_its_own() -> None:
    class_names = [class_name for _, class_name, _, _ in graphmailer.ERROR_KINDS]
    assert len(set(class_names)) == len(class_names), class_names
    assert "GraphMailerError" not in class_names


def test_config_error_names_the_setting() -> None:
    with pytest.raises(graphmailer.ConfigError) as caught:
        graphmailer.Mailer(tenant_id=TENANT, client_id="not-a-guid", client_secret=SECRET)
    e = caught.value
    assert (e.kind, e.number, e.field) == ("config", 1, "AZURE_CLIENT_ID")
    assert "not a GUID" in e.message
    with pytest.raises(graphmailer.ConfigError) as caught:
        graphmailer.Mailer(tenant_id=TENANT, client_id=CLIENT)
    assert caught.value.field == "AZURE_CLIENT_SECRET"
    with pytest.raises(graphmailer.ConfigError) as caught:
        graphmailer.Mailer(
            tenant_id=TENANT, client_id=CLIENT, client_secret=SECRET, allowed_senders=["ok@x.test", "no"]
        )
    assert caught.value.field == "allowed_senders[1]"
    with pytest.raises(graphmailer.ConfigError) as caught:
        graphmailer.Mailer(tenant_id=TENANT, client_id=CLIENT, client_secret=SECRET, cloud="mars")
    assert caught.value.field == "GRAPHMAILER_CLOUD" and "usgov" in str(caught.value)


def test_invalid_message_before_any_request(emu: Emulator, mailer: graphmailer.Mailer) -> None:
    with pytest.raises(graphmailer.InvalidMessageError) as caught:
        mailer.send(sender=ALLOWED, to="alice@example.com", subject="a\nb", text="x")
    assert caught.value.field == "subject"
    assert caught.value.retryable is False
    assert emu.counters()["token_requests"] == 0


def test_sender_not_allowed_locally(emu: Emulator) -> None:
    mailer = emu.mailer(allowed_senders=[ALLOWED])
    with pytest.raises(graphmailer.SenderNotAllowedError) as caught:
        send(mailer, DENIED)
    assert caught.value.field == "sender"
    assert caught.value.hint is not None and ALLOWED in caught.value.hint
    assert emu.counters()["token_requests"] == 0


def test_authentication_error_carries_code_request_id_and_hint(emu: Emulator) -> None:
    with pytest.raises(graphmailer.AuthenticationError) as caught:
        send(emu.mailer(client_secret="Wrong8Q~notTheSecretValue.0123456789abcdef", max_attempts=1))
    e = caught.value
    assert e.code == "AADSTS7000215"
    assert e.status == 401
    assert e.request_id
    assert e.hint
    assert f"code {e.code}" in str(e) and f"\nhint: {e.hint}" in str(e)
    assert "Wrong8Q~" not in str(e)


def test_access_denied_by_the_tenant(mailer: graphmailer.Mailer) -> None:
    with pytest.raises(graphmailer.AccessDeniedError) as caught:
        send(mailer, DENIED)
    e = caught.value
    assert (e.code, e.status, e.kind) == ("ErrorAccessDenied", 403, "access_denied")
    assert e.request_id and e.request_id in str(e)
    assert e.hint is not None and DENIED in e.hint


def test_mailbox_not_found(mailer: graphmailer.Mailer) -> None:
    with pytest.raises(graphmailer.MailboxNotFoundError) as caught:
        send(mailer, "nobody@contoso.test")
    assert caught.value.code == "ErrorInvalidUser"
    assert caught.value.status == 404


def test_throttled_with_retry_after(emu: Emulator, mailer: graphmailer.Mailer) -> None:
    emu.set_faults({"send": [{"status": 429, "retry_after_secs": 7}]})
    with pytest.raises(graphmailer.ThrottledError) as caught:
        send(mailer)
    e = caught.value
    assert e.retry_after == 7.0
    assert e.retryable is True
    assert e.hint is not None and "throttle" in e.hint.lower()
    assert emu.messages() == []


def test_throttling_is_retried_within_the_attempts(emu: Emulator) -> None:
    emu.set_faults({"send": [{"status": 429, "retry_after_secs": 0}]})
    receipt = send(emu.mailer(max_attempts=3))
    assert receipt.attempts == 2
    assert len(emu.messages()) == 1


def test_transient(emu: Emulator, mailer: graphmailer.Mailer) -> None:
    emu.set_faults({"send": [{"status": 503}]})
    with pytest.raises(graphmailer.TransientError) as caught:
        send(mailer)
    assert caught.value.status == 503
    assert caught.value.retryable is True


def test_ambiguous_delivery_is_not_retried(emu: Emulator) -> None:
    emu.set_faults({"send": [{"drop_after_body": True, "deliver": True}]})
    with pytest.raises(graphmailer.AmbiguousDeliveryError) as caught:
        send(emu.mailer(max_attempts=4))
    assert caught.value.retryable is False
    assert caught.value.hint
    # The emulator delivered it before dropping the connection: exactly once.
    assert len(emu.messages()) == 1
    assert emu.counters()["send_requests"] == 1


def test_other_answers_are_service_errors(emu: Emulator, mailer: graphmailer.Mailer) -> None:
    emu.set_faults({"send": [{"status": 418, "code": "ImATeapot", "message": "short and stout"}]})
    with pytest.raises(graphmailer.ServiceError) as caught:
        send(mailer)
    assert caught.value.code == "ImATeapot"
    assert caught.value.status == 418


def test_errors_pickle_and_keep_their_attributes(mailer: graphmailer.Mailer) -> None:
    with pytest.raises(graphmailer.AccessDeniedError) as caught:
        send(mailer, DENIED)
    copy: Any = pickle.loads(pickle.dumps(caught.value))
    assert type(copy) is graphmailer.AccessDeniedError
    assert str(copy) == str(caught.value)
    for name in ("kind", "code", "request_id", "hint", "status", "field", "message"):
        assert getattr(copy, name) == getattr(caught.value, name)


def test_one_except_catches_them_all(mailer: graphmailer.Mailer) -> None:
    caught = []
    for sender in (DENIED, "nobody@contoso.test", "not an address"):
        try:
            send(mailer, sender)
        except graphmailer.GraphMailerError as e:
            caught.append(type(e))
    assert caught == [
        graphmailer.AccessDeniedError,
        graphmailer.MailboxNotFoundError,
        graphmailer.InvalidMessageError,
    ]
