"""The GIL is released while sends wait: threads sharing one mailer send in
parallel and share one token; asyncio gathers many sends; Ctrl-C and
cancellation stop a send that is waiting."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import graphmailer
from graphmailer.testing import Emulator

from .conftest import ALLOWED, BILLING_CLIENT, BILLING_SECRET, SHARED, ticks_while

DELAY_MS = 300


def test_eight_threads_share_one_mailer_and_one_token(emu: Emulator) -> None:
    mailer = emu.mailer()
    emu.set_faults({"delay_ms": DELAY_MS})
    barrier = threading.Barrier(8)

    def one(i: int) -> graphmailer.SendReceipt:
        barrier.wait()
        # Two mailboxes, so Graph's limit of 4 in flight per mailbox is not the bound.
        sender = ALLOWED if i % 2 else SHARED
        return mailer.send(sender=sender, to=f"user{i}@example.com", subject=str(i), text="parallel")

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        receipts = list(pool.map(one, range(8)))
    elapsed = time.monotonic() - started

    assert len({r.request_id for r in receipts}) == 8
    assert len(emu.messages()) == 8
    counters = emu.counters()
    assert counters["tokens_issued"] == 1, counters
    assert counters["token_requests"] == 1, counters
    assert mailer.token_requests == 1
    # Serial sends would take 8 x 300 ms; with the GIL released they overlap.
    assert counters["max_in_flight"] >= 4, counters
    assert elapsed < 8 * DELAY_MS / 1000 * 0.6, elapsed


def test_python_threads_run_while_a_send_waits(emu: Emulator) -> None:
    mailer = emu.mailer()
    mailer.send(sender=ALLOWED, to="warm@example.com", text="token first")
    emu.set_faults({"delay_ms": 500})
    ticks = ticks_while(lambda: mailer.send(sender=ALLOWED, to="a@example.com", text="slow"))
    # The other thread kept running for the 500 ms the send waited.
    assert ticks > 50, ticks


def test_asyncio_gather_of_fifty_sends(emu: Emulator) -> None:
    mailer = emu.mailer()

    async def main() -> list[graphmailer.SendReceipt]:
        return await asyncio.gather(
            *(
                mailer.send_async(sender=ALLOWED, to=f"user{i}@example.com", subject=f"n{i}", text="async")
                for i in range(50)
            )
        )

    receipts = asyncio.run(main())
    assert len(receipts) == 50
    assert all(isinstance(r, graphmailer.SendReceipt) for r in receipts)
    stored = emu.messages()
    assert sorted(s["message"]["subject"] for s in stored) == sorted(f"n{i}" for i in range(50))
    assert emu.counters()["tokens_issued"] == 1


def test_send_async_from_many_event_loops_in_turn_and_at_once(emu: Emulator) -> None:
    mailer = emu.mailer()

    async def send(subject: str) -> graphmailer.SendReceipt:
        return await mailer.send_async(sender=ALLOWED, to="a@example.com", subject=subject, text="x")

    def open_descriptors() -> int:
        return len(os.listdir("/proc/self/fd"))

    # One loop after another, as a program calling asyncio.run per job does:
    # each loop's results reach it, and what graphmailer keeps for a loop
    # goes once the loop is closed, so descriptors do not grow with loops.
    asyncio.run(send("warm"))
    before = open_descriptors()
    for i in range(20):
        asyncio.run(send(f"turn{i}"))
    assert open_descriptors() - before <= 2, (before, open_descriptors())

    # Loops dropped without close(): graphmailer does not keep them alive.
    dropped = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)  # "unclosed event loop"
        for i in range(5):
            loop = asyncio.new_event_loop()
            loop.run_until_complete(send(f"unclosed{i}"))
            dropped.append(weakref.ref(loop))
            del loop
        gc.collect()
    assert [ref() for ref in dropped] == [None] * 5
    asyncio.run(send("after"))
    assert open_descriptors() - before <= 2, (before, open_descriptors())

    # Loops on four threads at once: each gets its own results.
    def on_a_thread(n: int) -> list[str]:
        async def main() -> list[str]:
            receipts = await asyncio.gather(*(send(f"thread{n}-{i}") for i in range(5)))
            return [r.client_request_id for r in receipts]

        return asyncio.run(main())

    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = [i for batch in pool.map(on_a_thread, range(4)) for i in batch]
    assert len(set(ids)) == 20
    subjects = sorted(s["message"]["subject"] for s in emu.messages())
    expected = (
        ["warm", "after"]
        + [f"turn{i}" for i in range(20)]
        + [f"unclosed{i}" for i in range(5)]
        + [f"thread{n}-{i}" for n in range(4) for i in range(5)]
    )
    assert subjects == sorted(expected)


def test_async_errors_raise_their_class(emu: Emulator) -> None:
    mailer = emu.mailer(max_attempts=1)

    async def main() -> list[object]:
        results = await asyncio.gather(
            mailer.send_async(sender="ceo@contoso.test", to="a@example.com", text="x"),
            mailer.send_async(graphmailer.Message(ALLOWED, to="a@example.com", text="ok")),
            return_exceptions=True,
        )
        return list(results)

    denied, ok = asyncio.run(main())
    assert isinstance(denied, graphmailer.AccessDeniedError)
    assert denied.code == "ErrorAccessDenied"
    assert isinstance(ok, graphmailer.SendReceipt)


def test_the_event_loop_is_not_blocked(emu: Emulator) -> None:
    mailer = emu.mailer()
    emu.set_faults({"delay_ms": 400})

    async def main() -> int:
        ticks = 0
        send = asyncio.ensure_future(mailer.send_async(sender=ALLOWED, to="a@example.com", text="x"))
        while not send.done():
            ticks += 1
            await asyncio.sleep(0.01)
        await send
        return ticks

    assert asyncio.run(main()) >= 10


def test_cancelling_an_async_send(emu: Emulator) -> None:
    mailer = emu.mailer()
    mailer.send(sender=ALLOWED, to="warm@example.com", text="token first")
    emu.set_faults({"delay_ms": 5000})

    async def main() -> float:
        started = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(mailer.send_async(sender=ALLOWED, to="a@example.com", text="x"), 0.3)
        return time.monotonic() - started

    assert asyncio.run(main()) < 2


def test_a_send_cancelled_while_graph_answers_warns_that_it_may_have_been_sent(emu: Emulator) -> None:
    # Graph holds its answer: the request is with Microsoft meanwhile, and
    # sendMail has no idempotency key, so sending again could send it twice.
    mailer = emu.mailer()
    emu.set_faults({"delay_ms": 30_000})
    seen: list[logging.LogRecord] = []
    warned = threading.Event()

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "cancelled after its request reached Microsoft" in record.getMessage():
                seen.append(record)
                warned.set()

    async def main() -> None:
        send = asyncio.ensure_future(mailer.send_async(sender=ALLOWED, to="a@example.com", text="held"))
        loop = asyncio.get_running_loop()
        counters = await loop.run_in_executor(None, emu.wait_for_counter, "send_requests")
        assert counters["send_requests"] == 1, counters
        send.cancel()
        with pytest.raises(asyncio.CancelledError):
            await send

    logger = logging.getLogger("graphmailer")
    collect = Collect()
    logger.addHandler(collect)
    try:
        asyncio.run(main())
        # The Rust side is dropped on graphmailer's thread, after the cancel.
        assert warned.wait(10), "no warning that the mail may have been sent"
    finally:
        logger.removeHandler(collect)
    assert seen[0].levelno == logging.WARNING
    assert "may have been sent. Look in erp@contoso.test's Sent Items" in seen[0].getMessage()


def test_send_async_outside_an_event_loop_says_so(mailer: graphmailer.Mailer) -> None:
    with pytest.raises(RuntimeError, match="running asyncio event loop"):
        mailer.send_async(sender=ALLOWED, to="a@example.com", text="x")


CTRL_C_CHILD = textwrap.dedent(
    """
    import signal, sys, time
    # A job a shell starts in the background inherits SIGINT as ignored; a
    # program a person runs has Python's handler, which is what is tested.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    emu_url, tenant, client, secret = sys.argv[1:5]
    import graphmailer
    mailer = graphmailer.Mailer(tenant_id=tenant, client_id=client, client_secret=secret,
                                authority_host=emu_url, graph_endpoint=emu_url)
    print("sending", flush=True)
    started = time.monotonic()
    try:
        mailer.send(sender="erp@contoso.test", to="a@example.com", text="slow")
        print("sent", flush=True)
    except KeyboardInterrupt as e:
        print(f"interrupted after {time.monotonic() - started:.2f}", flush=True)
        print("notes:", getattr(e, "__notes__", []), flush=True)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT")
