"""Benchmark: what ``import graphmailer`` costs, and sends per second through
the emulator from Python against the same loop in plain Rust.

    python bench/bench.py [--count 2000] [--concurrency 16] [--release]

One emulator process serves both runs. Python sends ``count`` mails as
erp@contoso.test with ``concurrency`` in flight three ways (``send_async``
where each finished send starts the next, as the Rust loop does; ``send`` from
a pool of threads; and the idiomatic coroutine-per-send under an
``asyncio.Semaphore``), after one send outside the clock for the token;
Rust runs ``cargo run -p graphmailer --example send_throughput`` with the same
figures. Build the package with ``maturin develop --release`` and pass
``--release`` so both sides are optimised builds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import graphmailer
from graphmailer.testing import Emulator

ROOT = Path(__file__).resolve().parents[2]
SENDER = "erp@contoso.test"


def in_process_import_ms() -> float:
    """Median time of ``import graphmailer`` measured inside 7 fresh interpreters, in ms."""
    code = "import time; t = time.perf_counter(); import graphmailer; print((time.perf_counter() - t) * 1000)"
    runs = [
        float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout)
        for _ in range(7)
    ]
    return statistics.median(runs)


async def python_async(mailer: graphmailer.Mailer, count: int, concurrency: int) -> float:
    """``send_async`` with ``concurrency`` in flight, each finished send
    starting the next: the Python twin of the Rust loop (a permit per send),
    so only the binding is measured, not asyncio's own scaffolding."""
    loop = asyncio.get_running_loop()
    all_done: asyncio.Future[None] = loop.create_future()
    started = finished = 0

    def start() -> None:
        nonlocal started
        started += 1
        mailer.send_async(sender=SENDER, to="bench@example.com", subject="throughput", text="x").add_done_callback(done)

    def done(send: asyncio.Future[graphmailer.SendReceipt]) -> None:
        nonlocal finished
        finished += 1
        if send.exception() is not None and not all_done.done():
            all_done.set_exception(send.exception())  # type: ignore[arg-type]
        elif started < count:
            start()
        elif finished == count and not all_done.done():
            all_done.set_result(None)

    began = time.perf_counter()
    for _ in range(min(concurrency, count)):
        start()
    await all_done
    return time.perf_counter() - began


async def python_gather(mailer: graphmailer.Mailer, count: int, concurrency: int) -> float:
    """The idiomatic form: a coroutine per send under an ``asyncio.Semaphore``,
    all gathered. Its cost is mostly asyncio's own."""
    slots = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with slots:
            await mailer.send_async(sender=SENDER, to="bench@example.com", subject="throughput", text="x")

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    return time.perf_counter() - started


def python_sequential(mailer: graphmailer.Mailer, count: int) -> float:
    """``send`` in a plain loop, one at a time: the binding's cost per send with
    no Python concurrency machinery around it."""
    started = time.perf_counter()
    for _ in range(count):
        mailer.send(sender=SENDER, to="bench@example.com", subject="throughput", text="x")
    return time.perf_counter() - started


def python_threads(mailer: graphmailer.Mailer, count: int, concurrency: int) -> float:
    def one(_: int) -> None:
        mailer.send(sender=SENDER, to="bench@example.com", subject="throughput", text="x")

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(count)))
    return time.perf_counter() - started


