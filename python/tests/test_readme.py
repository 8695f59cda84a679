"""The Python example in the project's README runs against the emulator, as
written, with the environment it reads pointed at the emulator. The README's
mailboxes are in contoso.com; the emulator's tenant uses contoso.test, the
one substitution made."""

from __future__ import annotations

import base64
import contextlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from graphmailer.testing import Emulator

ROOT = Path(__file__).resolve().parents[2]
PDF = b"%PDF-1.4\n% invoice 4711\n" + bytes(range(256))


def readme_python_blocks() -> list[str]:
    readme = (ROOT / "README.md").read_text("utf-8")
    return [block.split("\n```", 1)[0] for block in readme.split("```python\n")[1:]]


@contextlib.contextmanager
def inside(directory: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(before)


def run_example(emu: Emulator, source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs ``source`` with the emulator's environment in a directory holding
    the invoice it attaches; returns what it printed."""
    for name, value in emu.environment().items():
        monkeypatch.setenv(name, value)
    (tmp_path / "invoice-4711.pdf").write_bytes(PDF)
    printed = io.StringIO()
    with inside(tmp_path), contextlib.redirect_stdout(printed):
        exec(compile(source, "README.md", "exec"), {"__name__": "readme"})
    return printed.getvalue()


def test_the_readme_has_one_python_example() -> None:
    blocks = readme_python_blocks()
    assert len(blocks) == 1
    assert "mailer.send(" in blocks[0] and "erp@contoso.com" in blocks[0]


def test_the_readme_example_sends_the_invoice(emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = readme_python_blocks()[0].replace("contoso.com", "contoso.test")
    printed = run_example(emu, source, tmp_path, monkeypatch)
    assert printed == ""
    (stored,) = emu.wait_for_messages(1)
    assert stored["mailbox"] == "erp@contoso.test"
    message = stored["message"]
    assert message["subject"] == "Invoice 4711"
    assert message["toRecipients"] == [{"emailAddress": {"name": "Accounts Payable", "address": "ap@fabrikam.example"}}]
    assert message["body"]["contentType"].lower() == "html"
    (attachment,) = message["attachments"]
    assert attachment["name"] == "invoice-4711.pdf"
    assert base64.b64decode(attachment["contentBytes"]) == PDF


def test_the_readme_example_reports_a_refusal_with_its_hint(
    emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The emulator's ERP app may not send as the CEO: the example's except
    # branch prints the code, the request id and the hint.
    source = readme_python_blocks()[0].replace("erp@contoso.com", "ceo@contoso.test")
    assert source != readme_python_blocks()[0]
    printed = run_example(emu, source, tmp_path, monkeypatch)
    code, request_id, hint = printed.strip().split(" ", 2)
    assert code == "ErrorAccessDenied"
    assert len(request_id) == 36
    assert "ceo@contoso.test" in hint
    assert emu.messages() == []
