"""Wrong Python types raise TypeError, impossible values ValueError, and both
name the argument; nothing is sent."""

from __future__ import annotations

import datetime
import subprocess
from typing import Any

import pytest

import graphmailer
from graphmailer.testing import Emulator

from .conftest import ALLOWED, CLIENT, SECRET, TENANT


def send_with(mailer: graphmailer.Mailer, **changes: Any) -> None:
    keywords: dict[str, Any] = {"sender": ALLOWED, "to": "a@example.com", "subject": "s", "text": "t"}
    keywords.update(changes)
    mailer.send(**keywords)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"to": 5}, ["to:", "got int"]),
        ({"to": ["a@example.com", 7]}, ["to[1]:", "got int"]),
        ({"to": ("Name", "a@example.com", "extra")}, ["to:", "3 items"]),
        ({"cc": {"a@example.com": "A"}}, ["cc:", "got dict"]),
        ({"bcc": [("Name", 5)]}, ["bcc[0][1]:", "str"]),
        ({"reply_to": b"a@example.com"}, ["reply_to:", "got bytes"]),
        ({"sender": 42}, ["sender:", "got int"]),
        ({"subject": 3.5}, ["subject:", "got float"]),
        ({"text": b"bytes"}, ["text:", "got bytes"]),
        ({"importance": 1}, ["importance:", "got int"]),
        ({"attachments": 5}, ["attachments:", "got int"]),
        ({"attachments": [b"raw"]}, ["attachments[0]:", "got bytes"]),
        ({"headers": "x-a: 1"}, ["headers:", "got str"]),
        ({"headers": [("x-a", 1)]}, ["headers[0] value:", "got int"]),
        ({"headers": ["x-a"]}, ["headers[0]:", "pair"]),
        ({"save_to_sent_items": 1}, ["save_to_sent_items:", "bool"]),
        ({"save_to_sent_items": "no"}, ["save_to_sent_items:", "bool"]),
    ],
)
def test_wrong_types_name_the_argument(
    emu: Emulator, mailer: graphmailer.Mailer, changes: dict[str, Any], words: list[str]
) -> None:
    with pytest.raises((TypeError, ValueError)) as caught:
        send_with(mailer, **changes)
    for word in words:
        assert word in str(caught.value)
    assert emu.counters()["send_requests"] == 0


def test_text_and_html_together_is_refused(mailer: graphmailer.Mailer) -> None:
    with pytest.raises(ValueError, match="text, html"):
        send_with(mailer, html="<p>x</p>")


def test_a_message_and_keywords_together_is_refused(mailer: graphmailer.Mailer) -> None:
    message = graphmailer.Message(ALLOWED, to="a@example.com", text="x")
    with pytest.raises(TypeError, match="not both"):
        mailer.send(message, subject="also")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="message: expected a Message, got str"):
        mailer.send("erp@contoso.test")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="missing the sender"):
        mailer.send(to="a@example.com")  # type: ignore[call-overload]
    with pytest.raises(TypeError):
        mailer.send(sender=ALLOWED, to="a@example.com", colour="red")  # type: ignore[call-overload]


