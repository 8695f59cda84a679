"""Messages over Graph's 4 MB request limit: with ``large_messages=True`` and
an app holding Mail.ReadWrite they go through a draft and upload sessions
and arrive byte for byte; without the setting they are refused before any
network call; a refused, failed, cancelled or interrupted send leaves no
draft behind. Attachments made from paths are read when sent."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import signal
import subprocess
import sys
import textwrap
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

import graphmailer
from graphmailer import Attachment
from graphmailer.testing import Emulator

from .conftest import ALLOWED, BILLING_CLIENT, BILLING_SECRET, SECRET

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def twenty_mb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 20 MiB file of random bytes (made for the run, never committed)."""
    path = tmp_path_factory.mktemp("large") / "scan-20mb.bin"
    path.write_bytes(os.urandom(20 * MiB))
    return path


@pytest.fixture(scope="module")
def nine_mb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 9 MiB file: an upload session of three chunks."""
    path = tmp_path_factory.mktemp("large") / "ledger-9mb.bin"
    path.write_bytes(os.urandom(9 * MiB))
    return path


def upload_started(drafts: list[dict[str, Any]]) -> bool:
    return any(d["upload_sessions"] for d in drafts)


def stored_files(stored: dict[str, Any]) -> dict[str, bytes]:
    return {a["name"]: base64.b64decode(a["contentBytes"]) for a in stored["message"].get("attachments", [])}


def test_a_20_mb_attachment_goes_through_an_upload_session(
    emu: Emulator, billing: graphmailer.Mailer, twenty_mb: Path
) -> None:
    attachment = Attachment.from_path(twenty_mb)
    assert attachment.size == 20 * MiB and isinstance(attachment.size, int)
    receipt = billing.send(
        sender=ALLOWED,
        to=("Archive", "archive@example.com"),
        subject="Scan of the ledger",
        text="20 MB attached.",
        attachments=[attachment, Attachment("note.txt", b"and a small one")],
    )
    assert isinstance(receipt, graphmailer.SendReceipt)
    [stored] = emu.messages()
    assert stored["request_id"] == receipt.request_id
    assert stored["mailbox"] == ALLOWED
    assert stored["app_id"] == BILLING_CLIENT
    assert stored["message"]["subject"] == "Scan of the ledger"
    files = stored_files(stored)
    assert set(files) == {"scan-20mb.bin", "note.txt"}
    assert files["scan-20mb.bin"] == twenty_mb.read_bytes()
    assert files["note.txt"] == b"and a small one"
    counters = emu.counters()
    assert counters["drafts_created"] == 1, counters
    assert counters["upload_sessions_created"] == 1, counters
    assert counters["upload_chunks"] >= 6, counters  # chunks under 4 MB each
    assert counters["upload_bytes"] == 20 * MiB, counters
    assert emu.drafts() == []


def test_a_mime_message_over_one_request_goes_through_a_draft(
    emu: Emulator, billing: graphmailer.Mailer, tmp_path: Path
) -> None:
    pdf = os.urandom(5 * MiB)
    message = EmailMessage()
    message["From"] = ALLOWED
    message["To"] = "archive@example.com"
    message["Subject"] = "Scan"
    message["Message-ID"] = "<scan.5mb@contoso.test>"
    message["In-Reply-To"] = "<request.42@example.com>"
    message.set_content("5 MB attached.")
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename="scan.pdf")
    receipt = billing.send_mime(message)
    [stored] = emu.messages()
    assert (stored["sent_via"], stored["request_id"]) == ("draft", receipt.request_id)
    assert stored["message"]["internetMessageId"] == "<scan.5mb@contoso.test>"
    assert stored_files(stored) == {"scan.pdf": pdf}
    assert emu.drafts() == []
    # From a binary file object and from a path.
    path = tmp_path / "scan.eml"
    path.write_bytes(message.as_bytes())
    with path.open("rb") as file:
        billing.send_mime(file)
    billing.send_mime_file(path)
    # The outbox queues it, and its worker sends it the same way.
    outbox = graphmailer.Outbox(f"sqlite:{tmp_path / 'outbox.db'}")
    outbox.enqueue_mime(message, mailer=billing)
    assert outbox.run_until_empty(billing).sent == 1
    sent = emu.messages()
    assert [m["sent_via"] for m in sent] == ["draft"] * 4
    assert all(stored_files(m) == {"scan.pdf": pdf} for m in sent)
    # The draft is made of the message itself, less the PDF: a header Graph's
    # JSON form cannot carry arrives.
    for m in sent:
        headers = {h["name"]: h["value"] for h in m["message"]["internetMessageHeaders"]}
        assert headers["In-Reply-To"] == "<request.42@example.com>", headers

    # With large messages off it is refused before any request, and a stream
    # is read only just past what that mailer could send.
    off = emu.mailer(client_id=BILLING_CLIENT, client_secret=BILLING_SECRET)
    with path.open("rb") as file:
        with pytest.raises(graphmailer.InvalidMessageError) as caught:
            off.send_mime(file)
        assert file.tell() < 3 * MiB + 64 * 1024, file.tell()
    assert (caught.value.code, caught.value.field) == ("RequestEntityTooLarge", "mime")
    assert caught.value.hint is not None and "large_messages" in caught.value.hint
    with pytest.raises(graphmailer.InvalidMessageError):
        outbox.enqueue_mime(message, mailer=off)
    with pytest.raises(graphmailer.InvalidMessageError) as caught:
        off.send_mime_file(path)
    assert caught.value.code == "RequestEntityTooLarge"
    assert off.token_requests == 0
    assert len(emu.messages()) == 4


def test_without_large_messages_it_is_refused_before_any_network_call(emu: Emulator, twenty_mb: Path) -> None:
    mailer = emu.mailer(client_id=BILLING_CLIENT, client_secret=BILLING_SECRET)
    assert mailer.large_messages is False
    with pytest.raises(graphmailer.InvalidMessageError) as caught:
        mailer.send(sender=ALLOWED, to="archive@example.com", text="too big", attachments=[twenty_mb])
    e = caught.value
    assert e.field == "attachments"
    assert e.code == "RequestEntityTooLarge"
    assert e.hint is not None and "Mail.ReadWrite" in e.hint
    assert isinstance(e, ValueError)
    counters = emu.counters()
    assert counters["token_requests"] == 0 and counters["send_requests"] == 0, counters
    assert counters["drafts_created"] == 0, counters


def test_an_app_without_mail_readwrite_is_told_what_it_lacks(emu: Emulator, nine_mb: Path) -> None:
    mailer = emu.mailer(large_messages=True, max_attempts=1)  # the ERP app: Mail.Send only
    with pytest.raises(graphmailer.AccessDeniedError) as caught:
        mailer.send(sender=ALLOWED, to="archive@example.com", text="big", attachments=[nine_mb])
    e = caught.value
    assert e.hint is not None and "Mail.ReadWrite" in e.hint
    assert e.request_id
    assert emu.wait_for_drafts(lambda drafts: not drafts) == []
    assert emu.messages() == []
    assert SECRET not in str(e)


def test_a_failed_and_a_dropped_chunk_are_resumed(
    emu: Emulator, billing: graphmailer.Mailer, nine_mb: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The second PUT is answered 503; the connection of the fourth dies after its body.
    emu.set_faults({"upload": [{"status": 503, "nth": 2}, {"drop_after_body": True, "nth": 4}]})
    with caplog.at_level(logging.DEBUG, logger="graphmailer"):
        receipt = billing.send(sender=ALLOWED, to="archive@example.com", text="resumed", attachments=[nine_mb])
    [stored] = emu.messages()
    assert stored["request_id"] == receipt.request_id
    assert stored_files(stored)["ledger-9mb.bin"] == nine_mb.read_bytes()
    counters = emu.counters()
    assert counters["faults_injected"] == 2, counters
    assert counters["upload_requests"] > counters["upload_chunks"], counters
    assert emu.drafts() == []
    records = [r for r in caplog.records if r.name == "graphmailer"]
    assert any("resuming" in r.getMessage() for r in records)
    # The upload URL carries its own token: it must not reach any record.
    for r in records:
        assert "authtoken" not in str(r.__dict__)
        assert SECRET not in str(r.__dict__) and BILLING_SECRET not in str(r.__dict__)


def test_the_cores_debug_events_arrive_at_pythons_debug_level(
    emu: Emulator, billing: graphmailer.Mailer, six_mb: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="graphmailer"):
        billing.send(sender=ALLOWED, to="archive@example.com", text="debug", attachments=[six_mb])
    debug = [r for r in caplog.records if r.name == "graphmailer" and r.levelno < logging.INFO]
    assert {r.getMessage().split(" sender=")[0] for r in debug} >= {"attachment uploaded", "Graph request done"}, [
        (r.levelno, r.getMessage()) for r in caplog.records
    ]
    assert all(r.levelno == logging.DEBUG for r in debug)


def test_cancelling_send_async_mid_upload_deletes_the_draft(
    emu: Emulator, billing: graphmailer.Mailer, nine_mb: Path
) -> None:
    emu.set_faults({"upload_delay_ms": 1000})

    async def main() -> list[dict[str, Any]]:
        send = asyncio.ensure_future(
            billing.send_async(sender=ALLOWED, to="archive@example.com", text="cancelled", attachments=[nine_mb])
        )
        drafts = await asyncio.to_thread(emu.wait_for_drafts, upload_started)
        assert drafts and drafts[0]["upload_sessions"], "no upload started"
        assert not send.done()
        send.cancel()
        with pytest.raises(asyncio.CancelledError):
            await send
        return drafts

    [draft] = asyncio.run(main())
    assert draft["mailbox"] == ALLOWED
    assert emu.wait_for_drafts(lambda drafts: not drafts) == []
    counters = emu.counters()
    assert counters["drafts_created"] == 1 and counters["drafts_deleted"] == 1, counters
    assert emu.messages() == []


CTRL_C_CHILD = textwrap.dedent(
    """
    import signal, sys, time
    # A job a shell starts in the background inherits SIGINT as ignored; a
    # program a person runs has Python's handler, which is what is tested.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    emu_url, tenant, client, secret, path = sys.argv[1:6]
    import graphmailer
    mailer = graphmailer.Mailer(tenant_id=tenant, client_id=client, client_secret=secret,
                                authority_host=emu_url, graph_endpoint=emu_url, large_messages=True)
    print("sending", flush=True)
    try:
        mailer.send(sender="erp@contoso.test", to="a@example.com", text="big", attachments=[path])
        print("sent", flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        time.sleep(30)  # the draft is deleted in the background: stay alive until the test is done
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT")
def test_ctrl_c_during_a_large_send_deletes_the_draft(emu: Emulator, nine_mb: Path) -> None:
    emu.set_faults({"upload_delay_ms": 1000})
    child = subprocess.Popen(
        [sys.executable, "-c", CTRL_C_CHILD, emu.url, emu.tenant_id, BILLING_CLIENT, BILLING_SECRET, str(nine_mb)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "sending"
        assert upload_started(emu.wait_for_drafts(upload_started)), "no upload started"
        child.send_signal(signal.SIGINT)
        assert child.stdout.readline().strip() == "interrupted"
        assert emu.wait_for_drafts(lambda drafts: not drafts) == []
    finally:
        child.kill()
        child.communicate(timeout=10)
    counters = emu.counters()
    assert counters["drafts_deleted"] == 1, counters
    assert emu.messages() == []


def test_an_attachment_from_a_path_is_read_when_sent(emu: Emulator, mailer: graphmailer.Mailer, tmp_path: Path) -> None:
    path = tmp_path / "report.csv"
    path.write_bytes(b"version 1")
    attachment = Attachment.from_path(path)
    assert attachment.size == 9 and isinstance(attachment.size, int)
    assert attachment.name == "report.csv"
    path.write_bytes(b"version 2")  # the same size: sent as it is now
    assert attachment.content == b"version 2"
    mailer.send(sender=ALLOWED, to="a@example.com", text="x", attachments=[attachment])
    assert stored_files(emu.messages()[0])["report.csv"] == b"version 2"

    path.write_bytes(b"a longer version 3")
    with pytest.raises(graphmailer.InvalidMessageError) as caught:
        mailer.send(sender=ALLOWED, to="a@example.com", text="x", attachments=[attachment])
    assert caught.value.field == "attachments"
    assert "changed size" in str(caught.value)
    path.unlink()
    with pytest.raises(graphmailer.InvalidMessageError) as caught:
        mailer.send(sender=ALLOWED, to="a@example.com", text="x", attachments=[attachment])
    assert caught.value.field == "attachments" and "report.csv" in str(caught.value)
    assert len(emu.messages()) == 1
    assert emu.counters()["send_requests"] == 1


@pytest.fixture(scope="module")
def six_mb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 6 MiB file: an upload session of two chunks."""
    path = tmp_path_factory.mktemp("large") / "scan-6mb.bin"
    path.write_bytes(os.urandom(6 * MiB))
    return path


def check_rising_to_the_total(seen: list[graphmailer.Progress], name: str, size: int) -> None:
    assert [p.name for p in seen[:-1]] == [name] * (len(seen) - 1)
    sent = [p.sent for p in seen]
    assert len(seen) >= 3, seen
    assert sent == sorted(sent) and sent[0] < size, sent
    assert sent[-1] == size and seen[-1].total == size
    assert seen[-1].finished and not any(p.finished for p in seen[:-1])
    assert all(p.message_total == size for p in seen)


def test_on_progress_rises_chunk_by_chunk_to_the_total(
    emu: Emulator, billing: graphmailer.Mailer, six_mb: Path
) -> None:
    seen: list[graphmailer.Progress] = []
    billing.send(sender=ALLOWED, to="archive@example.com", text="scan", attachments=[six_mb], on_progress=seen.append)
    check_rising_to_the_total(seen, "scan-6mb.bin", 6 * MiB)
    assert "Progress(index=0, name='scan-6mb.bin'" in repr(seen[0])

    # A message sent in one request reports nothing.
    small: list[graphmailer.Progress] = []
    billing.send(sender=ALLOWED, to="a@example.com", text="small", on_progress=small.append)
    assert small == []

    with pytest.raises(TypeError, match="on_progress"):
        billing.send(sender=ALLOWED, to="a@example.com", text="x", on_progress="print")  # type: ignore[call-overload]


def test_on_progress_of_send_async(emu: Emulator, billing: graphmailer.Mailer, six_mb: Path) -> None:
    seen: list[graphmailer.Progress] = []

    async def main() -> graphmailer.SendReceipt:
        message = graphmailer.Message(sender=ALLOWED, to="archive@example.com", text="scan")
        message.attach(Attachment.from_path(six_mb))
        return await billing.send_async(message, on_progress=seen.append)

    asyncio.run(main())
    check_rising_to_the_total(seen, "scan-6mb.bin", 6 * MiB)


def test_an_exception_in_on_progress_does_not_stop_the_send(
    emu: Emulator, billing: graphmailer.Mailer, six_mb: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reported: list[BaseException | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: reported.append(u.exc_value))

    def broken(progress: graphmailer.Progress) -> None:
        raise RuntimeError(f"callback failed at {progress.sent}")

    billing.send(sender=ALLOWED, to="archive@example.com", text="scan", attachments=[six_mb], on_progress=broken)
    assert len(emu.messages()) == 1
    assert reported and all(isinstance(e, RuntimeError) for e in reported)
