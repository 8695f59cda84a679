"""Runs every client of the benchmark against one fake Graph server and prints
one table. Started by run.sh, which builds the pieces and pins this process
(and so every client it starts) to one core and the server to the other.

    python run.py --url URL --ca-file FILE [--serial N] [--parallel N] [--cold-runs N] [--json FILE]

Each client is a program taking ``cold|serial|parallel [COUNT]`` that prints
one JSON line (bench/README.md has the contract). A client whose program or
package is missing, or that fails, shows "n/a" and the reason under the table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / os.environ.get(
    "CARGO_BUILD_TARGET", "x86_64-unknown-linux-gnu"
)
BUILD = HERE / "build"
VENV_PY = HERE / ".venv" / "bin" / "python"
RUST = TARGET / "release" / "graphmailer-rust"


def clients() -> list[tuple[str, list[str], list[str], list[Path]]]:
    """(name, command before the mode, arguments after it, files it needs)."""
    py, node = str(VENV_PY), "node"
    rust = str(RUST)
    return [
        ("libcurl, hand-written C", [str(BUILD / "curl_client")], [], [BUILD / "curl_client"]),
        ("graphmailer Rust, #[tokio::main]", [rust], ["--runtime", "tokio-main"], [RUST]),
        ("graphmailer Rust, 1 worker", [rust], ["--runtime", "one-worker"], [RUST]),
        ("graphmailer Rust, current thread", [rust], ["--runtime", "current-thread"], [RUST]),
        ("graphmailer Rust, blocking facade", [rust], ["--runtime", "blocking"], [RUST]),
        ("graphmailer Rust, facade with block_on", [rust], ["--runtime", "blocking-block-on"], [RUST]),
        ("graphmailer C", [str(BUILD / "graphmailer_c_client")], [], [BUILD / "graphmailer_c_client"]),
        (
            "graphmailer Python, send (threads)",
            [py, str(HERE / "python" / "graphmailer_client.py")],
            ["--api", "send"],
            [VENV_PY],
        ),
        (
            "graphmailer Python, send_async",
            [py, str(HERE / "python" / "graphmailer_client.py")],
            ["--api", "send_async"],
            [VENV_PY],
        ),
        (
            "graphmailer Node",
            [node, str(HERE / "node" / "graphmailer_client.mjs")],
            [],
            [ROOT / "node" / "graphmailer.linux-x64-gnu.node"],
        ),
        ("requests, hand-written", [py, str(HERE / "python" / "requests_client.py")], [], [VENV_PY]),
        (
            "msgraph-sdk + azure-identity",
            [py, str(HERE / "python" / "msgraph_client.py")],
            [],
            [VENV_PY],
        ),
        (
            "msal-node + fetch",
            [node, str(HERE / "node" / "msal_client.mjs")],
            [],
            [ROOT / "tests" / "clients" / "node_modules" / "@azure" / "msal-node"],
        ),
    ]


def stats(url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{url}/_stats", context=_context) as r:  # noqa: S310 (the fake on loopback)
        result: dict[str, int] = json.load(r)
        return result


def run(command: list[str], env: dict[str, str], rss: bool = False) -> tuple[dict[str, Any], int, int]:
    """Runs one client process: its JSON line, its start time on the
    monotonic clock and (with ``rss``) its peak RSS in KiB.

    The peak RSS comes from GNU time, not from this process's own wait: a
    child forked from this interpreter starts its high-water mark at the
    interpreter's size, which would hide every client smaller than it."""
    rss_file = BUILD / "rss.txt"
    if rss:
        command = ["/usr/bin/time", "-f", "%M", "-o", str(rss_file)] + command
    started = time.monotonic_ns()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, _ = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    out = process.stdout.read() if process.stdout else ""
    err = process.stderr.read() if process.stderr else ""
    if process.returncode != 0:
        raise RuntimeError(f"exit {process.returncode}: {err.strip()[-400:]}")
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"no JSON line; stderr: {err.strip()[-400:]}")
    peak = int(rss_file.read_text().split()[-1]) if rss else 0
    return json.loads(lines[-1]), started, peak


class Samples:
    """One client's runs so far."""

    def __init__(self, command: list[str], extra: list[str]) -> None:
        self.command, self.extra = command, extra
        self.colds: list[float] = []
        self.serials: list[dict[str, Any]] = []
        self.parallels: list[dict[str, Any]] = []
        self.rss = 0
        self.tokens = 0

    def cold(self, env: dict[str, str]) -> None:
        line, started, peak = run(self.command + ["cold", "1"] + self.extra, env)
        self.colds.append((line["first_accepted_ns"] - started) / 1e9)
        self.rss = max(self.rss, peak)

    def rates(self, env: dict[str, str], url: str, a: argparse.Namespace) -> None:
        line, _, peak = run(self.command + ["serial", str(a.serial)] + self.extra, env, rss=True)
        self.serials.append(line)
        self.rss = max(self.rss, peak)
        before = stats(url)["token_requests"]
        line, _, peak = run(self.command + ["parallel", str(a.parallel)] + self.extra, env, rss=True)
        self.tokens = max(self.tokens, stats(url)["token_requests"] - before)
        self.parallels.append(line)
        self.rss = max(self.rss, peak)

    def result(self) -> dict[str, Any]:
        # The best of several runs: the machine is shared, and a slower run
        # measures the neighbours, not the client.
        serial = min(self.serials, key=lambda r: r["seconds"])
        parallel = min(self.parallels, key=lambda r: r["seconds"])
        return {
            "cold_s": statistics.median(self.colds),
            "serial_per_s": serial["count"] / serial["seconds"],
            "parallel_per_s": parallel["count"] / parallel["seconds"],
            "rss_mb": self.rss / 1024,
            "cpu_us_serial": serial["cpu_us"] / serial["count"],
            "cpu_us_parallel": parallel["cpu_us"] / parallel["count"],
            "tokens_per_burst": self.tokens,
        }


