"""Every case of tests/scenarios.json (the cases the Rust, Python, Node and
C suites all run), through the Python API against the emulator."""

from __future__ import annotations

import base64
import json
from typing import Any, Union

import pytest

import graphmailer
from graphmailer.testing import Emulator

from .conftest import ROOT, SECRET

CASES: list[dict[str, Any]] = json.loads((ROOT / "tests" / "scenarios.json").read_text("utf-8"))["cases"]


def address(value: Union[str, dict[str, str]]) -> Union[str, tuple[str, str]]:
    if isinstance(value, str):
        return value
    return (value["name"], value["address"])


def attachment(spec: dict[str, Any]) -> graphmailer.Attachment:
    if "content_base64" in spec:
        content = base64.b64decode(spec["content_base64"])
    else:
        content = str(spec.get("content", "")).encode()
    return graphmailer.Attachment(
        spec["name"],
        content,
        content_type=spec.get("content_type"),
        inline=spec.get("inline"),
        content_id=spec.get("content_id"),
    )


def at(value: Any, path: str) -> Any:
    """Follows a dotted path (``message.toRecipients.0.emailAddress.address``)."""
    for key in path.split("."):
        value = value[int(key)] if isinstance(value, list) else value[key]
    return value


def test_the_shared_file_has_every_case() -> None:
    assert len(CASES) >= 20
    assert len({c["name"] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_scenario(emu: Emulator, case: dict[str, Any]) -> None:
    config = case.get("config", {})
    mailer = emu.mailer(max_attempts=1, **config)
    m = case["message"]
    expect = case["expect"]
    try:
        receipt = mailer.send(
            sender=m["from"],
            to=[address(a) for a in m.get("to", [])],
            cc=[address(a) for a in m.get("cc", [])],
            bcc=[address(a) for a in m.get("bcc", [])],
            reply_to=[address(a) for a in m.get("reply_to", [])],
            subject=m.get("subject"),
            text=m.get("text"),
            html=m.get("html"),
            importance=m.get("importance"),
            save_to_sent_items=m.get("save_to_sent_items"),
            headers=[tuple(h) for h in m.get("headers", [])],
            attachments=[attachment(a) for a in m.get("attachments", [])],
        )
    except graphmailer.GraphMailerError as error:
        assert "error" in expect, f"unexpected failure: {error}"
        assert error.kind == expect["error"], str(error)
        kind_class = {name: cls for name, cls, _, _ in graphmailer.ERROR_KINDS}[expect["error"]]
        assert type(error).__name__ == kind_class
        if "code" in expect:
            assert error.code == expect["code"], str(error)
        if "field" in expect:
            assert error.field == expect["field"], str(error)
        for word in expect.get("hint_contains", []):
            assert error.hint is not None and word in error.hint, f"hint {error.hint!r} lacks {word!r}"
        assert SECRET not in str(error) and SECRET not in repr(error)
        assert emu.messages() == []
    else:
        assert expect.get("ok") is True, f"expected {expect.get('error')}, but it was sent"
        stored = emu.messages()
        assert len(stored) == 1
        assert stored[0]["request_id"] == receipt.request_id
        for path, want in expect["stored"].items():
            assert at(stored[0], path) == want, path
    if "token_requests" in expect:
        assert emu.counters()["token_requests"] == expect["token_requests"]
        assert mailer.token_requests == expect["token_requests"]
