"""``Outbox``: mail queued durably in a SQLite file, then delivered through
the real emulator; each mail arrives once and its record says so; bad input
is refused before anything is stored; the sync, asyncio and long-running
forms."""

from __future__ import annotations

import asyncio
import datetime
import os
import signal
import threading
import types
from collections import Counter
from pathlib import Path
from typing import Optional

import pytest

import graphmailer
from graphmailer.testing import Emulator

from .conftest import ALLOWED, ticks_while

MIME = (
    b"From: ERP <erp@contoso.test>\r\n"
    b"To: Alice <alice@example.com>\r\n"
    b"Subject: Queued MIME\r\n"
    b"\r\n"
    b"Sent from the outbox.\r\n"
)


def invoice(subject: str = "Invoice 4711") -> graphmailer.Message:
    return graphmailer.Message(ALLOWED, to="accounts@example.com", subject=subject, text="Please pay.")


def outbox_in(tmp_path: Path) -> graphmailer.Outbox:
    return graphmailer.Outbox(f"sqlite:{tmp_path / 'outbox.db'}")


def sent_ids(emu: Emulator) -> Counter[str]:
    """How many times the emulator got each ``internetMessageId``."""
    return Counter(m["message"].get("internetMessageId", "") for m in emu.messages())


def assert_sent_once(emu: Emulator, mail: Optional[graphmailer.QueuedMail]) -> None:
    assert mail is not None
    assert mail.state == "sent", mail
    assert mail.request_id
    assert mail.sent_at is not None and mail.sent_at >= mail.created
    [stored] = [m for m in emu.messages() if m["message"].get("internetMessageId") == mail.internet_message_id]
    assert stored["request_id"] == mail.request_id
    assert stored["mailbox"] == ALLOWED


def test_a_message_and_a_mime_message_are_each_delivered_once(
    emu: Emulator, mailer: graphmailer.Mailer, tmp_path: Path
) -> None:
    outbox = outbox_in(tmp_path)
    first = outbox.enqueue(invoice())
    second = outbox.enqueue_mime(MIME)
    assert first != second

    queued = outbox.status(first)
    assert queued is not None
    assert (queued.id, queued.state, queued.sender, queued.recipients) == (first, "queued", ALLOWED, 1)
    assert queued.request_id is None and queued.attempts == 0
    assert emu.messages() == []  # queued, not sent

    summary = outbox.run_until_empty(mailer)

    assert (summary.sent, summary.deferred, summary.failed, summary.uncertain) == (2, 0, 0, 0)
    assert_sent_once(emu, outbox.status(first))
    assert_sent_once(emu, outbox.status(second))
    assert sorted(sent_ids(emu).values()) == [1, 1]
    # Nothing is left: a second run sends nothing again.
    assert outbox.run_until_empty(mailer).sent == 0
    assert len(emu.messages()) == 2


def test_the_queue_survives_reopening(emu: Emulator, mailer: graphmailer.Mailer, tmp_path: Path) -> None:
    queue_id = outbox_in(tmp_path).enqueue(invoice())
    reopened = graphmailer.Outbox.open(f"sqlite:{tmp_path / 'outbox.db'}")
    assert reopened.run_until_empty(mailer).sent == 1
    assert_sent_once(emu, reopened.status(queue_id))


def test_an_invalid_message_is_refused_before_it_is_stored(
    emu: Emulator, mailer: graphmailer.Mailer, tmp_path: Path
) -> None:
    outbox = outbox_in(tmp_path)
    with pytest.raises(graphmailer.InvalidMessageError) as no_recipient:
        outbox.enqueue(graphmailer.Message(ALLOWED, subject="To nobody", text="..."))
    assert no_recipient.value.kind == "invalid_message"
    assert no_recipient.value.field
    with pytest.raises(graphmailer.InvalidMessageError) as bad_to:
        outbox.enqueue(graphmailer.Message(ALLOWED, to="not an address", text="..."))
    assert bad_to.value.field is not None and bad_to.value.field.startswith("to")
    with pytest.raises(graphmailer.InvalidMessageError) as mime_without_to:
        outbox.enqueue_mime(b"From: erp@contoso.test\r\nSubject: x\r\n\r\nbody\r\n")
    assert mime_without_to.value.field == "mime.To"
    with pytest.raises(TypeError, match="message"):
        outbox.enqueue("not a message")  # type: ignore[arg-type]

    summary = outbox.run_until_empty(mailer)
    assert summary == outbox.run_until_empty(mailer)
    assert summary.sent == 0
    assert emu.counters()["send_requests"] == 0


