"""Certificate credentials: loading from PEM and PKCS#12, the errors that
name the setting, no key in any text, and a send with a certificate."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import graphmailer
from graphmailer.testing import Emulator

from .conftest import ALLOWED, CLIENT, TENANT

PASSWORD = "pfx-Pa55word"

pytestmark = pytest.mark.skipif(
    shutil.which("openssl") is None, reason="needs the openssl command to make certificates"
)


@dataclass
class Files:
    cert: Path
    key: Path
    encrypted_key: Path
    bundle: Path
    pfx: Path
    other_key: Path
    thumbprint: str


def openssl(*args: str) -> str:
    return subprocess.run(["openssl", *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    d = tmp_path_factory.mktemp("certs")
    cert, key = d / "cert.pem", d / "key.pem"
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(key),
        "-out",
        str(cert),
        "-days",
        "2",
        "-subj",
        "/CN=graphmailer python tests",
    )
    encrypted = d / "key-encrypted.pem"
    openssl(
        "pkcs8", "-topk8", "-in", str(key), "-out", str(encrypted), "-passout", f"pass:{PASSWORD}", "-v2", "aes-256-cbc"
    )
    bundle = d / "bundle.pem"
    bundle.write_text(cert.read_text() + key.read_text())
    pfx = d / "cert.pfx"
    openssl("pkcs12", "-export", "-in", str(cert), "-inkey", str(key), "-out", str(pfx), "-passout", f"pass:{PASSWORD}")
    other_key = d / "other.pem"
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(other_key))
    fingerprint = openssl("x509", "-in", str(cert), "-noout", "-fingerprint", "-sha1")
    thumbprint = fingerprint.split("=", 1)[1].strip().replace(":", "")
    return Files(cert, key, encrypted, bundle, pfx, other_key, thumbprint)


def test_every_form_loads_the_same_certificate(files: Files) -> None:
    forms = [
        graphmailer.ClientCertificate.from_path(files.bundle),
        graphmailer.ClientCertificate.from_path(str(files.pfx), PASSWORD),
        graphmailer.ClientCertificate.from_pem(files.cert.read_text(), files.key.read_bytes()),
        graphmailer.ClientCertificate.from_pem(
            files.cert.read_bytes(), files.encrypted_key.read_text(), password=PASSWORD
        ),
        graphmailer.ClientCertificate.from_pkcs12(files.pfx.read_bytes(), PASSWORD),
    ]
    assert {c.thumbprint for c in forms} == {files.thumbprint}
    assert len({c.thumbprint_sha256 for c in forms}) == 1
    assert len(forms[0].thumbprint_sha256) == 64


def test_no_key_in_any_text(files: Files) -> None:
    cert = graphmailer.ClientCertificate.from_path(files.bundle)
    key_body = "".join(files.key.read_text().splitlines()[1:-1])
    assert repr(cert) == f"ClientCertificate(thumbprint='{files.thumbprint}')"
    mailer = graphmailer.Mailer(tenant_id=TENANT, client_id=CLIENT, client_certificate=cert)
    assert mailer.credential == "certificate"
    for text in (repr(cert), repr(mailer), str(dir(cert))):
        assert key_body[:40] not in text
        assert "PRIVATE" not in text


def test_loading_errors_name_the_setting(files: Files, tmp_path: Path) -> None:
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: graphmailer.ClientCertificate.from_path(tmp_path / "missing.pem"), "AZURE_CLIENT_CERTIFICATE_PATH"),
        (lambda: graphmailer.ClientCertificate.from_path(files.pfx, "wrong"), "AZURE_CLIENT_CERTIFICATE_PATH"),
        (
            lambda: graphmailer.ClientCertificate.from_pkcs12(files.pfx.read_bytes(), "wrong"),
            "AZURE_CLIENT_CERTIFICATE_PATH",
        ),
        (
            lambda: graphmailer.ClientCertificate.from_pem(files.cert.read_text(), files.encrypted_key.read_text()),
            "AZURE_CLIENT_CERTIFICATE_PASSWORD",
        ),
        (
            lambda: graphmailer.ClientCertificate.from_pem(
                files.cert.read_text(), files.encrypted_key.read_text(), password="wrong"
            ),
            "AZURE_CLIENT_CERTIFICATE_PASSWORD",
        ),
        (
            lambda: graphmailer.ClientCertificate.from_pem(files.cert.read_text(), files.other_key.read_text()),
            "AZURE_CLIENT_CERTIFICATE_PATH",
        ),
        (lambda: graphmailer.ClientCertificate.from_pem(files.key.read_text()), "AZURE_CLIENT_CERTIFICATE_PATH"),
    ]
    for load, field in cases:
        with pytest.raises(graphmailer.ConfigError) as caught:
            load()
        assert caught.value.field == field, str(caught.value)
        assert PASSWORD not in str(caught.value)
    with pytest.raises(graphmailer.ConfigError, match="does not belong"):
        graphmailer.ClientCertificate.from_pem(files.cert.read_text(), files.other_key.read_text())


def test_the_environment_names_a_certificate(files: Files, monkeypatch: pytest.MonkeyPatch, emu: Emulator) -> None:
    for name, value in emu.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AZURE_CLIENT_SECRET")
    monkeypatch.setenv("AZURE_CLIENT_CERTIFICATE_PATH", str(files.pfx))
    monkeypatch.setenv("AZURE_CLIENT_CERTIFICATE_PASSWORD", PASSWORD)
    assert graphmailer.Mailer.from_env().credential == "certificate"
    monkeypatch.setenv("AZURE_CLIENT_CERTIFICATE_PASSWORD", "wrong")
    with pytest.raises(graphmailer.ConfigError) as caught:
        graphmailer.Mailer.from_env()
    assert caught.value.field == "AZURE_CLIENT_CERTIFICATE_PATH"


def test_an_unregistered_certificate_is_refused_by_the_identity_platform(files: Files, emu: Emulator) -> None:
    cert = graphmailer.ClientCertificate.from_path(files.bundle)
    mailer = emu.mailer(client_certificate=cert, max_attempts=1)
    with pytest.raises(graphmailer.AuthenticationError) as caught:
        mailer.send(sender=ALLOWED, to="a@example.com", text="signed")
    assert caught.value.code == "AADSTS700027", str(caught.value)
    assert caught.value.hint
    assert emu.messages() == []


@pytest.mark.parametrize("form", ["pem", "pfx"])
def test_a_registered_certificate_sends(files: Files, emu: Emulator, form: str) -> None:
    emu.register_certificate(files.cert.read_text())
    if form == "pem":
        cert = graphmailer.ClientCertificate.from_pem(
            files.cert.read_text(), files.encrypted_key.read_text(), password=PASSWORD
        )
    else:
        cert = graphmailer.ClientCertificate.from_pkcs12(files.pfx.read_bytes(), PASSWORD)
    mailer = emu.mailer(client_certificate=cert)
    assert mailer.credential == "certificate"
    receipt = mailer.send(sender=ALLOWED, to="a@example.com", subject="signed", text="with a certificate")
    mailer.send(sender=ALLOWED, to="b@example.com", text="same token")
    stored = emu.messages()
    assert [s["request_id"] for s in stored][:1] == [receipt.request_id]
    assert emu.counters()["tokens_issued"] == 1
    d = mailer.diagnose()
    assert d.ok and d.credential == "certificate"
    assert "secret-credential" not in [f.id for f in d.findings]