def test_attachment_arguments() -> None:
    with pytest.raises(TypeError, match=r"content: expected bytes .*encode"):
        graphmailer.Attachment("a.txt", "text")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="inline: expected bool"):
        graphmailer.Attachment("a.txt", b"x", inline="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="path: expected a path"):
        graphmailer.Attachment.from_path(42)  # type: ignore[arg-type]
    assert graphmailer.Attachment("a.txt", memoryview(b"abc")).content == b"abc"


@pytest.mark.parametrize(
    ("setting", "value", "error", "words"),
    [
        ("tenant_id", 5, TypeError, "tenant_id: expected str, got int"),
        ("client_secret", b"secret", TypeError, "client_secret: expected str, got bytes"),
        ("allowed_senders", 5, TypeError, "allowed_senders: expected a list of str"),
        ("timeout", "30s", TypeError, "timeout: expected seconds"),
        ("timeout", -1, ValueError, "timeout: -1"),
        ("connect_timeout", True, TypeError, "connect_timeout: expected seconds"),
        ("max_attempts", -1, ValueError, "max_attempts: -1 is not a whole number"),
        ("max_attempts", 2.5, TypeError, "max_attempts: expected int, got float"),
        ("max_concurrent_per_mailbox", "4", TypeError, "max_concurrent_per_mailbox: expected int"),
        ("ca_bundle_path", 3, TypeError, "ca_bundle_path: expected a path"),
        ("ca_bundle_pem", 3, TypeError, "ca_bundle_pem: expected str or bytes"),
        ("client_certificate", "cert.pem", TypeError, "client_certificate: expected a ClientCertificate"),
    ],
)
def test_mailer_arguments_name_themselves(setting: str, value: Any, error: type[Exception], words: str) -> None:
    options: dict[str, Any] = {"tenant_id": TENANT, "client_id": CLIENT, "client_secret": SECRET}
    if setting == "client_certificate":
        del options["client_secret"]
    options[setting] = value
    with pytest.raises(error) as caught:
        graphmailer.Mailer(**options)
    assert words in str(caught.value)
    assert SECRET not in str(caught.value)


def test_a_secret_and_a_certificate_together_is_refused(tmp_path: Any) -> None:
    # A certificate of the wrong type is a TypeError before anything else.
    with pytest.raises(TypeError, match="client_certificate"):
        graphmailer.Mailer(
            tenant_id=TENANT,
            client_id=CLIENT,
            client_secret=SECRET,
            client_certificate=object(),  # type: ignore[arg-type]
        )
    # Core holds the rule of one credential and names both settings.
    key = tmp_path / "key.pem"
    cert = tmp_path / "cert.pem"
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    command += ["-subj", "/CN=graphmailer test", "-keyout", str(key), "-out", str(cert)]
    subprocess.run(command, check=True, capture_output=True)
    certificate = graphmailer.ClientCertificate.from_pem(cert.read_text(), key.read_bytes())
    with pytest.raises(graphmailer.ConfigError, match="not both") as caught:
        graphmailer.Mailer(
            tenant_id=TENANT,
            client_id=CLIENT,
            client_secret=SECRET,
            client_certificate=certificate,
        )
    assert "AZURE_CLIENT_CERTIFICATE_PATH" in str(caught.value)
    assert SECRET not in str(caught.value)


def test_settings_out_of_range_are_config_errors() -> None:
    base: dict[str, Any] = {"tenant_id": TENANT, "client_id": CLIENT, "client_secret": SECRET}
    with pytest.raises(graphmailer.ConfigError) as caught:
        graphmailer.Mailer(**base, max_attempts=11)
    assert caught.value.field == "GRAPHMAILER_MAX_ATTEMPTS"
    with pytest.raises(graphmailer.ConfigError) as caught:
        graphmailer.Mailer(**base, max_concurrent_per_mailbox=5)
    assert caught.value.field == "GRAPHMAILER_MAX_CONCURRENT_PER_MAILBOX"
    with pytest.raises(graphmailer.ConfigError) as caught:
        graphmailer.Mailer(**base, graph_endpoint="http://graph.example.com")
    assert caught.value.field == "GRAPHMAILER_GRAPH_ENDPOINT"


def test_durations_take_seconds_or_timedelta() -> None:
    mailer = graphmailer.Mailer(
        tenant_id=TENANT,
        client_id=CLIENT,
        client_secret=SECRET,
        timeout=datetime.timedelta(seconds=5),
        connect_timeout=2,
        retry_deadline=datetime.timedelta(minutes=2),
        max_attempts=2,
    )
    assert mailer.retry_deadline == 120.0
    assert mailer.max_attempts == 2


def test_verify_and_policy_arguments(mailer: graphmailer.Mailer) -> None:
    with pytest.raises(TypeError, match="allowed: expected a list of str"):
        mailer.verify(allowed=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="progress: expected a callable"):
        mailer.verify_until(ALLOWED, wait=1, progress=5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="interval: must be more than 0"):
        mailer.verify_until(ALLOWED, wait=1, interval=0)
    with pytest.raises(ValueError, match="style: 'ps' is not one of"):
        graphmailer.policy_script(CLIENT, [ALLOWED], style="ps")


def stub_message_parts() -> list[str]:
    """The keys of the stub's ``_MessageParts``, in order."""
    import ast
    from pathlib import Path

    stub = Path(graphmailer.__file__).with_name("_graphmailer.pyi")
    for node in ast.parse(stub.read_text("utf-8")).body:
        if isinstance(node, ast.ClassDef) and node.name == "_MessageParts":
            return [
                item.target.id
                for item in node.body
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
            ]
    raise AssertionError("the stub has no _MessageParts")


def test_the_stub_declares_the_message_keywords_of_the_extension() -> None:
    from graphmailer import _graphmailer

    assert stub_message_parts() == list(_graphmailer._MESSAGE_KEYWORDS)
    assert "subject" in _graphmailer._MESSAGE_KEYWORDS


@pytest.mark.parametrize("keyword", graphmailer._graphmailer._MESSAGE_KEYWORDS)
def test_every_message_keyword_reaches_its_check_in_every_method(
    emu: Emulator, mailer: graphmailer.Mailer, keyword: str
) -> None:
    import asyncio

    wrong: dict[str, Any] = {keyword: object()}
    with pytest.raises((TypeError, ValueError), match=f"^{keyword}"):
        graphmailer.Message(ALLOWED, **wrong)
    with pytest.raises((TypeError, ValueError), match=f"^{keyword}"):
        mailer.send(sender=ALLOWED, **wrong)

    async def send_async() -> None:
        await mailer.send_async(sender=ALLOWED, **wrong)

    with pytest.raises((TypeError, ValueError), match=f"^{keyword}"):
        asyncio.run(send_async())
    # None is the same as leaving the keyword out.
    given: dict[str, Any] = {"to": "a@example.com", keyword: None}
    assert graphmailer.Message(ALLOWED, **given).sender == ALLOWED
    assert emu.counters()["send_requests"] == 0


@pytest.mark.parametrize("method", ["Message", "Mailer.send", "Mailer.send_async"])
def test_an_unknown_keyword_is_a_type_error_naming_it(mailer: graphmailer.Mailer, method: str) -> None:
    # Typed as Any: the stub already refuses the keyword before run time.
    message_class: Any = graphmailer.Message
    untyped: Any = mailer
    calls = {
        "Message": lambda: message_class(ALLOWED, colour="red"),
        "Mailer.send": lambda: untyped.send(sender=ALLOWED, colour="red"),
        "Mailer.send_async": lambda: untyped.send_async(sender=ALLOWED, colour="red"),
    }
    with pytest.raises(TypeError, match=rf"^{method}\(\) got an unexpected keyword argument 'colour'$"):
        calls[method]()