def test_a_mailer_given_refuses_now_what_it_could_never_send(emu: Emulator, tmp_path: Path) -> None:
    outbox = outbox_in(tmp_path)
    alerts_only = emu.mailer(allowed_senders=["alerts@contoso.test"])
    with pytest.raises(graphmailer.SenderNotAllowedError) as not_allowed:
        outbox.enqueue(invoice(), mailer=alerts_only)
    assert ALLOWED in str(not_allowed.value)
    with pytest.raises(graphmailer.SenderNotAllowedError):
        outbox.enqueue_mime(MIME, mailer=alerts_only)
    big = graphmailer.Message(
        ALLOWED,
        to="accounts@example.com",
        subject="The ledger",
        text="Attached.",
        attachments=[graphmailer.Attachment("ledger.bin", bytes(4 << 20))],
    )
    small_only = emu.mailer()
    with pytest.raises(graphmailer.InvalidMessageError) as too_large:
        outbox.enqueue(big, mailer=small_only)
    assert too_large.value.code == "RequestEntityTooLarge"
    assert too_large.value.hint and "large" in too_large.value.hint
    with pytest.raises(TypeError, match="mailer"):
        outbox.enqueue(invoice(), mailer="erp")  # type: ignore[arg-type]

    async def refused_async() -> None:
        with pytest.raises(graphmailer.SenderNotAllowedError):
            await outbox.enqueue_async(invoice(), mailer=alerts_only)
        with pytest.raises(graphmailer.SenderNotAllowedError):
            await outbox.enqueue_mime_async(MIME, mailer=alerts_only)
        with pytest.raises(graphmailer.InvalidMessageError):
            await outbox.enqueue_async(big, mailer=small_only)

    asyncio.run(refused_async())
    # Nothing refused was stored. What the mailer can send is queued; the
    # big one, queued without a mailer, can only fail in the queue.
    kept = [outbox.enqueue(invoice(), mailer=small_only), outbox.enqueue_mime(MIME, mailer=small_only)]
    kept.append(outbox.enqueue(big))
    summary = outbox.run_until_empty(small_only)
    assert (summary.sent, summary.failed) == (2, 1), summary
    assert [m.state for m in map(outbox.status, kept) if m] == ["sent", "sent", "failed"]
    assert len(emu.messages()) == 2


def test_an_operator_lists_retries_releases_and_deletes(emu: Emulator, tmp_path: Path) -> None:
    outbox = outbox_in(tmp_path)
    mailer = emu.mailer(max_attempts=1)
    ids = {outbox.enqueue(invoice(s)) for s in ("one", "two")}
    emu.set_faults({"send": [{"status": 400, "code": "ErrorInvalidRecipients"}]})
    assert outbox.run_until_empty(mailer).failed == 1
    [failed] = outbox.list(state="failed")
    assert failed.last_error and "ErrorInvalidRecipients" in failed.last_error
    refused = failed.id
    [kept] = ids - {refused}
    doomed = outbox.enqueue(invoice("doomed"))
    assert {m.id for m in outbox.list()} == {refused, kept, doomed}
    assert [m.id for m in outbox.list(state="queued")] == [doomed]
    assert len(outbox.list(limit=1)) == 1
    # A deleted mail is gone, and never sent.
    outbox.delete(doomed)
    assert outbox.status(doomed) is None
    with pytest.raises(graphmailer.GraphMailerError, match="no mail"):
        outbox.delete(doomed)

    # Sent mail cannot be retried; a failed one can, and goes out once.
    with pytest.raises(graphmailer.GraphMailerError) as wrong_state:
        outbox.retry(kept)
    assert wrong_state.value.field == "id" and "sent" in str(wrong_state.value)
    outbox.retry(refused)
    assert outbox.run_until_empty(mailer).sent == 1
    assert_sent_once(emu, outbox.status(refused))

    # An uncertain mail waits for release.
    emu.set_faults({"send": [{"drop_after_body": True, "deliver": False}]})
    lost = outbox.enqueue(invoice("lost"))
    # The answer is lost, and this app may not read Sent Items to check.
    assert outbox.run_until_empty(mailer).uncertain == 1
    with pytest.raises(graphmailer.GraphMailerError):
        outbox.retry(lost)
    outbox.release(lost)
    assert outbox.run_until_empty(mailer).sent == 1
    assert_sent_once(emu, outbox.status(lost))
    with pytest.raises(graphmailer.GraphMailerError) as bad_state:
        outbox.list(state="lost")
    assert bad_state.value.field == "state"

    async def in_asyncio() -> None:
        assert {m.id for m in await outbox.list_async(state="sent")} == {refused, kept, lost}
        await outbox.delete_async(kept)
        with pytest.raises(graphmailer.GraphMailerError):
            await outbox.retry_async(kept)
        with pytest.raises(graphmailer.GraphMailerError):
            await outbox.release_async(refused)

    asyncio.run(in_asyncio())
    assert len(outbox.list()) == 2


