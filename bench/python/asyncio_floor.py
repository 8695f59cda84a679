"""What handing one result from another thread costs in plain Python, with
asyncio and with a blocking wait: the floor under ``send_async`` against
``send`` (bench/README.md, "Why asyncio is slower than send"). Needs no
graphmailer; run it pinned to one core as the benchmark's clients are:

    taskset -c 1 python3 bench/python/asyncio_floor.py [COUNT] [ROUNDS] [ECHO_PORT]

With ``ECHO_PORT`` (an echo server on loopback, such as ``wakeup_floor
serve`` pinned to the other core), the thread makes one round trip of 256
bytes before it answers, so that the waiting thread sleeps while a request
is out, as it does during a send.
"""

from __future__ import annotations

import asyncio
import queue
import socket
import sys
import threading
import time
from collections.abc import Callable


def echo(port: int | None) -> Callable[[], None]:
    """The work the thread does before it answers: nothing, or one round trip."""
    if port is None:
        return lambda: None
    connection = socket.create_connection(("127.0.0.1", port))
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    message = b"x" * 256

    def round_trip() -> None:
        connection.sendall(message)
        received = 0
        while received < len(message):
            received += len(connection.recv(len(message) - received))

    return round_trip


def blocking_round_trip(count: int, work: Callable[[], None]) -> float:
    """Seconds per item handed to a thread and waited for with a blocking get."""
    requests: queue.SimpleQueue[int | None] = queue.SimpleQueue()
    answers: queue.SimpleQueue[int] = queue.SimpleQueue()

    def worker() -> None:
        while (item := requests.get()) is not None:
            work()
            answers.put(item)

    thread = threading.Thread(target=worker)
    thread.start()
    started = time.perf_counter()
    for i in range(count):
        requests.put(i)
        answers.get()
    elapsed = time.perf_counter() - started
    requests.put(None)
    thread.join()
    return elapsed / count


async def asyncio_round_trip(count: int, work: Callable[[], None]) -> float:
    """Seconds per future handed to a thread that completes it with
    ``call_soon_threadsafe``, awaited one at a time."""
    loop = asyncio.get_running_loop()
    requests: queue.SimpleQueue[asyncio.Future[int] | None] = queue.SimpleQueue()

    def worker() -> None:
        while (future := requests.get()) is not None:
            work()
            loop.call_soon_threadsafe(future.set_result, 1)

    thread = threading.Thread(target=worker)
    thread.start()
    started = time.perf_counter()
    for _ in range(count):
        future: asyncio.Future[int] = loop.create_future()
        requests.put(future)
        await future
    elapsed = time.perf_counter() - started
    requests.put(None)
    thread.join()
    return elapsed / count


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    work = echo(int(sys.argv[3]) if len(sys.argv) > 3 else None)
    for _ in range(rounds):
        blocking = blocking_round_trip(count, work)
        awaited = asyncio.run(asyncio_round_trip(count, work))
        print(
            f"blocking wait {blocking * 1e6:.1f} µs, asyncio {awaited * 1e6:.1f} µs, "
            f"asyncio's extra {(awaited - blocking) * 1e6:.1f} µs per result"
        )


if __name__ == "__main__":
    main()
