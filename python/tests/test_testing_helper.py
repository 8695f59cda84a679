"""graphmailer.testing, the helper users test their own code with."""

from __future__ import annotations

import threading
import time

import pytest

import graphmailer
from graphmailer.testing import Emulator, EmulatorNotFound

from .conftest import ALLOWED, DENIED, TENANT


def test_the_banner_and_the_environment(emu: Emulator) -> None:
    assert emu.url.startswith("http://127.0.0.1:")
    assert (emu.tenant_id, emu.allowed_sender, emu.denied_sender) == (TENANT, ALLOWED, DENIED)
    assert emu.ca_file is None
    env = emu.environment()
    assert env["AZURE_AUTHORITY_HOST"] == env["GRAPHMAILER_GRAPH_ENDPOINT"] == emu.url
    assert emu.url in repr(emu) and emu.client_secret not in repr(emu)


def test_waiting_for_mails(emu: Emulator) -> None:
    mailer = emu.mailer()

    def send_later() -> None:
        time.sleep(0.2)
        mailer.send(sender=ALLOWED, to="a@example.com", text="later")

    sender = threading.Thread(target=send_later)
    sender.start()
    stored = emu.wait_for_messages(1, timeout=10)
    sender.join()
    assert [s["message"]["body"]["content"] for s in stored] == ["later"]
    assert emu.wait_for_messages(2, timeout=0.2) == stored
    emu.clear_messages()
    assert emu.messages() == []


def test_settings_and_revoked_tokens(emu: Emulator) -> None:
    mailer = emu.mailer()
    mailer.send(sender=ALLOWED, to="a@example.com", text="first token")
    emu.revoke_tokens()
    # Graph refuses the revoked token; the core fetches a new one once and sends.
    receipt = mailer.send(sender=ALLOWED, to="a@example.com", text="second token")
    assert receipt.attempts == 2
    assert emu.counters()["tokens_issued"] == 2
    assert emu.update_settings(token_lifetime_secs=120)["token_lifetime_secs"] == 120
    assert emu.settings()["token_lifetime_secs"] == 120
    emu.reset()
    assert emu.settings()["token_lifetime_secs"] != 120


def test_a_missing_binary_is_reported(tmp_path: object) -> None:
    with pytest.raises(EmulatorNotFound):
        Emulator("/nonexistent/graphmailer-emulator-binary")
    assert issubclass(EmulatorNotFound, RuntimeError)


def test_an_emulator_per_test_is_cheap() -> None:
    from .conftest import emulator_binary

    with Emulator(emulator_binary()) as own:
        own.mailer().send(sender=own.allowed_sender, to="a@example.com", text="own emulator")
        assert len(own.messages()) == 1
    with pytest.raises(graphmailer.TransientError):
        graphmailer.Mailer(
            tenant_id=own.tenant_id,
            client_id=own.client_id,
            client_secret=own.client_secret,
            authority_host=own.url,
            graph_endpoint=own.url,
            max_attempts=1,
        ).send(sender=ALLOWED, to="a@example.com", text="the emulator is gone")
