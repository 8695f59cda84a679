"""Every message feature arrives at the emulator as sent, through keywords
and through ``Message``/``Attachment`` objects."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import graphmailer
from graphmailer import Address, Attachment, Message
from graphmailer.testing import Emulator

from .conftest import ALLOWED, SHARED


def only_message(emu: Emulator) -> dict[str, Any]:
    stored = emu.messages()
    assert len(stored) == 1
    return stored[0]


def recipients(graph_message: dict[str, Any], key: str) -> list[tuple[Any, str]]:
    return [(r["emailAddress"].get("name"), r["emailAddress"]["address"]) for r in graph_message.get(key, [])]


def test_keywords_carry_every_field(emu: Emulator, mailer: graphmailer.Mailer, tmp_path: Path) -> None:
    report = tmp_path / "report.csv"
    report.write_bytes(b"id;total\n4711;99.50\n")
    receipt = mailer.send(
        sender=SHARED,
        to=["alice@example.com", ("Bob Example", "bob@example.com"), Address("carol@example.com", name="Carol")],
        cc="dave@example.com",
        bcc=("Archive", "archive@contoso.test"),
        reply_to=["replies@contoso.test"],
        subject="Invoice 4711 \u2013 Größe ✓",
        html="<p>See <b>attached</b> <img src='cid:logo'></p>",
        importance="HIGH",
        attachments=[
            report,
            Attachment("logo.png", b"\x89PNG\r\n", inline=True, content_id="logo"),
            Attachment.from_bytes("data.bin", bytearray(b"\x00\x01\x02"), content_type="application/x-custom"),
        ],
        headers={"x-invoice-id": "4711", "X-Customer": "ACME"},
        save_to_sent_items=False,
    )
    assert isinstance(receipt, graphmailer.SendReceipt)
    assert receipt.attempts == 1
    stored = only_message(emu)
    assert stored["mailbox"] == SHARED
    assert stored["request_id"] == receipt.request_id
    assert stored["save_to_sent_items"] is False
    m = stored["message"]
    assert m["subject"] == "Invoice 4711 \u2013 Größe ✓"
    assert m["body"] == {"contentType": "html", "content": "<p>See <b>attached</b> <img src='cid:logo'></p>"}
    assert m["importance"] == "high"
    assert recipients(m, "toRecipients") == [
        (None, "alice@example.com"),
        ("Bob Example", "bob@example.com"),
        ("Carol", "carol@example.com"),
    ]
    assert recipients(m, "ccRecipients") == [(None, "dave@example.com")]
    assert recipients(m, "bccRecipients") == [("Archive", "archive@contoso.test")]
    assert recipients(m, "replyTo") == [(None, "replies@contoso.test")]
    headers = [(h["name"], h["value"]) for h in m["internetMessageHeaders"]]
    assert headers == [("x-invoice-id", "4711"), ("X-Customer", "ACME")]
    files = {a["name"]: a for a in m["attachments"]}
    assert set(files) == {"report.csv", "logo.png", "data.bin"}
    assert base64.b64decode(files["report.csv"]["contentBytes"]) == b"id;total\n4711;99.50\n"
    assert files["report.csv"]["contentType"] == "text/csv"
    assert files["logo.png"]["isInline"] is True
    assert files["logo.png"]["contentId"] == "logo"
    assert base64.b64decode(files["logo.png"]["contentBytes"]) == b"\x89PNG\r\n"
    assert files["data.bin"]["contentType"] == "application/x-custom"
    assert all(a["@odata.type"] == "#microsoft.graph.fileAttachment" for a in m["attachments"])


def test_a_message_built_step_by_step(emu: Emulator, mailer: graphmailer.Mailer, tmp_path: Path) -> None:
    invoice = tmp_path / "invoice-4711.pdf"
    invoice.write_bytes(b"%PDF-1.4 not really")
    message = Message(ALLOWED, subject="Reminder")
    returned = message.add_to("alice@example.com").add_to([("Bob", "bob@example.com")])
    assert returned is message
    message.add_cc("carol@example.com").add_bcc("audit@contoso.test").add_reply_to(("Billing", "billing@contoso.test"))
    message.add_header("x-reminder", "2")
    message.attach(Attachment.from_path(invoice))
    message.attach(str(invoice))
    message.text = "Please pay invoice 4711."
    message.importance = "low"
    message.validate()
    assert message.text == "Please pay invoice 4711."
    assert message.html is None
    assert [a.address for a in message.to] == ["alice@example.com", "bob@example.com"]
    assert message.to[1] == Address("bob@example.com", "Bob")
    assert message.headers == [("x-reminder", "2")]
    assert [a.name for a in message.attachments] == ["invoice-4711.pdf", "invoice-4711.pdf"]
    assert message.attachments[0].effective_content_type == "application/pdf"
    assert message.attachments[0].content == b"%PDF-1.4 not really"

    receipt = mailer.send(message)
    m = only_message(emu)["message"]
    assert only_message(emu)["request_id"] == receipt.request_id
    assert m["body"] == {"contentType": "text", "content": "Please pay invoice 4711."}
    assert m["importance"] == "low"
    assert recipients(m, "toRecipients") == [(None, "alice@example.com"), ("Bob", "bob@example.com")]
    assert recipients(m, "ccRecipients") == [(None, "carol@example.com")]
    assert recipients(m, "bccRecipients") == [(None, "audit@contoso.test")]
    assert recipients(m, "replyTo") == [("Billing", "billing@contoso.test")]
    assert [a["contentType"] for a in m["attachments"]] == ["application/pdf", "application/pdf"]
    assert only_message(emu)["save_to_sent_items"] is True


def test_setting_html_replaces_text_and_properties_round_trip() -> None:
    message = Message(ALLOWED, to="a@example.com", text="plain")
    message.html = "<p>rich</p>"
    assert message.text is None and message.html == "<p>rich</p>"
    message.to = None
    assert message.to == []
    message.cc = ["x@example.com", ("Y", "y@example.com")]
    assert message.cc == [Address("x@example.com"), Address("y@example.com", "Y")]
    message.headers = [("x-a", "1")]
    assert message.headers == [("x-a", "1")]
    message.save_to_sent_items = False
    assert message.save_to_sent_items is False
    message.importance = None
    assert message.importance is None
    copy = Message(ALLOWED, cc=["x@example.com", ("Y", "y@example.com")], html="<p>rich</p>", headers={"x-a": "1"})
    copy.save_to_sent_items = False
    assert copy == message
    assert "x@example.com" in repr(message)


def test_address_parsing_and_display() -> None:
    a = Address.parse("Alice O'Brien <alice@example.com>")
    assert (a.name, a.address) == ("Alice O'Brien", "alice@example.com")
    assert str(a) == "Alice O'Brien <alice@example.com>"
    assert Address.parse("bob@example.com") == Address("bob@example.com")
    assert len({Address("x@example.com"), Address("x@example.com")}) == 1
    try:
        Address.parse("Alice <alice@example.com")
    except graphmailer.InvalidMessageError as e:
        assert e.field == "address"
    else:
        raise AssertionError("a broken address parsed")


def test_a_missing_attachment_file_names_it(mailer: graphmailer.Mailer, tmp_path: Path) -> None:
    missing = tmp_path / "missing.pdf"
    try:
        Attachment.from_path(missing)
    except graphmailer.InvalidMessageError as e:
        assert e.field == "attachments"
        assert "missing.pdf" in str(e)
    else:
        raise AssertionError("a missing file was attached")


def test_receipts_compare_and_show_their_ids(emu: Emulator, mailer: graphmailer.Mailer) -> None:
    first = mailer.send(sender=ALLOWED, to="a@example.com", text="1")
    second = mailer.send(sender=ALLOWED, to="a@example.com", text="2")
    assert first != second
    assert first == first
    assert first.client_request_id != second.client_request_id
    assert first.request_id is not None and first.request_id in repr(first)
    stored = emu.messages()
    assert [s["request_id"] for s in stored] == [first.request_id, second.request_id]
