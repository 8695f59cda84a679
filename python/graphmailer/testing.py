"""Test your own code offline against the graphmailer emulator.

The emulator is a local stand-in for Microsoft's identity platform and
Graph's ``sendMail``: a real HTTP(S) server that issues tokens, enforces app
roles and access policies like Exchange Online, throttles or fails on
request, and keeps every mail it accepted for your tests to read back::

    from graphmailer.testing import Emulator

    def test_invoice_mail() -> None:
        with Emulator() as emu:
            mailer = emu.mailer()
            send_invoice(mailer, 4711)          # your code
            [stored] = emu.messages()
            assert stored["message"]["subject"] == "Invoice 4711"

``Emulator()`` starts the ``graphmailer-emulator`` program (built with
``cargo build -p graphmailer-emulator``, or ``graphmailer emulator`` of the
command-line tool) found through ``binary=``, the ``GRAPHMAILER_EMULATOR``
environment variable or ``PATH``, and stops it on ``stop()`` or at the end of
the ``with`` block. Its built-in directory has an app that may send as
``emu.allowed_sender`` but not as ``emu.denied_sender``.

This module is not imported by ``import graphmailer``; it uses only the
standard library.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from types import TracebackType
from typing import Any, Callable, Dict, List, Optional, Sequence, Type, Union

from ._graphmailer import Mailer

__all__ = ["Emulator", "EmulatorNotFound"]


class EmulatorNotFound(RuntimeError):
    """The emulator program could not be found or did not start."""


def _find_binary(binary: Union[str, os.PathLike[str], None]) -> List[str]:
    if binary is not None:
        return [os.fspath(binary)]
    from_env = os.environ.get("GRAPHMAILER_EMULATOR")
    if from_env:
        return [from_env]
    found = shutil.which("graphmailer-emulator")
    if found:
        return [found]
    cli = shutil.which("graphmailer")
    if cli:
        return [cli, "emulator"]
    raise EmulatorNotFound(
        "graphmailer-emulator not found: build it with 'cargo build -p graphmailer-emulator' "
        "and pass binary=..., set GRAPHMAILER_EMULATOR, or put it on PATH"
    )


class Emulator:
    """A running graphmailer emulator, started as a child process.

    ``http=True`` (the default) serves plain HTTP on loopback, which
    graphmailer allows for loopback only; ``http=False`` serves HTTPS with a
    certificate authority of its own, which ``mailer()`` trusts through
    ``ca_bundle_path``. The banner's values are attributes: ``url``,
    ``tenant_id``, ``client_id``, ``client_secret``, ``allowed_sender``,
    ``denied_sender``, ``tenant_domain`` and ``ca_file`` (HTTPS only).
    """

    url: str
    tenant_id: str
    client_id: str
    client_secret: str
    allowed_sender: str
    denied_sender: str
    tenant_domain: str
    ca_file: Optional[str]

    def __init__(
        self,
        binary: Union[str, os.PathLike[str], None] = None,
        *,
        http: bool = True,
        port: int = 0,
        config: Union[str, os.PathLike[str], None] = None,
        start_timeout: float = 30.0,
    ) -> None:
        command = [*_find_binary(binary), "--port", str(port)]
        if http:
            command.append("--http")
        if config is not None:
            command += ["--config", os.fspath(config)]
        self._command: Sequence[str] = command
        self._start_timeout = start_timeout
        self._process: Optional[subprocess.Popen[str]] = None
        self._ssl: Optional[ssl.SSLContext] = None
        self.start()

    def start(self) -> None:
        """Starts the process and reads its banner (done by the constructor)."""
        if self._process is not None:
            return
        try:
            process = subprocess.Popen(
                self._command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                text=True,
            )
        except OSError as e:
            raise EmulatorNotFound(f"cannot start {self._command[0]}: {e}") from e
        self._process = process
        line: List[str] = []
        reader = threading.Thread(target=lambda: line.append(process.stdout.readline() if process.stdout else ""))
        reader.daemon = True
        reader.start()
        reader.join(self._start_timeout)
        if not line or not line[0].strip():
            self.stop()
            raise EmulatorNotFound(f"{self._command[0]} printed no banner within {self._start_timeout} s")
        try:
            banner: Dict[str, Any] = json.loads(line[0])
        except ValueError as e:
            self.stop()
            raise EmulatorNotFound(f"{self._command[0]} printed no JSON banner: {line[0]!r}") from e
        self.banner = banner
        self.url = str(banner["url"]).rstrip("/")
        self.tenant_id = str(banner["tenant_id"])
        self.client_id = str(banner["client_id"])
        self.client_secret = str(banner["client_secret"])
        self.allowed_sender = str(banner["allowed_sender"])
        self.denied_sender = str(banner["denied_sender"])
        self.tenant_domain = str(banner.get("tenant_domain", ""))
        ca_file = banner.get("ca_file")
        self.ca_file = str(ca_file) if ca_file else None
        if self.ca_file:
            self._ssl = ssl.create_default_context(cafile=self.ca_file)

    def stop(self) -> None:
        """Stops the process (SIGTERM, then SIGKILL after 5 s)."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Emulator(url={self.url!r})"

    def mailer(self, **settings: Any) -> Mailer:
        """A ``Mailer`` for the emulator's ERP app, pointed at this emulator;
        keywords override any setting (``client_secret=...``,
        ``allowed_senders=[...]``, ``max_attempts=1``, ...)."""
        options: Dict[str, Any] = {
            "tenant_id": self.tenant_id,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "authority_host": self.url,
            "graph_endpoint": self.url,
        }
        if self.ca_file:
            options["ca_bundle_path"] = self.ca_file
        options.update(settings)
        if "client_certificate" in settings:
            options.pop("client_secret", None)
        return Mailer(**options)

    def environment(self) -> Dict[str, str]:
        """The environment variables that point ``Mailer.from_env()`` at this emulator."""
        env = {
            "AZURE_TENANT_ID": self.tenant_id,
            "AZURE_CLIENT_ID": self.client_id,
            "AZURE_CLIENT_SECRET": self.client_secret,
            "AZURE_AUTHORITY_HOST": self.url,
            "GRAPHMAILER_GRAPH_ENDPOINT": self.url,
        }
        if self.ca_file:
            env["GRAPHMAILER_CA_BUNDLE"] = self.ca_file
        return env

    # The test API: JSON under {url}/_emulator/, no authentication.

    def call(self, method: str, path: str, body: Optional[Any] = None, timeout: float = 30.0) -> Any:
        """One request to the emulator's test API; returns the decoded JSON (or ``None``)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}/_emulator/{path}", data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=timeout, context=self._ssl) as response:
            text = response.read().decode()
        return json.loads(text) if text.strip() else None

    def messages(self) -> List[Dict[str, Any]]:
        """Every mail accepted so far: ``{"id", "mailbox", "app_id", "received_at",
        "save_to_sent_items", "request_id", "message"}``, where ``message`` is the
        Graph message object exactly as received."""
        result: List[Dict[str, Any]] = self.call("GET", "messages")["messages"]
        return result

    def wait_for_messages(self, count: int, timeout: float = 10.0) -> List[Dict[str, Any]]:
        """Waits until at least ``count`` mails were accepted, or ``timeout``
        seconds have passed; returns the mails stored by then (check the count)."""
        timeout_ms = int(timeout * 1000)
        reply = self._waited(f"messages/wait?count={count}&timeout_ms={timeout_ms}", timeout)
        result: List[Dict[str, Any]] = reply["messages"]
        return result

    def _waited(self, path: str, timeout: float) -> Any:
        """The answer of one of the test API's waits, whether what it waited
        for came (200) or the time ran out (408)."""
        try:
            return self.call("GET", path, timeout=timeout + 10)
        except urllib.error.HTTPError as e:
            if e.code != 408:
                raise
            return json.loads(e.read().decode())

    def clear_messages(self) -> None:
        """Forgets the mails accepted so far."""
        self.call("DELETE", "messages")

    def drafts(self) -> List[Dict[str, Any]]:
        """The drafts left in mailboxes by large sends in progress (or abandoned):
        ``{"id", "mailbox", "app_id", "subject", "size", "attachments",
        "upload_sessions"}``, attachments as names and sizes. A send that failed
        or was cancelled should leave none."""
        result: List[Dict[str, Any]] = self.call("GET", "drafts")["drafts"]
        return result

    def wait_for_drafts(
        self, until: Callable[[List[Dict[str, Any]]], bool], timeout: float = 10.0
    ) -> List[Dict[str, Any]]:
        """Waits, in the emulator, for the drafts to change until ``until(drafts)``
        holds or ``timeout`` seconds have passed; returns the drafts by then
        (check them): ``emu.wait_for_drafts(lambda drafts: not drafts)`` waits for
        a cancelled send's draft to be deleted."""
        deadline = time.monotonic() + timeout
        since = ""
        while True:
            reply = self._waited(f"drafts/wait{since}", timeout)
            drafts: List[Dict[str, Any]] = reply["drafts"]
            left = deadline - time.monotonic()
            if until(drafts) or left <= 0:
                return drafts
            since = f"?version={reply['version']}&timeout_ms={max(1, int(left * 1000))}"

    def counters(self) -> Dict[str, int]:
        """``token_requests``, ``tokens_issued``, ``token_errors``, ``send_requests``,
        ``sends_accepted``, ``throttled``, ``faults_injected``, ``max_in_flight``, and
        for large messages ``drafts_created``, ``drafts_deleted``,
        ``upload_sessions_created``, ``upload_requests``, ``upload_chunks``,
        ``upload_bytes``."""
        result: Dict[str, int] = self.call("GET", "counters")
        return result

    def wait_for_counter(self, name: str, at_least: int = 1, timeout: float = 10.0) -> Dict[str, int]:
        """Waits until counter ``name`` is at least ``at_least``, or ``timeout``
        seconds have passed; returns the counters by then (check the value).
        ``emu.wait_for_counter("send_requests")`` returns while a send held by
        ``delay_ms`` still waits for its answer."""
        timeout_ms = int(timeout * 1000)
        path = f"counters/wait?name={urllib.parse.quote(name)}&at_least={at_least}&timeout_ms={timeout_ms}"
        result: Dict[str, int] = self._waited(path, timeout)
        return result

    def reset(self) -> None:
        """Back to the state at start: no mails, counters at zero, no faults, default settings."""
        self.call("POST", "reset")

    def set_faults(self, plan: Dict[str, Any]) -> None:
        """Replaces the fault plan, e.g. ``{"send": [{"status": 503}], "delay_ms": 200}``;
        ``"upload"`` faults and ``"upload_delay_ms"`` act on the chunks of large
        attachments (``{"upload": [{"status": 503, "nth": 2}]}`` fails the second)."""
        self.call("PUT", "faults", plan)

    def settings(self) -> Dict[str, Any]:
        """The current settings (``token_lifetime_secs``, ``mailbox_concurrency``, ...)."""
        result: Dict[str, Any] = self.call("GET", "settings")
        return result

    def update_settings(self, **settings: Any) -> Dict[str, Any]:
        """Changes some settings; returns them all."""
        result: Dict[str, Any] = self.call("PUT", "settings", settings)
        return result

    def register_certificate(
        self, certificate_pem: Union[str, bytes], client_id: Optional[str] = None
    ) -> Dict[str, Any]:
        """Registers a certificate (PEM) on an app (default: the ERP app), as an
        administrator uploads one under "Certificates & secrets", so a
        ``ClientCertificate`` with its key can sign in. ``reset()`` forgets it."""
        pem = certificate_pem.decode() if isinstance(certificate_pem, bytes) else certificate_pem
        app = client_id or self.client_id
        result: Dict[str, Any] = self.call("POST", f"apps/{app}/certificates", {"certificate": pem})
        return result

    def revoke_tokens(self) -> None:
        """Makes every token issued so far invalid, as a revoked consent would."""
        self.call("POST", "tokens/revoke", {})