def test_stats_count_each_state_and_every_deferred_mail_can_be_made_due(emu: Emulator, tmp_path: Path) -> None:
    outbox = outbox_in(tmp_path)
    mailer = emu.mailer(max_attempts=1)
    empty = outbox.stats()
    assert empty.by_state == dict.fromkeys(("queued", "sending", "sent", "deferred", "failed", "uncertain"), 0)
    assert empty.oldest_unsent_age is None
    assert outbox.retry_all_deferred() == 0

    outbox.enqueue(invoice("sent"))
    assert outbox.run_until_empty(mailer).sent == 1
    # Graph unavailable: both mails are deferred, their back-off ahead of them.
    emu.set_faults({"send": [{"status": 503}, {"status": 503}]})
    later = {outbox.enqueue(invoice(s)) for s in ("later one", "later two")}
    assert outbox.run_until_empty(mailer).deferred == 2
    stats = outbox.stats()
    assert (stats.by_state["sent"], stats.by_state["deferred"], stats.by_state["queued"]) == (1, 2, 0)
    assert stats.oldest_unsent_age is not None
    assert datetime.timedelta(0) <= stats.oldest_unsent_age < datetime.timedelta(minutes=5)
    assert "'deferred': 2" in repr(stats)
    assert outbox.run_until_empty(mailer).sent == 0  # not due yet

    assert outbox.retry_all_deferred() == 2
    assert outbox.run_until_empty(mailer).sent == 2
    for queue_id in later:
        assert_sent_once(emu, outbox.status(queue_id))
    assert sorted(sent_ids(emu).values()) == [1, 1, 1]

    async def in_asyncio() -> graphmailer.QueueStats:
        assert await outbox.retry_all_deferred_async() == 0
        return await outbox.stats_async()

    done = asyncio.run(in_asyncio())
    assert done.by_state["sent"] == 3 and done.oldest_unsent_age is None
    assert done == outbox.stats()


def test_the_gil_is_released_while_a_run_waits(emu: Emulator, mailer: graphmailer.Mailer, tmp_path: Path) -> None:
    mailer.send(invoice("the token first"))
    outbox = outbox_in(tmp_path)
    outbox.enqueue(invoice())
    emu.set_faults({"delay_ms": 500})
    ticks = ticks_while(lambda: outbox.run_until_empty(mailer))
    assert ticks > 50, ticks
    assert len(emu.messages()) == 2


def test_a_bad_url_is_a_config_error_naming_outbox(tmp_path: Path) -> None:
    for url in ("mysql://db/outbox", "sqlite:", str(tmp_path / "no-scheme.db")):
        with pytest.raises(graphmailer.ConfigError) as raised:
            graphmailer.Outbox(url)
        assert raised.value.field == "outbox", url
        assert raised.value.hint or "sqlite:" in str(raised.value)


def test_an_unknown_id_has_no_status(tmp_path: Path) -> None:
    outbox = outbox_in(tmp_path)
    assert outbox.status("0123456789abcdef") is None
    with pytest.raises(graphmailer.GraphMailerError) as raised:
        outbox.status("not an id!")
    assert raised.value.field == "id"


def test_the_asyncio_forms(emu: Emulator, mailer: graphmailer.Mailer, tmp_path: Path) -> None:
    async def main() -> tuple[list[str], graphmailer.RunSummary]:
        outbox = await graphmailer.Outbox.open_async(f"sqlite:{tmp_path / 'outbox.db'}")
        ids = list(
            await asyncio.gather(
                outbox.enqueue_async(invoice("one")),
                outbox.enqueue_async(invoice("two")),
                outbox.enqueue_mime_async(MIME, sender=ALLOWED),
            )
        )
        with pytest.raises(graphmailer.InvalidMessageError):
            await outbox.enqueue_mime_async(b"")
        summary = await outbox.run_until_empty_async(mailer)
        for queue_id in ids:
            assert_sent_once(emu, await outbox.status_async(queue_id))
        return ids, summary

    ids, summary = asyncio.run(main())
    assert len(set(ids)) == 3
    assert summary.sent == 3
    assert sorted(sent_ids(emu).values()) == [1, 1, 1]


def test_run_async_delivers_until_cancelled(emu: Emulator, mailer: graphmailer.Mailer, tmp_path: Path) -> None:
    async def main() -> None:
        outbox = outbox_in(tmp_path)
        worker = asyncio.ensure_future(outbox.run_async(mailer))
        queue_id = await outbox.enqueue_async(invoice())
        while (mail := await outbox.status_async(queue_id)) is None or mail.state != "sent":
            assert not worker.done(), worker
            await asyncio.sleep(0.02)
        worker.cancel()
        with pytest.raises(asyncio.CancelledError):
            await worker
        assert_sent_once(emu, mail)

    asyncio.run(main())
    assert len(emu.messages()) == 1


class Stop(Exception):
    """Raised by the test's signal handler, as Ctrl-C raises KeyboardInterrupt."""


def test_run_blocks_until_a_signal_handler_raises(emu: Emulator, mailer: graphmailer.Mailer, tmp_path: Path) -> None:
    outbox = outbox_in(tmp_path)
    queue_id = outbox.enqueue(invoice())

    def stop(signum: int, frame: Optional[types.FrameType]) -> None:
        raise Stop

    def signal_once_sent() -> None:
        # The worker's thread only reads the queue; the run itself blocks the
        # main thread, which gets the signal.
        emu.wait_for_messages(1)
        os.kill(os.getpid(), signal.SIGUSR1)

    previous = signal.signal(signal.SIGUSR1, stop)
    watcher = threading.Thread(target=signal_once_sent)
    watcher.start()
    try:
        with pytest.raises(Stop):
            outbox.run(mailer)
    finally:
        watcher.join()
        signal.signal(signal.SIGUSR1, previous)
    assert_sent_once(emu, outbox.status(queue_id))
