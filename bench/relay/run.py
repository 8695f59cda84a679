#!/usr/bin/env python3
"""The relay benchmark's runner (bench/relay/run.sh builds and installs first):
graphmailer's relay and a private Postfix instance on core 0, the load
generator (smtp_load.py) and the emulator on core 1, one table at the end.
bench/README.md ("The relay against Postfix") explains the figures."""

import argparse
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
LOAD = [sys.executable, os.path.join(HERE, "smtp_load.py")]
SERVER_CORE, CLIENT_CORE = "0", "1"


def step(text):
    print(f"== {text}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, check, timeout):
    """Polls CHECK (a server coming up, a queue draining: events with no
    notification to wait on) until it returns a true value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(f"{what}: not after {timeout} s")


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def pss_kb(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def load(port, args, size, sender):
    cmd = [
        "taskset",
        "-c",
        CLIENT_CORE,
        *LOAD,
        "send",
        "--port",
        str(port),
        "--clients",
        str(args.clients),
        "--size",
        str(size),
        "--seconds",
        str(args.seconds),
        "--count",
        str(args.count),
        "--sender",
        sender,
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def idle_memory(port, count, measure):
    """Opens COUNT idle sessions, calls MEASURE() before and while they are
    open; returns (sessions open, MEASURE's delta per session)."""
    before = measure()
    proc = subprocess.Popen(
        ["taskset", "-c", CLIENT_CORE, *LOAD, "idle", "--port", str(port), "--connections", str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    opened = json.loads(proc.stdout.readline())["open"]
    during = measure()
    proc.stdin.close()
    proc.wait(timeout=60)
    return opened, {k: (during[k] - before[k]) / max(opened, 1) for k in during}


class Emulator:
    def __init__(self, binary):
        self.proc = subprocess.Popen(
            ["taskset", "-c", CLIENT_CORE, binary, "emulator"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.banner = json.loads(self.proc.stdout.readline())
        self.url = self.banner["url"]
        self.tls = ssl.create_default_context(cafile=self.banner["ca_file"])

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"content-type": "application/json"}
        )
        with urllib.request.urlopen(req, context=self.tls, timeout=30) as r:
            return json.loads(r.read() or b"null")

    def delivered(self):
        return self.call("GET", "/_emulator/counters")["sends_accepted"]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)


def run_relay(args, work):
    step("graphmailer relay: emulator on core 1, relay (plain listener, SQLite outbox) on core 0")
    emulator = Emulator(args.graphmailer)
    relay = None
    try:
        # Graph's per-mailbox request budget would turn this into a test of
        # throttling; the 4-in-flight limit per mailbox stays. The emulator
        # keeps only a few messages so 1 MB sends do not fill its memory.
        emulator.call("PUT", "/_emulator/settings", {"rate_limit_requests": 100_000_000, "max_stored_messages": 50})
        b = emulator.banner
        mailer = os.path.join(work, "emulator.toml")
        with open(os.open(mailer, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(
                "".join(
                    f"{k} = {json.dumps(v)}\n"
                    for k, v in [
                        ("tenant_id", b["tenant_id"]),
                        ("client_id", b["client_id"]),
                        ("client_secret", b["client_secret"]),
                        ("authority_host", b["url"]),
                        ("graph_endpoint", b["url"]),
                        ("ca_bundle", b["ca_file"]),
                    ]
                )
            )
        # Every relay started below appends to it; it goes with the folder.
        log = open(os.path.join(work, "relay.log"), "w")  # noqa: SIM115
        outbox = "sqlite:" + os.path.join(work, "outbox-idle.db")

        def drain(target):
            """Waits for the emulator to have TARGET sends; returns the
            seconds taken, or None (and logs how far it got) after the
            timeout."""
            try:
                wait_for("the outbox draining", lambda: emulator.delivered() >= target, args.drain_timeout)
                return True
            except TimeoutError:
                step(f"relay: {target - emulator.delivered()} not delivered after {args.drain_timeout} s")
                return False

        def start(deliver):
            """A relay on the one outbox; DELIVER off, it only queues, as
            the Postfix instance does."""
            smtp, ops = free_port(), free_port()
            config = os.path.join(work, "relay.toml")
            with open(os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
                f.write(f"""hostname = "bench.localdomain"
ops_address = "127.0.0.1:{ops}"
[[listener]]
address = "127.0.0.1:{smtp}"
mode = "plain"
[limits]
max_connections = {args.idle + 100}
[outbox]
deliver = {str(deliver).lower()}
[[mailer]]
name = "emulator"
config = {json.dumps(mailer)}
outbox = {json.dumps(outbox)}
[[network]]
cidr = "127.0.0.0/8"
mailer = "emulator"
may_send_as = [{json.dumps(b["allowed_sender"])}]
""")
            proc = subprocess.Popen(
                ["taskset", "-c", SERVER_CORE, args.graphmailer, "relay", "--config", config], stdout=log, stderr=log
            )
            livez = f"http://127.0.0.1:{ops}/livez"

            def up():
                if proc.poll() is not None:
                    raise RuntimeError(f"the relay exited; see {log.name}")
                try:
                    with urllib.request.urlopen(livez, timeout=2) as r:
                        return r.status == 200
                except OSError:
                    return False

            wait_for("the relay's /livez", up, 30)
            return proc, smtp

        def stop(proc):
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)

        result = {}
        relay, smtp = start(deliver=False)
        # First, on a fresh process: what a session costs, not what a
        # previous load left in the allocator.
        opened, per = idle_memory(smtp, args.idle, lambda: {"rss_kb": rss_kb(relay.pid), "pss_kb": pss_kb(relay.pid)})
        result["idle"] = {"open": opened, **per}
        step(f"relay: {opened} idle sessions, {per['rss_kb']:.1f} KB RSS each")
        for size in args.sizes:
            stop(relay)
            # A queue per size: the outbox keeps Graph's budget of 10,000
            # requests per mailbox per 10 minutes in the queue's database.
            outbox = "sqlite:" + os.path.join(work, f"outbox-{size}.db")
            relay, smtp = start(deliver=False)
            # Accepting only, as Postfix does with its delivery deferred.
            r = load(smtp, args, size, b["allowed_sender"])
            stop(relay)
            relay = None
            # Then a relay that delivers drains that queue: Graph's rate alone.
            before = emulator.delivered()
            started = time.monotonic()
            relay, smtp = start(deliver=True)
            r["drained"] = drain(before + r["accepted"])
            r["drain_seconds"] = round(time.monotonic() - started, 3)
            r["delivered_per_sec"] = round((emulator.delivered() - before) / r["drain_seconds"], 1)
            # And accepting while it delivers, as a relay runs in production.
            before = emulator.delivered()
            busy = load(smtp, args, size, b["allowed_sender"])
            r["per_sec_delivering"] = busy["per_sec"]
            r["refused_delivering"] = busy["refused"]
            drain(before + busy["accepted"])
            result[str(size)] = r
            step(f"relay, {size} bytes: {r}")
        return result
    finally:
        if relay is not None:
            stop(relay)
        emulator.stop()


def postfix_dirs():
    """Postfix's own installed directories, read from its compiled-in
    defaults, so the private instance runs the system's programs."""
    names = ["command_directory", "daemon_directory", "shlib_directory", "meta_directory"]
    out = subprocess.run(["postconf", "-d", *names], check=True, capture_output=True, text=True).stdout
    return dict(line.split(" = ", 1) for line in out.splitlines())


def run_postfix(args, work):
    step("Postfix: a private instance (own config and queue, delivery deferred) on core 0")
    etc, queue, data = (os.path.join(work, d) for d in ("etc", "queue", "data"))
    for d in (etc, queue, data):
        os.makedirs(d)
    shutil.chown(data, "postfix")
    os.chmod(work, 0o755)  # Postfix's daemons run as the postfix user
    port = free_port()
    master_cf = _read(os.path.join(postfix_dirs()["meta_directory"], "master.cf")) or ""
    lines = []
    for line in master_cf.splitlines():
        fields = line.split()
        if line[:1].isalpha() and len(fields) >= 8:
            if fields[:2] == ["smtp", "inet"]:
                fields[0] = f"127.0.0.1:{port}"
            fields[4] = "n"  # no chroot: the queue is not under /var/spool
            line = "  ".join(fields)
        lines.append(line)
    with open(os.path.join(etc, "master.cf"), "w") as f:
        f.write("\n".join(lines) + "\n")
    dirs = "".join(f"{k} = {v}\n" for k, v in postfix_dirs().items())
    with open(os.path.join(etc, "main.cf"), "w") as f:
        f.write(f"""compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
{dirs}mail_owner = postfix
setgid_group = postdrop
myhostname = bench.localdomain
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
# Accepted mail stays in the queue: nothing is sent anywhere.
defer_transports = smtp
maillog_file = {os.path.join(work, "maillog")}
maillog_file_prefixes = {work}
default_process_limit = {args.idle + 100}
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
message_size_limit = {max(args.sizes) * 2}
biff = no
""")
    subprocess.run(["taskset", "-c", SERVER_CORE, "postfix", "-c", etc, "start"], check=True)
    master_pid = int(wait_for("Postfix's master", lambda: _read(os.path.join(queue, "pid", "master.pid")), 30))
    try:

        def smtpd():
            pids = subprocess.run(
                ["ps", "-o", "pid=,comm=", "--ppid", str(master_pid)], capture_output=True, text=True
            ).stdout.split("\n")
            pids = [int(p.split()[0]) for p in pids if p.split()[1:] == ["smtpd"]]
            return {"rss_kb": sum(map(rss_kb, pids)), "pss_kb": sum(map(pss_kb, pids))}

        def listening():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return False

        # The probe's smtpd stays for the next client: "before" counts it.
        wait_for("Postfix's smtpd port", listening, 30)
        result = {}
        opened, per = idle_memory(port, args.idle, smtpd)
        result["idle"] = {"open": opened, **per}
        step(f"Postfix: {opened} idle sessions, {per['rss_kb']:.1f} KB RSS, {per['pss_kb']:.1f} KB PSS each")
        for size in args.sizes:
            r = load(port, args, size, "erp@contoso.test")
            result[str(size)] = r
            step(f"Postfix, {size} bytes: {r}")
        return result
    finally:
        subprocess.run(["postfix", "-c", etc, "stop"], check=False)
        wait_for("Postfix stopping", lambda: not os.path.exists(f"/proc/{master_pid}"), 60)


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def table(results, sizes):
    relay, postfix = results.get("relay", {}), results.get("postfix", {})

    def label(size):
        return f"{size // 1048576} MB" if size >= 1048576 else f"{size // 1024} KB"

    def rate(r, size, key="per_sec"):
        return r.get(str(size), {}).get(key)

    def fmt(v, unit=""):
        return "n/a" if v is None else f"{v:,.0f}{unit}" if v >= 100 else f"{v:,.1f}{unit}"

    def ratio(a, b):
        return "n/a" if not a or not b else f"{a / b:.3g}x"

    head = [
        "server",
        *(f"accepted/s {label(s)}" for s in sizes),
        *(f"accepted/s {label(s)} while delivering" for s in sizes),
        *(f"delivered to Graph/s {label(s)}" for s in sizes),
        "memory per idle connection",
    ]
    rows = []
    for name, r in [("graphmailer relay", relay), ("Postfix smtpd", postfix)]:
        idle = r.get("idle", {})
        mem = "n/a"
        if "rss_kb" in idle:
            mem = f"{idle['rss_kb']:.1f} KB RSS"
            if "pss_kb" in idle:
                mem += f" ({idle['pss_kb']:.1f} KB PSS)"
        if r is relay:
            busy = [fmt(rate(r, s, "per_sec_delivering")) for s in sizes]
            deliver = [fmt(rate(r, s, "delivered_per_sec")) for s in sizes]
        else:
            busy = deliver = ["(delivery deferred)" for s in sizes]
        rows.append([name, *(fmt(rate(r, s)) for s in sizes), *busy, *deliver, mem])
    ri, pi = relay.get("idle", {}), postfix.get("idle", {})
    mem_ratio = f"{ratio(ri.get('rss_kb'), pi.get('rss_kb'))} RSS ({ratio(ri.get('pss_kb'), pi.get('pss_kb'))} PSS)"
    rows.append(
        [
            "relay / Postfix",
            *(ratio(rate(relay, s), rate(postfix, s)) for s in sizes),
            *(ratio(rate(relay, s, "per_sec_delivering"), rate(postfix, s)) for s in sizes),
            *("" for _ in sizes),
            mem_ratio,
        ]
    )
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--graphmailer", required=True, help="the release binary")
    p.add_argument("--seconds", type=float, default=12.0, help="per size and server")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--sizes", default="10240,1048576")
    p.add_argument("--idle", type=int, default=500, help="idle connections for the memory figure")
    p.add_argument(
        "--count", type=int, default=4000, help="at most this many messages per round (0: no cap); see bench/README.md"
    )
    p.add_argument("--drain-timeout", type=float, default=150.0)
    p.add_argument("--only", choices=["relay", "postfix"])
    p.add_argument("--json")
    args = p.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",")]
    results = {
        "clients": args.clients,
        "seconds": args.seconds,
        "count": args.count,
        "loadavg_before": (_read("/proc/loadavg") or "").split()[:3],
    }
    for name, run in [("relay", run_relay), ("postfix", run_postfix)]:
        if args.only and args.only != name:
            continue
        work = tempfile.mkdtemp(prefix=f"relaybench-{name}-")
        try:
            results[name] = run(args, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    results["loadavg_after"] = (_read("/proc/loadavg") or "").split()[:3]
    print(table(results, args.sizes))
    print(f"load average before {' '.join(results['loadavg_before'])}, after {' '.join(results['loadavg_after'])}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