def test_ctrl_c_interrupts_a_blocking_send(emu: Emulator) -> None:
    emu.set_faults({"delay_ms": 20000})
    child = subprocess.Popen(
        [sys.executable, "-c", CTRL_C_CHILD, emu.url, emu.tenant_id, emu.client_id, emu.client_secret],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "sending"
        # The request is with Graph, and the send has waited a while.
        emu.wait_for_counter("send_requests")
        time.sleep(0.5)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=10)
    finally:
        child.kill()
    assert out.startswith("interrupted after"), out
    waited = float(out.splitlines()[0].split()[-1])
    # The exception itself says so too (PEP 678), for code that catches it.
    notes = out.splitlines()[1]
    assert "may have been sent" in notes and "client-request-id" in notes, notes
    assert 0.4 < waited < 2.0, waited
    # Ended cleanly (it crashed when the warning raced the program's end),
    # having said that the mail may have gone.
    assert child.returncode == 0, err[-800:]
    assert "cancelled after its request reached Microsoft" in err, err[-800:]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_is_told_instead_of_hanging(emu: Emulator) -> None:
    mailer = emu.mailer()
    mailer.send(sender=ALLOWED, to="a@example.com", text="before the fork")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what happened through the pipe, then leave at once
        try:
            os.close(read)
            try:
                mailer.send(sender=ALLOWED, to="a@example.com", text="after the fork")
                outcome = "sent"
            except RuntimeError as e:
                outcome = str(e)
            os.write(write, outcome.encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        outcome = pipe.read()
    os.waitpid(pid, 0)
    assert "fork" in outcome and "after the fork" in outcome, outcome
    # The parent is unaffected.
    mailer.send(sender=ALLOWED, to="a@example.com", text="parent after the fork")
    assert len(emu.messages()) == 2


def test_a_cancelled_send_never_reaches_graph(emu: Emulator) -> None:
    # The token endpoint answers 503 asking for 2 s; the send is cancelled while it waits.
    emu.set_faults({"token": [{"status": 503, "retry_after_secs": 2}]})
    mailer = emu.mailer(max_attempts=3)

    async def main() -> None:
        send = asyncio.ensure_future(mailer.send_async(sender=ALLOWED, to="a@example.com", text="cancelled"))
        await asyncio.sleep(0.3)
        send.cancel()
        with pytest.raises(asyncio.CancelledError):
            await send
        # Longer than the retry would have waited.
        await asyncio.sleep(2.5)

    asyncio.run(main())
    counters = emu.counters()
    assert counters["token_requests"] == 1, counters
    assert counters["send_requests"] == 0, counters
    assert emu.messages() == []


EXIT_AFTER_SEND_ASYNC_CHILD = textwrap.dedent(
    """
    import asyncio, sys
    import graphmailer

    async def main():
        mailer = graphmailer.Mailer.from_env()
        await mailer.send_async(sender=sys.argv[1], to="a@example.com", text="x")

    asyncio.run(main())
    print("sent", flush=True)
    """
)


EXIT_AFTER_CANCEL_CHILD = textwrap.dedent(
    """
    import asyncio, sys, urllib.request
    import graphmailer

    async def main():
        mailer = graphmailer.Mailer.from_env()
        send = asyncio.ensure_future(mailer.send_async(sender=sys.argv[1], to="a@example.com", text="x"))
        held = sys.argv[2] + "/_emulator/counters/wait?name=send_requests&at_least=" + sys.argv[3]
        await asyncio.get_running_loop().run_in_executor(None, urllib.request.urlopen, held)
        send.cancel()
        try:
            await send
        except asyncio.CancelledError:
            pass

    asyncio.run(main())
    print("cancelled", flush=True)
    """
)


def test_a_program_ends_cleanly_right_after_cancelling_a_send(emu: Emulator) -> None:
    # The cancelled send's future is dropped on graphmailer's thread, which
    # logs that the mail may have gone, while the program ends: that thread
    # must not be inside Python (or waiting for it) when the interpreter
    # finalizes.
    emu.set_faults({"delay_ms": 30_000})
    runs = 8
    outcomes = []
    for i in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", EXIT_AFTER_CANCEL_CHILD, ALLOWED, emu.url, str(i + 1)],
            env={**os.environ, **emu.environment()},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        outcomes.append((done.returncode, done.stdout, done.stderr[-300:] if done.returncode else ""))
    assert outcomes == [(0, "cancelled\n", "")] * runs


def test_a_program_ends_cleanly_right_after_send_async(emu: Emulator) -> None:
    # When a thread of graphmailer's was still inside Python as the program
    # ended, finalization ended it under the Rust frames: SIGABRT (or
    # SIGSEGV) after the mail had gone out, in about half of these processes
    # while a completer thread delivered the results. Results now reach the
    # loop through a socket it watches, and no thread of ours takes the GIL.
    runs = 8
    outcomes = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", EXIT_AFTER_SEND_ASYNC_CHILD, ALLOWED],
            env={**os.environ, **emu.environment()},
            capture_output=True,
            text=True,
            check=False,
        )
        outcomes.append((done.returncode, done.stdout, done.stderr[-300:]))
    assert outcomes == [(0, "sent\n", "")] * runs
    assert len(emu.messages()) == runs