def rust(emu: Emulator, count: int, concurrency: int, release: bool) -> dict[str, float]:
    command = ["cargo", "run", "--quiet", "-p", "graphmailer", "--example", "send_throughput"]
    if release:
        command.insert(2, "--release")
    command += ["--", "--count", str(count), "--concurrency", str(concurrency)]
    env = {**os.environ, **emu.environment()}
    env.setdefault("CARGO_BUILD_TARGET", "x86_64-unknown-linux-gnu")
    out = subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="graphmailer Python binding benchmark")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians are reported")
    parser.add_argument("--release", action="store_true", help="run the Rust side and the emulator as release builds")
    parser.add_argument("--emulator", help="path of graphmailer-emulator (default: the workspace's build)")
    args = parser.parse_args()

    import_ms = in_process_import_ms()
    print(f"import graphmailer: {import_ms:.1f} ms (median of 7 fresh interpreters)")

    target = os.environ.get("CARGO_BUILD_TARGET", "x86_64-unknown-linux-gnu")
    binary = (
        args.emulator
        or os.environ.get("GRAPHMAILER_EMULATOR")
        or str(ROOT / "target" / target / ("release" if args.release else "debug") / "graphmailer-emulator")
    )
    rates: dict[str, list[float]] = {name: [] for name in ("rust", "async", "threads", "gather", "rust1", "sequential")}
    with Emulator(binary) as emu:
        # Room for every run: the default budget is Graph's 10,000 per 10 minutes.
        emu.update_settings(rate_limit_requests=1_000_000)
        mailer = emu.mailer()
        mailer.send(sender=SENDER, to="bench@example.com", subject="warm-up", text="x")
        # Alternate the three, so a machine busy with something else slows all alike.
        for _ in range(args.rounds):
            emu.clear_messages()
            rates["rust"].append(rust(emu, args.count, args.concurrency, args.release)["sends_per_sec"])
            emu.clear_messages()
            rates["async"].append(args.count / asyncio.run(python_async(mailer, args.count, args.concurrency)))
            emu.clear_messages()
            rates["threads"].append(args.count / python_threads(mailer, args.count, args.concurrency))
            emu.clear_messages()
            rates["gather"].append(args.count / asyncio.run(python_gather(mailer, args.count, args.concurrency)))
            emu.clear_messages()
            rates["rust1"].append(rust(emu, args.count, 1, args.release)["sends_per_sec"])
            emu.clear_messages()
            rates["sequential"].append(args.count / python_sequential(mailer, args.count))

    median = {name: statistics.median(values) for name, values in rates.items()}

    def runs(name: str) -> str:
        return ", ".join(f"{v:.0f}" for v in rates[name])

    print(f"sends/sec, {args.count} mails, {args.concurrency} in flight, one emulator, median of {args.rounds} rounds:")
    print(f"  Rust (send_throughput example): {median['rust']:8.1f}   [{runs('rust')}]")
    for name, label in (
        ("async", "Python send_async, callbacks:  "),
        ("threads", "Python send, threads:          "),
        ("gather", "Python Semaphore + gather:     "),
    ):
        ratio = median[name] / median["rust"]
        print(f"  {label} {median[name]:8.1f}   ratio {ratio:.3f}   [{runs(name)}]")
    sequential_ratio = median["sequential"] / median["rust1"]
    print(f"one at a time (concurrency 1), median of {args.rounds} rounds:")
    print(f"  Rust (send_throughput example): {median['rust1']:8.1f}   [{runs('rust1')}]")
    print(
        f"  Python send, plain loop:         {median['sequential']:8.1f}   "
        f"ratio {sequential_ratio:.3f}   [{runs('sequential')}]"
    )
    summary = {
        "count": args.count,
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "import_ms": round(import_ms, 1),
        "rust_sends_per_sec": round(median["rust"], 1),
        "python_async_sends_per_sec": round(median["async"], 1),
        "python_threads_sends_per_sec": round(median["threads"], 1),
        "python_gather_sends_per_sec": round(median["gather"], 1),
        "async_ratio": round(median["async"] / median["rust"], 3),
        "threads_ratio": round(median["threads"] / median["rust"], 3),
        "gather_ratio": round(median["gather"] / median["rust"], 3),
        "rust_sequential_sends_per_sec": round(median["rust1"], 1),
        "python_sequential_sends_per_sec": round(median["sequential"], 1),
        "sequential_ratio": round(sequential_ratio, 3),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
