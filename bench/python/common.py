"""What every Python client of the benchmark shares: its arguments, the body
and mailboxes, and the one JSON line it prints (see bench/README.md)."""

from __future__ import annotations

# Only what every client needs: the cold start counts each import (json and
# typing cost more than the interpreter's own start), and a client that
# needs json imports it itself.
import os
import resource
import sys
import time

IN_FLIGHT = 16
MAILBOXES = [f"bench{i}@contoso.test" for i in range(1, 5)]
BODY: dict[str, object] = {
    "message": {
        "subject": "bench",
        "body": {"contentType": "Text", "content": "x"},
        "toRecipients": [{"emailAddress": {"address": "bench@example.com"}}],
    },
    "saveToSentItems": True,
}
SCOPE = "https://graph.microsoft.com/.default"


def body_bytes() -> bytes:
    """``BODY`` as the bytes graphmailer writes."""
    import json

    return json.dumps(BODY, separators=(",", ":")).encode()


def args() -> tuple[str, int]:
    mode = sys.argv[1] if len(sys.argv) > 1 else "serial"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    if mode not in ("cold", "serial", "parallel"):
        sys.exit(f"unknown mode {mode}; usage: {sys.argv[0]} cold|serial|parallel [COUNT]")
    return mode, count


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        sys.exit(f"{name} is not set")
    return value


def cpu_us() -> int:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return int((u.ru_utime + u.ru_stime) * 1_000_000)


def accepted_now() -> None:
    print(f'{{"first_accepted_ns": {time.monotonic_ns()}}}', flush=True)


class Clock:
    """Wall and CPU time from its creation to ``report``."""

    def __init__(self) -> None:
        self.cpu = cpu_us()
        self.start = time.monotonic()

    def report(self, count: int) -> None:
        seconds = time.monotonic() - self.start
        print(f'{{"count": {count}, "seconds": {seconds!r}, "cpu_us": {cpu_us() - self.cpu}}}', flush=True)
