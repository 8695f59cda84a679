"""graphmailer's Python package, configured from the environment as its
README says.

    python graphmailer_client.py cold|serial|parallel [COUNT] [--api send|send_async]

``send``: one at a time in a loop, and 16 threads for ``parallel``;
``send_async``: awaited one at a time, and 16 in flight on one event loop.
"""

from __future__ import annotations

import sys

import graphmailer

from common import IN_FLIGHT, MAILBOXES, Clock, accepted_now, args


def with_threads(mailer: graphmailer.Mailer, mode: str, count: int) -> None:
    def send(i: int) -> None:
        mailer.send(sender=MAILBOXES[i % len(MAILBOXES)], to="bench@example.com", subject="bench", text="x")

    if mode == "cold":
        send(0)
        accepted_now()
    elif mode == "serial":
        send(0)
        clock = Clock()
        for _ in range(count):
            send(0)
        clock.report(count)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(IN_FLIGHT) as pool:
            list(pool.map(send, range(IN_FLIGHT)))
            clock = Clock()
            list(pool.map(send, range(count)))
            clock.report(count)


async def with_asyncio(mailer: graphmailer.Mailer, mode: str, count: int) -> None:
    import asyncio

    async def send(i: int) -> None:
        await mailer.send_async(
            sender=MAILBOXES[i % len(MAILBOXES)], to="bench@example.com", subject="bench", text="x"
        )

    if mode == "cold":
        await send(0)
        accepted_now()
    elif mode == "serial":
        await send(0)
        clock = Clock()
        for _ in range(count):
            await send(0)
        clock.report(count)
    else:
        await asyncio.gather(*(send(i) for i in range(IN_FLIGHT)))
        slots = asyncio.Semaphore(IN_FLIGHT)

        async def limited(i: int) -> None:
            async with slots:
                await send(i)

        clock = Clock()
        await asyncio.gather(*(limited(i) for i in range(count)))
        clock.report(count)


def main() -> None:
    mode, count = args()
    api = sys.argv[sys.argv.index("--api") + 1] if "--api" in sys.argv else "send"
    mailer = graphmailer.Mailer.from_env()
    if api == "send_async":
        # Each way of sending imports only what it uses (a program calling
        # ``send`` has no reason to import asyncio): cold start counts imports.
        import asyncio

        asyncio.run(with_asyncio(mailer, mode, count))
    else:
        with_threads(mailer, mode, count)


if __name__ == "__main__":
    main()
