"""The core's log records reach Python's ``logging`` under the
``graphmailer`` logger; no secret appears in any repr, exception or record."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

import graphmailer
from graphmailer.testing import Emulator

from .conftest import ALLOWED, DENIED, EXPIRED_SECRET, SECRET


def test_the_secret_is_in_no_repr_and_no_error(emu: Emulator) -> None:
    mailer = emu.mailer(max_attempts=1)
    texts = [repr(mailer), str(mailer.__dir__()), repr(mailer.diagnose()), str(mailer.diagnose().to_dict())]
    errors: list[graphmailer.GraphMailerError] = []
    for sender in (DENIED, "nobody@contoso.test"):
        with pytest.raises(graphmailer.GraphMailerError) as caught:
            mailer.send(sender=sender, to="a@example.com", text="x")
        errors.append(caught.value)
    for secret in (EXPIRED_SECRET, "Bad8Q~wrongSecretValue.0123456789abcdefghi"):
        with pytest.raises(graphmailer.AuthenticationError) as auth:
            emu.mailer(client_secret=secret, max_attempts=1).send(sender=ALLOWED, to="a@example.com", text="x")
        errors.append(auth.value)
        assert secret not in str(auth.value) and secret not in repr(auth.value)
    failed = emu.mailer(client_secret=EXPIRED_SECRET).diagnose()
    assert failed.error is not None
    texts += [repr(failed), str(failed.to_dict()), str(failed.error)]
    for e in errors:
        texts += [str(e), repr(e), str(e.__dict__)]
    for text in texts:
        assert SECRET not in text
        assert EXPIRED_SECRET not in text
    assert "Emu8Q~" not in repr(mailer)


def test_core_records_reach_the_graphmailer_logger(emu: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    mailer = emu.mailer()
    with caplog.at_level(logging.DEBUG, logger="graphmailer"):
        receipt = mailer.send(sender=ALLOWED, to="a@example.com", text="logged")
    records = [r for r in caplog.records if r.name == "graphmailer"]
    accepted = [r for r in records if "mail accepted" in r.getMessage()]
    assert len(accepted) == 1
    record = accepted[0]
    assert record.levelno == logging.INFO
    assert receipt.request_id is not None and receipt.request_id in record.getMessage()
    assert record.fields["sender"] == ALLOWED  # type: ignore[attr-defined]
    assert record.pathname.endswith(".rs")
    assert any("access token" in r.getMessage() for r in records)
    for r in records:
        assert SECRET not in r.getMessage()
        assert SECRET not in str(r.__dict__)


def test_warnings_of_retries_are_logged_without_secrets(emu: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    mailer = emu.mailer(max_attempts=2)
    emu.set_faults({"send": [{"status": 503, "retry_after_secs": 0}]})
    with caplog.at_level(logging.WARNING, logger="graphmailer"):
        mailer.send(sender=ALLOWED, to="a@example.com", text="retried")
    retried = [r for r in caplog.records if r.name == "graphmailer" and "retrying" in r.getMessage()]
    assert len(retried) == 1
    assert retried[0].levelno == logging.WARNING
    assert all(r.levelno >= logging.WARNING for r in caplog.records if r.name == "graphmailer")
    assert not any(SECRET in str(r.__dict__) for r in caplog.records)


def test_the_logger_level_filters_records(emu: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    mailer = emu.mailer()
    with caplog.at_level(logging.WARNING, logger="graphmailer"):
        mailer.send(sender=ALLOWED, to="a@example.com", text="quiet")
    assert [r for r in caplog.records if r.name == "graphmailer"] == []
    with caplog.at_level(logging.INFO, logger="graphmailer"):
        mailer.send(sender=ALLOWED, to="a@example.com", text="loud")
    assert [r.getMessage() for r in caplog.records if r.name == "graphmailer"][-1].startswith("mail accepted")


def test_a_program_that_never_imports_logging_still_sees_the_warnings(emu: Emulator) -> None:
    # Python's logging is imported only when a record must go out (a program
    # that configured logging has imported it already): a clean send leaves
    # it unimported, a retry's warning still reaches stderr as Python's
    # unconfigured logging prints it.
    script = (
        "import sys, graphmailer\n"
        "mailer = graphmailer.Mailer.from_env()\n"
        "mailer.send(sender=sys.argv[1], to='a@example.com', text='first')\n"
        "print('logging' in sys.modules, flush=True)\n"
        "sys.stdin.readline()\n"
        "mailer.send(sender=sys.argv[1], to='a@example.com', text='retried')\n"
        "print('logging' in sys.modules)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script, ALLOWED],
        env={**os.environ, **emu.environment()},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    first = child.stdout.readline().strip()
    # The fault is set once the first send is done, then the child goes on.
    emu.set_faults({"send": [{"status": 503, "retry_after_secs": 0}]})
    out, err = child.communicate("go\n", timeout=60)
    assert child.returncode == 0, err
    assert [first, out.strip()] == ["False", "True"]
    assert "retrying" in err
    assert SECRET not in err
    assert [m["message"]["body"]["content"] for m in emu.messages()] == ["first", "retried"]
