"""What graphmailer's Python binding itself costs per call, without the
network: ``send`` and ``send_async`` of a mail that core refuses at once on
its runtime (a sender outside ``allowed_senders``), so each call still takes
its whole path (arguments read, the future spawned on the runtime, the
result handed back, the exception raised) and nothing else. Beside
``asyncio_floor.py`` it tells how much of ``send_async``'s extra cost over
``send`` is asyncio's and how much the binding's (bench/README.md, "Where
send_async's extra time goes"). Run it pinned to one core, with the package
built for release:

    taskset -c 1 python3 bench/python/binding_overhead.py [COUNT] [ROUNDS]
"""

from __future__ import annotations

import asyncio
import sys
import time

import graphmailer

REFUSED = "refused@contoso.test"


def mailer() -> graphmailer.Mailer:
    return graphmailer.Mailer(
        tenant_id="00000000-0000-4000-8000-0000000000aa",
        client_id="00000000-0000-4000-8000-0000000000bb",
        client_secret="bench-secret-not-a-real-one",
        allowed_senders=["erp@contoso.test"],
    )


def blocking(m: graphmailer.Mailer, count: int) -> tuple[float, float]:
    """Microseconds per call: this thread's CPU, and the wall clock."""
    cpu, wall = time.thread_time_ns(), time.perf_counter_ns()
    for _ in range(count):
        try:
            m.send(sender=REFUSED, to="a@example.com", subject="s", text="t")
        except graphmailer.SenderNotAllowedError:
            pass
        else:
            raise SystemExit("the send was not refused: the measurement would include the network")
    return (time.thread_time_ns() - cpu) / count / 1e3, (time.perf_counter_ns() - wall) / count / 1e3


async def awaited(m: graphmailer.Mailer, count: int) -> tuple[float, float]:
    """The same, each ``send_async`` awaited in turn."""
    cpu, wall = time.thread_time_ns(), time.perf_counter_ns()
    for _ in range(count):
        try:
            await m.send_async(sender=REFUSED, to="a@example.com", subject="s", text="t")
        except graphmailer.SenderNotAllowedError:
            pass
        else:
            raise SystemExit("the send was not refused: the measurement would include the network")
    return (time.thread_time_ns() - cpu) / count / 1e3, (time.perf_counter_ns() - wall) / count / 1e3


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    m = mailer()
    for _ in range(rounds):
        sync_cpu, sync_wall = blocking(m, count)
        async_cpu, async_wall = asyncio.run(awaited(m, count))
        print(
            f"send {sync_wall:.1f} µs ({sync_cpu:.1f} µs of this thread's CPU), "
            f"send_async {async_wall:.1f} µs ({async_cpu:.1f} µs), "
            f"send_async's extra {async_wall - sync_wall:.1f} µs ({async_cpu - sync_cpu:.1f} µs)"
        )


if __name__ == "__main__":
    main()
