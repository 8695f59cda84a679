"""What handing one result from another thread costs in plain Python, with
asyncio and with a blocking wait: the floor under ``send_async`` against
``send`` (bench/README.md, "Why asyncio is slower than send"). Needs no
graphmailer; run it pinned to one core as the benchmark's clients are:

    taskset -c 1 python3 bench/python/asyncio_floor.py [COUNT] [ROUNDS]
"""

from __future__ import annotations

import asyncio
import queue
import sys
import threading
import time


def blocking_round_trip(count: int) -> float:
    """Seconds per item handed to a thread and waited for with a blocking get."""
    requests: queue.SimpleQueue[int | None] = queue.SimpleQueue()
    answers: queue.SimpleQueue[int] = queue.SimpleQueue()

    def worker() -> None:
        while (item := requests.get()) is not None:
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


async def asyncio_round_trip(count: int) -> float:
    """Seconds per future handed to a thread that completes it with
    ``call_soon_threadsafe``, awaited one at a time."""
    loop = asyncio.get_running_loop()
    requests: queue.SimpleQueue[asyncio.Future[int] | None] = queue.SimpleQueue()

    def worker() -> None:
        while (future := requests.get()) is not None:
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
    for _ in range(rounds):
        blocking = blocking_round_trip(count)
        awaited = asyncio.run(asyncio_round_trip(count))
        print(
            f"blocking wait {blocking * 1e6:.1f} µs, asyncio {awaited * 1e6:.1f} µs, "
            f"asyncio's extra {(awaited - blocking) * 1e6:.1f} µs per result"
        )


if __name__ == "__main__":
    main()
