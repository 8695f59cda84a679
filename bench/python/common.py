"""What every Python client of the benchmark shares: its arguments, the body
and mailboxes, and the one JSON line it prints (see bench/README.md)."""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from typing import Any

IN_FLIGHT = 16
MAILBOXES = [f"bench{i}@contoso.test" for i in range(1, 5)]
BODY: dict[str, Any] = {
    "message": {
        "subject": "bench",
        "body": {"contentType": "Text", "content": "x"},
        "toRecipients": [{"emailAddress": {"address": "bench@example.com"}}],
    },
    "saveToSentItems": True,
}
BODY_BYTES = json.dumps(BODY, separators=(",", ":")).encode()
SCOPE = "https://graph.microsoft.com/.default"


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
    print(json.dumps({"first_accepted_ns": time.monotonic_ns()}), flush=True)


class Clock:
    """Wall and CPU time from its creation to ``report``."""

    def __init__(self) -> None:
        self.cpu = cpu_us()
        self.start = time.monotonic()

    def report(self, count: int) -> None:
        seconds = time.monotonic() - self.start
        print(json.dumps({"count": count, "seconds": seconds, "cpu_us": cpu_us() - self.cpu}), flush=True)
