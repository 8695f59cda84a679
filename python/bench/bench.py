"""Benchmark: what ``import graphmailer`` costs, and sends per second through
the emulator from Python against the same loop in plain Rust.

    python bench/bench.py [--count 2000] [--concurrency 16] [--release]

One emulator process serves both runs. Python sends ``count`` mails as
erp@contoso.test with ``concurrency`` in flight (asyncio and ``send_async``;
also threads and ``send``), after one send outside the clock for the token;
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


def import_time(runs: int = 7) -> tuple[float, float]:
    """Median wall time of ``import graphmailer`` in a fresh interpreter, and
    of a bare interpreter start, in milliseconds."""

    def wall(code: str) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return (time.perf_counter() - started) * 1000

    bare = statistics.median(wall("pass") for _ in range(runs))
    with_import = statistics.median(wall("import graphmailer") for _ in range(runs))
    return with_import - bare, bare


def in_process_import_ms() -> float:
    code = "import time; t = time.perf_counter(); import graphmailer; print((time.perf_counter() - t) * 1000)"
    runs = [
        float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout)
        for _ in range(7)
    ]
    return statistics.median(runs)


async def python_async(mailer: graphmailer.Mailer, count: int, concurrency: int) -> float:
    slots = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with slots:
            await mailer.send_async(sender=SENDER, to="bench@example.com", subject="throughput", text="x")

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
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
    parser.add_argument("--release", action="store_true", help="run the Rust side as a release build")
    parser.add_argument("--emulator", help="path of graphmailer-emulator (default: the workspace's debug build)")
    args = parser.parse_args()

    extra_ms, bare_ms = import_time()
    print(
        f"import graphmailer: {in_process_import_ms():.1f} ms in-process "
        f"({extra_ms:.1f} ms over a bare interpreter start of {bare_ms:.1f} ms)"
    )

    target = os.environ.get("CARGO_BUILD_TARGET", "x86_64-unknown-linux-gnu")
    binary = (
        args.emulator
        or os.environ.get("GRAPHMAILER_EMULATOR")
        or str(ROOT / "target" / target / ("release" if args.release else "debug") / "graphmailer-emulator")
    )
    with Emulator(binary) as emu:
        # Room for every run: the default budget is Graph's 10,000 per 10 minutes.
        emu.update_settings(rate_limit_requests=1_000_000)
        mailer = emu.mailer()
        mailer.send(sender=SENDER, to="bench@example.com", subject="warm-up", text="x")

        async_secs = asyncio.run(python_async(mailer, args.count, args.concurrency))
        thread_secs = python_threads(mailer, args.count, args.concurrency)
        emu.clear_messages()
        rust_result = rust(emu, args.count, args.concurrency, args.release)

    py_async = args.count / async_secs
    py_threads = args.count / thread_secs
    rust_rate = rust_result["sends_per_sec"]
    print(f"sends/sec, {args.count} mails, {args.concurrency} in flight, one emulator:")
    print(f"  Rust (send_throughput example):   {rust_rate:8.1f}")
    print(f"  Python asyncio (send_async):      {py_async:8.1f}  ratio {py_async / rust_rate:.3f}")
    print(f"  Python threads (send):            {py_threads:8.1f}  ratio {py_threads / rust_rate:.3f}")
    print(
        json.dumps(
            {
                "count": args.count,
                "concurrency": args.concurrency,
                "import_ms": round(extra_ms, 1),
                "rust_sends_per_sec": round(rust_rate, 1),
                "python_async_sends_per_sec": round(py_async, 1),
                "python_threads_sends_per_sec": round(py_threads, 1),
                "async_ratio": round(py_async / rust_rate, 3),
                "threads_ratio": round(py_threads / rust_rate, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
