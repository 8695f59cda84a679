"""Configuration from keywords, the environment and a file; HTTPS to an
emulator trusted through the CA bundle; what ``import graphmailer`` costs."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import graphmailer
from graphmailer.testing import Emulator

from .conftest import ALLOWED, CLIENT, SECRET, TENANT, emulator_binary

PYTHON_DIR = Path(__file__).resolve().parents[1]


def test_getters_show_the_configuration(emu: Emulator) -> None:
    mailer = emu.mailer(allowed_senders=["ERP@contoso.test", "@billing.contoso.test"], max_attempts=3)
    assert mailer.tenant_id == TENANT
    assert mailer.client_id == CLIENT
    assert mailer.credential == "client secret"
    assert mailer.cloud == "global"
    assert mailer.authority_host == emu.url
    assert mailer.graph_endpoint == emu.url
    assert mailer.token_url == f"{emu.url}/{TENANT}/oauth2/v2.0/token"
    assert mailer.scope == "https://graph.microsoft.com/.default"
    assert mailer.allowed_senders == ["erp@contoso.test", "@billing.contoso.test"]
    assert mailer.max_attempts == 3
    assert mailer.token_requests == 0


def test_a_cloud_sets_its_endpoints() -> None:
    mailer = graphmailer.Mailer(tenant_id=TENANT, client_id=CLIENT, client_secret=SECRET, cloud="GCC-High")
    assert mailer.cloud == "usgov"
    assert mailer.authority_host == "https://login.microsoftonline.us"
    assert mailer.graph_endpoint == "https://graph.microsoft.us"
    assert mailer.scope == "https://graph.microsoft.us/.default"


def test_from_env(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in emu.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GRAPHMAILER_ALLOWED_SENDERS", "erp@contoso.test, billing@contoso.test")
    mailer = graphmailer.Mailer.from_env()
    assert mailer.allowed_senders == ["erp@contoso.test", "billing@contoso.test"]
    mailer.send(sender=ALLOWED, to="a@example.com", text="from the environment")
    assert len(emu.messages()) == 1
    monkeypatch.setenv("AZURE_CLIENT_ID", "nope")
    with pytest.raises(graphmailer.ConfigError) as caught:
        graphmailer.Mailer.from_env()
    assert caught.value.field == "AZURE_CLIENT_ID"


def test_from_file_takes_the_secret_from_the_environment(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_AUTHORITY_HOST", "GRAPHMAILER_GRAPH_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", emu.client_secret)
    config = tmp_path / "graphmailer.toml"
    config.write_text(
        f'tenant_id = "{emu.tenant_id}"\nclient_id = "{emu.client_id}"\n'
        f'authority_host = "{emu.url}"\ngraph_endpoint = "{emu.url}"\nallowed_senders = ["{ALLOWED}"]\n'
    )
    mailer = graphmailer.Mailer.from_file(config)
    assert mailer.allowed_senders == [ALLOWED]
    mailer.send(sender=ALLOWED, to="a@example.com", text="from a file")
    assert len(emu.messages()) == 1
    with pytest.raises(graphmailer.ConfigError):
        graphmailer.Mailer.from_file(tmp_path / "missing.toml")


def test_a_file_with_the_secret_that_others_can_read_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "graphmailer.toml"
    config.write_text(f'tenant_id = "{TENANT}"\nclient_id = "{CLIENT}"\nclient_secret = "{SECRET}"\n')
    config.chmod(0o644)
    with pytest.raises(graphmailer.ConfigError) as caught:
        graphmailer.Mailer.from_file(config)
    assert caught.value.field == "config file"
    assert str(config) in str(caught.value) and "0644" in str(caught.value)
    assert caught.value.hint is not None and f"chmod 640 {config}" in caught.value.hint
    assert SECRET not in str(caught.value)
    config.chmod(0o640)
    assert graphmailer.Mailer.from_file(config).allowed_senders == []


@pytest.fixture(scope="module")
def https_emulator() -> Iterator[Emulator]:
    with Emulator(emulator_binary(), http=False) as emu:
        yield emu


def test_https_with_the_emulators_ca(https_emulator: Emulator) -> None:
    emu = https_emulator
    assert emu.url.startswith("https://") and emu.ca_file
    emu.reset()
    emu.mailer().send(sender=ALLOWED, to="a@example.com", text="over TLS")
    pem = Path(emu.ca_file).read_text()
    emu.mailer(ca_bundle_path=None, ca_bundle_pem=pem).send(sender=ALLOWED, to="b@example.com", text="PEM in code")
    assert [m["message"]["toRecipients"][0]["emailAddress"]["address"] for m in emu.messages()] == [
        "a@example.com",
        "b@example.com",
    ]


def test_https_without_trusting_the_ca_fails_clearly(https_emulator: Emulator) -> None:
    mailer = graphmailer.Mailer(
        tenant_id=https_emulator.tenant_id,
        client_id=https_emulator.client_id,
        client_secret=https_emulator.client_secret,
        authority_host=https_emulator.url,
        graph_endpoint=https_emulator.url,
        max_attempts=1,
    )
    with pytest.raises(graphmailer.GraphMailerError) as caught:
        mailer.send(sender=ALLOWED, to="a@example.com", text="x")
    assert caught.value.hint is not None and "GRAPHMAILER_CA_BUNDLE" in caught.value.hint


def test_import_is_cheap_and_starts_no_thread() -> None:
    script = (
        "import os, time\n"
        "before = len(os.listdir('/proc/self/task'))\n"
        "t = time.perf_counter()\n"
        "import graphmailer\n"
        "spent = time.perf_counter() - t\n"
        "after = len(os.listdir('/proc/self/task'))\n"
        "print(before, after, spent)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout.split()
    before, after, spent = int(out[0]), int(out[1]), float(out[2])
    assert after == before, "importing graphmailer started threads"
    assert spent < 0.5, spent
    assert (
        "logging"
        not in subprocess.run(
            [sys.executable, "-c", "import sys, graphmailer; print(' '.join(sys.modules))"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
    )


def test_the_example_sends_through_the_emulator(emu: Emulator) -> None:
    env = {**os.environ, **emu.environment()}
    out = subprocess.run(
        [sys.executable, str(PYTHON_DIR / "examples" / "send.py"), "--sender", ALLOWED, "--to", "a@example.com"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    [stored] = emu.messages()
    assert stored["request_id"] in out.stdout
    denied = subprocess.run(
        [
            sys.executable,
            str(PYTHON_DIR / "examples" / "send.py"),
            "--sender",
            "ceo@contoso.test",
            "--to",
            "a@example.com",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert denied.returncode == 1
    assert "ErrorAccessDenied" in denied.stderr and "hint:" in denied.stderr


def test_large_messages_and_default_sender(emu: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    plain = emu.mailer()
    assert plain.large_messages is False and plain.default_sender is None
    mailer = emu.mailer(large_messages=True, default_sender=" billing@contoso.test ")
    assert mailer.large_messages is True
    assert mailer.default_sender == "billing@contoso.test"

    for name, value in emu.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GRAPHMAILER_LARGE_MESSAGES", "yes")
    monkeypatch.setenv("GRAPHMAILER_DEFAULT_SENDER", "billing@contoso.test")
    from_env = graphmailer.Mailer.from_env()
    assert (from_env.large_messages, from_env.default_sender) == (True, "billing@contoso.test")
    monkeypatch.setenv("GRAPHMAILER_LARGE_MESSAGES", "perhaps")
    with pytest.raises(graphmailer.ConfigError) as caught:
        graphmailer.Mailer.from_env()
    assert caught.value.field == "GRAPHMAILER_LARGE_MESSAGES"
    monkeypatch.delenv("GRAPHMAILER_LARGE_MESSAGES")
    monkeypatch.delenv("GRAPHMAILER_DEFAULT_SENDER")

    config = tmp_path / "graphmailer.toml"
    config.write_text('large_messages = true\ndefault_sender = "erp@contoso.test"\n')
    from_file = graphmailer.Mailer.from_file(config)
    assert (from_file.large_messages, from_file.default_sender) == (True, ALLOWED)

    with pytest.raises(TypeError, match="large_messages: expected bool"):
        emu.mailer(large_messages="yes")
    with pytest.raises(TypeError, match="default_sender: expected str"):
        emu.mailer(default_sender=["erp@contoso.test"])
    with pytest.raises(graphmailer.ConfigError) as caught:
        emu.mailer(default_sender="root")
    assert caught.value.field == "GRAPHMAILER_DEFAULT_SENDER"