def measure(
    clients: dict[str, Samples], env: dict[str, str], url: str, a: argparse.Namespace, notes: list[str]
) -> dict[str, Optional[dict[str, Any]]]:
    """Measures every client in rounds, each round running each client once:
    a slow patch of a shared machine then falls on all of them alike, where
    one client's runs after another's compared figures minutes apart."""
    failed: dict[str, str] = {}

    def each(what: str, step: Callable[[Samples], None]) -> None:
        for name, samples in clients.items():
            if name in failed:
                continue
            print(f"== {what}: {name}", file=sys.stderr, flush=True)
            try:
                step(samples)
            except Exception as e:  # noqa: BLE001 (one client's failure must not stop the table)
                failed[name] = str(e)

    for i in range(a.cold_runs):
        each(f"cold start {i + 1} of {a.cold_runs}", lambda s: s.cold(env))
    for i in range(a.repeats):
        each(f"round {i + 1} of {a.repeats}", lambda s: s.rates(env, url, a))
    results: dict[str, Optional[dict[str, Any]]] = {}
    for name, samples in clients.items():
        if name in failed:
            results[name] = None
            notes.append(f"{name}: n/a, {failed[name]}")
        else:
            results[name] = samples.result()
        print(f"   {name}: {results[name]}", file=sys.stderr, flush=True)
    return results


COLUMNS = [
    ("cold_s", "cold start", lambda v: f"{v:.3f} s"),
    ("serial_per_s", "one at a time", lambda v: f"{v:,.0f}/s"),
    ("parallel_per_s", "16 in flight, 4 mailboxes", lambda v: f"{v:,.0f}/s"),
    ("rss_mb", "peak RSS", lambda v: f"{v:.1f} MB"),
    ("cpu_us_serial", "CPU/send, 1 at a time", lambda v: f"{v:.0f} µs"),
    ("cpu_us_parallel", "CPU/send, 16 in flight", lambda v: f"{v:.0f} µs"),
    ("tokens_per_burst", "token requests per burst", lambda v: f"{v:.0f}"),
]


def cell(value: Optional[float], fmt: Any, curl: Optional[float], rust: Optional[float]) -> str:
    if value is None:
        return "n/a"
    ratios = [f"{value / ref:.2f}×" if ref else "n/a" for ref in (curl, rust)]
    return f"{fmt(value)} ({ratios[0]} / {ratios[1]})"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--ca-file", required=True)
    p.add_argument("--serial", type=int, default=2000)
    p.add_argument("--parallel", type=int, default=5000)
    p.add_argument("--cold-runs", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3, help="runs of each rate; the best counts")
    p.add_argument("--only", help="comma-separated substrings of client names to run")
    p.add_argument("--json", help="also write the figures to this file")
    a = p.parse_args()
    global _context
    import ssl

    _context = ssl.create_default_context(cafile=a.ca_file)
    env = {
        **os.environ,
        "AZURE_TENANT_ID": "00000000-0000-4000-8000-0000000000aa",
        "AZURE_CLIENT_ID": "00000000-0000-4000-8000-0000000000bb",
        "AZURE_CLIENT_SECRET": "bench-secret-not-a-real-one",
        "AZURE_AUTHORITY_HOST": a.url,
        "GRAPHMAILER_GRAPH_ENDPOINT": a.url,
        "GRAPHMAILER_CA_BUNDLE": a.ca_file,
        "NODE_EXTRA_CA_CERTS": a.ca_file,
    }
    notes: list[str] = []
    order: list[str] = []
    runnable: dict[str, Samples] = {}
    for name, command, extra, needs in clients():
        if a.only and not any(s.strip().lower() in name.lower() for s in a.only.split(",")):
            continue
        order.append(name)
        missing = [str(n.relative_to(ROOT) if n.is_relative_to(ROOT) else n) for n in needs if not n.exists()]
        if missing:
            notes.append(f"{name}: n/a, not built ({', '.join(missing)} missing)")
        else:
            runnable[name] = Samples(command, extra)
    measured = measure(runnable, env, a.url, a, notes)
    results = {name: measured.get(name) for name in order}

    curl = results.get("libcurl, hand-written C")
    rust = results.get("graphmailer Rust, #[tokio::main]")
    header = ["client"] + [title for _, title, _ in COLUMNS]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name, r in results.items():
        row = [name]
        for key, _, fmt in COLUMNS:
            row.append(
                cell(
                    r[key] if r else None,
                    fmt,
                    curl[key] if curl else None,
                    rust[key] if rust else None,
                )
            )
        print("| " + " | ".join(row) + " |")
    print()
    print(
        f"(each figure, then its ratio to libcurl / to graphmailer Rust #[tokio::main]; "
        f"one at a time: {a.serial} sends, 16 in flight: {a.parallel} sends, best of {a.repeats} rounds; "
        f"cold start: median of {a.cold_runs})"
    )
    for note in notes:
        print(note)
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=2) + "\n")


_context: Any = None

if __name__ == "__main__":
    main()