ONE_CPU_CHILD = textwrap.dedent(
    """
    import asyncio, os, sys, threading
    # Before graphmailer starts its threads: a process allowed one CPU gets
    # one worker thread.
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    import graphmailer

    sender, attachment = sys.argv[1], sys.argv[2]
    mailer = graphmailer.Mailer.from_env()
    notes = []

    def on_progress(p):
        # A blocking send from inside one of graphmailer's own threads.
        if p.finished:
            notes.append(mailer.send(sender=sender, to="ops@example.com", text="upload done").attempts)

    def small(i):
        mailer.send(sender=sender, to="a@example.com", text=f"thread {i}")

    threads = [threading.Thread(target=small, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    large = mailer.send(
        sender=sender, to="a@example.com", text="scan", attachments=[attachment], on_progress=on_progress
    )

    async def gathered():
        sends = (mailer.send_async(sender=sender, to="a@example.com", text=f"async {i}") for i in range(10))
        return await asyncio.gather(*sends)

    receipts = asyncio.run(gathered())
    for t in threads:
        t.join()
    print(len(os.sched_getaffinity(0)), large.attempts, notes, len(receipts), flush=True)
    """
)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs sched_setaffinity()")
def test_on_one_cpu_threads_asyncio_and_a_callback_that_sends_all_finish(emu: Emulator, tmp_path: Path) -> None:
    # On one CPU graphmailer runs one worker thread, and a progress callback
    # runs on it: a blocking send from the callback must not wait on the very
    # thread it holds.
    scan = tmp_path / "scan.bin"
    scan.write_bytes(os.urandom(6 * 1024 * 1024))
    env = {
        **os.environ,
        **emu.environment(),
        "AZURE_CLIENT_ID": BILLING_CLIENT,
        "AZURE_CLIENT_SECRET": BILLING_SECRET,
        "GRAPHMAILER_LARGE_MESSAGES": "true",
    }
    done = subprocess.run(
        [sys.executable, "-c", ONE_CPU_CHILD, ALLOWED, str(scan)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, "1 1 [1] 10\n"), done.stderr[-800:]
    assert len(emu.messages()) == 4 + 1 + 1 + 10
