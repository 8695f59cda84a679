"""Shared fixtures: one emulator process (the real ``graphmailer-emulator``
binary, plain HTTP on loopback) for the whole run, reset before each test
that uses it."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import graphmailer
from graphmailer.testing import Emulator

ROOT = Path(__file__).resolve().parents[2]
TARGET = os.environ.get("CARGO_BUILD_TARGET", "x86_64-unknown-linux-gnu")

TENANT = "7f3c2a9e-4b1d-4e8a-9c6f-2d5e8b1a0c37"
CLIENT = "3b9e6f2a-8c4d-4a1e-b7f5-0d2c9e8a6b14"
SECRET = "Emu8Q~erpSecretValue.0123456789abcdefghij"
SECRET_ID = "5a1f3c7e-2b9d-4e6f-8a0c-1d3b5e7f9a2c"
EXPIRED_SECRET = "Old8Q~expiredSecretValue.0123456789abcdef"
REPORTING_CLIENT = "a6d4c2b0-9e8f-4a7b-8c6d-5e4f3a2b1c0d"
REPORTING_SECRET = "Rep8Q~reportingSecretValue.0123456789abcd"
# The built-in "Contoso Billing" app: Mail.Send and Mail.ReadWrite (the
# large-message path), restricted to the same mailboxes as the ERP app.
BILLING_CLIENT = "b7c8d9e0-f1a2-4b3c-8d4e-5f6a7b8c9d01"
BILLING_SECRET = "Bil8Q~billingSecretValue.0123456789abcdef"
ALLOWED = "erp@contoso.test"
SHARED = "billing@contoso.test"
DENIED = "ceo@contoso.test"


def ticks_while(action: Callable[[], object]) -> int:
    """How many times another Python thread got to run (about once a
    millisecond) while ``action`` blocked: near zero if it held the GIL."""
    ticks = 0
    done = threading.Event()

    def count() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.001)

    counter = threading.Thread(target=count)
    counter.start()
    try:
        action()
    finally:
        done.set()
        counter.join()
    return ticks


def emulator_binary() -> Path:
    """The emulator built by ``cargo build -p graphmailer-emulator``."""
    from_env = os.environ.get("GRAPHMAILER_EMULATOR")
    if from_env:
        return Path(from_env)
    for candidate in (
        ROOT / "target" / TARGET / "debug" / "graphmailer-emulator",
        ROOT / "target" / "debug" / "graphmailer-emulator",
    ):
        if candidate.exists():
            return candidate
    raise RuntimeError(
        "the emulator is not built: run 'cargo build -p graphmailer-emulator' in the workspace (python/test.sh does)"
    )


@pytest.fixture(scope="session")
def emulator_process() -> Iterator[Emulator]:
    with Emulator(emulator_binary()) as emu:
        yield emu


@pytest.fixture
def emu(emulator_process: Emulator) -> Emulator:
    """The emulator, reset: no mails, counters at zero, no faults."""
    emulator_process.reset()
    return emulator_process


@pytest.fixture
def mailer(emu: Emulator) -> graphmailer.Mailer:
    """A mailer for the ERP app, one attempt per send (no retries)."""
    return emu.mailer(max_attempts=1)


@pytest.fixture
def billing(emu: Emulator) -> graphmailer.Mailer:
    """A mailer for the Billing app (Mail.ReadWrite) with large messages on."""
    return emu.mailer(client_id=BILLING_CLIENT, client_secret=BILLING_SECRET, large_messages=True)
