#!/usr/bin/env python3
"""The load generator of the relay benchmark: the same SMTP traffic for any
server (graphmailer's relay, Postfix's smtpd).

    smtp_load.py send --port P --clients 16 --size 10240 --seconds 12
    smtp_load.py idle --port P --connections 500

`send` keeps CLIENTS connections open, each sending one message after the
other (MAIL, RCPT and DATA pipelined per RFC 2920, then the data) until
SECONDS have passed, and prints one JSON line: accepted (250 after the data),
refused (any other reply, by code), seconds, per_sec.

`idle` opens CONNECTIONS sessions, reads each greeting and EHLO reply, prints
`{"open": N}` and holds them until its stdin closes, so the caller can read
the server's memory while they are open.

Plain SMTP, no AUTH: what both servers can be given without a SASL setup.
Standard library only, so it runs anywhere the benchmark does.
"""

import argparse
import asyncio
import json
import sys
import time
import uuid

LINE = b"x" * 74 + b"\r\n"


def message(size, sender, recipient):
    """A message of about SIZE bytes whose body lines never start with a dot
    (no dot-stuffing needed); only the Message-ID changes between sends."""
    head = (
        f"From: <{sender}>\r\nTo: <{recipient}>\r\nSubject: relay benchmark\r\n"
        "Date: Fri, 04 Dec 2026 20:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
    ).encode()
    body = LINE * max(1, (size - len(head)) // len(LINE))

    def one():
        mid = f"Message-ID: <{uuid.uuid4().hex}@bench.test>\r\n\r\n".encode()
        return head + mid + body + b".\r\n"

    return one


async def reply(reader):
    """One SMTP reply (every line of a multiline one); returns its code."""
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("the server closed the connection")
        if len(line) < 4 or line[3:4] != b"-":
            return int(line[:3])


async def open_session(host, port):
    reader, writer = await asyncio.open_connection(host, port)
    code = await reply(reader)
    if code != 220:
        raise ConnectionError(f"greeting {code}")
    writer.write(b"EHLO bench.test\r\n")
    code = await reply(reader)
    if code != 250:
        raise ConnectionError(f"EHLO answered {code}")
    return reader, writer


async def send(args):
    make = message(args.size, args.sender, args.recipient)
    envelope = (f"MAIL FROM:<{args.sender}> SIZE={args.size + 200}\r\nRCPT TO:<{args.recipient}>\r\nDATA\r\n").encode()
    sessions = [await open_session(args.host, args.port) for _ in range(args.clients)]
    accepted = 0
    refused = {}
    started = time.monotonic()
    deadline = started + args.seconds

    async def client(reader, writer):
        nonlocal accepted
        while time.monotonic() < deadline and (args.count == 0 or accepted < args.count):
            writer.write(envelope)
            codes = [await reply(reader) for _ in range(3)]
            if codes != [250, 250, 354]:
                refused[str(codes)] = refused.get(str(codes), 0) + 1
                if codes[2] == 354:
                    writer.write(b".\r\n")
                    await reply(reader)
                writer.write(b"RSET\r\n")
                await reply(reader)
                continue
            writer.write(make())
            await writer.drain()
            code = await reply(reader)
            if code == 250:
                accepted += 1
            else:
                refused[str(code)] = refused.get(str(code), 0) + 1
        writer.write(b"QUIT\r\n")
        await reply(reader)
        writer.close()

    await asyncio.gather(*(client(r, w) for r, w in sessions))
    seconds = time.monotonic() - started
    print(
        json.dumps(
            {
                "accepted": accepted,
                "refused": refused,
                "seconds": round(seconds, 3),
                "per_sec": round(accepted / seconds, 1),
            }
        ),
        flush=True,
    )


async def idle(args):
    sessions = []
    # A few at a time: a burst of hundreds would test the backlog, not memory.
    for start in range(0, args.connections, 50):
        batch = range(start, min(start + 50, args.connections))
        sessions += await asyncio.gather(*(open_session(args.host, args.port) for _ in batch))
    print(json.dumps({"open": len(sessions)}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for _, writer in sessions:
        writer.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["send", "idle"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--size", type=int, default=10240)
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--count", type=int, default=0, help="stop after this many (0: no cap)")
    parser.add_argument("--connections", type=int, default=500)
    parser.add_argument("--sender", default="erp@contoso.test")
    parser.add_argument("--recipient", default="someone@example.test")
    args = parser.parse_args()
    asyncio.run(send(args) if args.mode == "send" else idle(args))


if __name__ == "__main__":
    main()
