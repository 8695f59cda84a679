"""``Mailer.send_mime``: ready RFC 5322 messages (bytes, ``email`` package
messages, binary files, paths) through Graph's MIME ``sendMail``, read back
from the emulator; the sender from the argument, the From header or the
default sender; the allowlist; errors named before any network call."""

from __future__ import annotations

import asyncio
import base64
import email
import io
import os
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

import graphmailer
from graphmailer.testing import Emulator

from .conftest import ALLOWED, DENIED, SHARED, ticks_while

MAX_MIME_BYTES = 3 * 1024 * 1024  # the core's limit: 4 MB of base64

PLAIN = (
    b"From: ERP <erp@contoso.test>\n"
    b"To: Alice <alice@example.com>, bob@example.com\n"
    b"Cc: carol@example.com\n"
    b"Subject: Plain MIME\n"
    b"\n"
    b"Line one.\n"
    b"Line two.\n"
)


def addresses(graph_message: dict[str, Any], key: str) -> list[str]:
    return [r["emailAddress"]["address"] for r in graph_message.get(key, [])]


def no_network(emu: Emulator) -> None:
    counters = emu.counters()
    assert counters["token_requests"] == 0 and counters["send_requests"] == 0, counters


def test_an_email_message_with_a_pdf_attachment(emu: Emulator, mailer: graphmailer.Mailer) -> None:
    pdf = b"%PDF-1.7\n" + os.urandom(64 * 1024) + b"\n%%EOF\n"
    message = EmailMessage()
    message["From"] = f"ERP Service <{ALLOWED}>"
    message["To"] = "Accounts Payable <ap@fabrikam.example>, audit@fabrikam.example"
    message["Bcc"] = "archive@contoso.test"
    message["Subject"] = "Invoice 4711 \u2013 Größe ✓"
    message.set_content("Please find invoice 4711 attached.")
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename="invoice-4711.pdf")

    receipt = mailer.send_mime(message)

    assert isinstance(receipt, graphmailer.SendReceipt)
    [stored] = emu.messages()
    assert stored["sent_via"] == "mime"
    assert stored["request_id"] == receipt.request_id
    assert stored["mailbox"] == ALLOWED  # the From address, as no sender was given
    m = stored["message"]
    assert m["subject"] == "Invoice 4711 \u2013 Größe ✓"
    assert addresses(m, "toRecipients") == ["ap@fabrikam.example", "audit@fabrikam.example"]
    assert addresses(m, "bccRecipients") == ["archive@contoso.test"]
    assert "Please find invoice 4711 attached." in m["body"]["content"]
    [attachment] = m["attachments"]
    assert attachment["name"] == "invoice-4711.pdf"
    assert attachment["contentType"] == "application/pdf"
    assert base64.b64decode(attachment["contentBytes"]) == pdf


def test_every_form_of_message_is_sent(emu: Emulator, mailer: graphmailer.Mailer, tmp_path: Path) -> None:
    path = tmp_path / "plain.eml"
    path.write_bytes(PLAIN)
    compat32 = email.message_from_bytes(PLAIN)  # the older email.message.Message
    with path.open("rb") as file:
        receipts = [
            mailer.send_mime(PLAIN),
            mailer.send_mime(bytearray(PLAIN)),
            mailer.send_mime(memoryview(PLAIN)),
            mailer.send_mime(io.BytesIO(PLAIN)),
            mailer.send_mime(file),
            mailer.send_mime(compat32),
            mailer.send_mime_file(path),
            mailer.send_mime_file(str(path), sender=SHARED),
        ]
    assert len({r.request_id for r in receipts}) == 8
    stored = emu.messages()
    assert [s["request_id"] for s in stored] == [r.request_id for r in receipts]
    assert [s["mailbox"] for s in stored] == [ALLOWED] * 7 + [SHARED]
    for s in stored:
        m = s["message"]
        assert m["subject"] == "Plain MIME"
        assert addresses(m, "toRecipients") == ["alice@example.com", "bob@example.com"]
        assert addresses(m, "ccRecipients") == ["carol@example.com"]
        assert m["body"]["content"].replace("\r\n", "\n") == "Line one.\nLine two.\n"
    # Bare line feeds went out as CRLF, as RFC 5322 wants.
    assert "\r\nSubject: Plain MIME\r\n" in stored[0]["mime"]


def test_the_sender_argument_wins_over_from(emu: Emulator, mailer: graphmailer.Mailer) -> None:
    mailer.send_mime(PLAIN, sender=SHARED)
    assert emu.messages()[0]["mailbox"] == SHARED


def test_the_default_sender_stands_in_for_a_missing_or_unusable_from(emu: Emulator) -> None:
    mailer = emu.mailer(default_sender=SHARED)
    assert mailer.default_sender == SHARED
    mailer.send_mime(b"To: a@example.com\nSubject: no From\n\nbody\n")
    mailer.send_mime(b"From: root (Cron Daemon)\nTo: a@example.com\nSubject: cron\n\nbody\n")
    mailer.send_mime(PLAIN)  # a usable From is kept
    assert [s["mailbox"] for s in emu.messages()] == [SHARED, SHARED, ALLOWED]


def test_async_sends_and_their_errors(emu: Emulator, mailer: graphmailer.Mailer, tmp_path: Path) -> None:
    path = tmp_path / "plain.eml"
    path.write_bytes(PLAIN)

    async def main() -> list[object]:
        return list(
            await asyncio.gather(
                mailer.send_mime_async(PLAIN),
                mailer.send_mime_async(io.BytesIO(PLAIN), sender=SHARED),
                mailer.send_mime_file_async(path),
                mailer.send_mime_async(b"Subject: nobody\n\nbody"),
                mailer.send_mime_file_async(tmp_path / "missing.eml"),
                return_exceptions=True,
            )
        )

    first, second, third, no_recipients, missing = asyncio.run(main())
    assert isinstance(first, graphmailer.SendReceipt)
    assert isinstance(second, graphmailer.SendReceipt)
    assert isinstance(third, graphmailer.SendReceipt)
    assert isinstance(no_recipients, graphmailer.InvalidMessageError) and no_recipients.field == "mime.To"
    assert isinstance(missing, graphmailer.InvalidMessageError) and missing.field == "mime"
    assert "missing.eml" in str(missing)
    assert sorted(s["mailbox"] for s in emu.messages()) == sorted([ALLOWED, SHARED, ALLOWED])


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"Subject: no recipients\n\nbody\n", "mime.To"),
        (b"To: a@example.com, root\nSubject: x\n\nbody\n", "mime.To[1]"),
        (b"To: a@example.com\nCc: ok@example.com, not an address\n\nbody\n", "mime.Cc[1]"),
        (b"", "mime"),
        (b"just a body, no headers\n", "mime"),
        (b"To: a@example.com\nSubject: no From\n\nbody\n", "sender"),
    ],
)
def test_malformed_messages_name_the_field(emu: Emulator, mailer: graphmailer.Mailer, raw: bytes, field: str) -> None:
    with pytest.raises(graphmailer.InvalidMessageError) as caught:
        mailer.send_mime(raw)
    assert caught.value.field == field, caught.value
    no_network(emu)


def test_a_message_over_the_limit_is_refused_without_reading_it_all(emu: Emulator, mailer: graphmailer.Mailer) -> None:
    big = b"To: a@example.com\nSubject: big\n\n" + b"x" * MAX_MIME_BYTES
    with pytest.raises(graphmailer.InvalidMessageError) as caught:
        mailer.send_mime(big)
    assert caught.value.code == "RequestEntityTooLarge"
    assert caught.value.field == "mime"
    assert caught.value.hint is not None

    class Endless(io.RawIOBase):
        """A stream that never ends, counting what it hands out."""

        handed_out = 0

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            size = 65536 if size < 0 else size
            self.handed_out += size
            return b"To: a@example.com\n\n" if self.handed_out == size else b"x" * size

    stream = Endless()
    with pytest.raises(graphmailer.InvalidMessageError) as caught:
        mailer.send_mime(stream)
    assert caught.value.code == "RequestEntityTooLarge"
    assert stream.handed_out <= MAX_MIME_BYTES + 65536, stream.handed_out
    no_network(emu)


def test_arguments_of_the_wrong_kind(emu: Emulator, mailer: graphmailer.Mailer, tmp_path: Path) -> None:
    path = tmp_path / "plain.eml"
    path.write_bytes(PLAIN)
    with pytest.raises(TypeError, match="send_mime_file") as caught:
        mailer.send_mime(PLAIN.decode())  # type: ignore[arg-type]
    assert "bytes" in str(caught.value) and "str" in str(caught.value)
    with pytest.raises(TypeError, match="send_mime_file"):
        mailer.send_mime(path)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="message: expected bytes"):
        mailer.send_mime(42)  # type: ignore[arg-type]
    with path.open("r") as text_file, pytest.raises(TypeError, match="binary mode"):
        mailer.send_mime(text_file)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="sender: expected str"):
        mailer.send_mime(PLAIN, sender=b"erp@contoso.test")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="path"):
        mailer.send_mime_file(PLAIN)  # type: ignore[arg-type]

    class Broken(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            raise OSError("disk on fire")

    with pytest.raises(OSError, match="disk on fire"):
        mailer.send_mime(Broken())
    no_network(emu)


def test_the_allowlist_applies(emu: Emulator) -> None:
    mailer = emu.mailer(allowed_senders=[ALLOWED], max_attempts=1)
    denied = PLAIN.replace(b"erp@contoso.test", DENIED.encode())
    with pytest.raises(graphmailer.SenderNotAllowedError):
        mailer.send_mime(denied)
    with pytest.raises(graphmailer.SenderNotAllowedError):
        mailer.send_mime(PLAIN, sender=DENIED)
    no_network(emu)
    # Without a local list, the tenant's restriction refuses it.
    with pytest.raises(graphmailer.AccessDeniedError) as caught:
        emu.mailer(max_attempts=1).send_mime(denied)
    assert caught.value.code == "ErrorAccessDenied"
    assert emu.messages() == []


def test_the_gil_is_released_while_send_mime_waits(emu: Emulator, mailer: graphmailer.Mailer) -> None:
    mailer.send_mime(PLAIN)  # the token first
    emu.set_faults({"delay_ms": 500})
    ticks = ticks_while(lambda: mailer.send_mime(PLAIN))
    assert ticks > 50, ticks
    assert len(emu.messages()) == 2
