"""The hand-written Python client graphmailer is compared with: ``requests``
(HTTP/1.1, a Session per thread, so one connection each), one token fetched
up front and the same JSON body.

    python requests_client.py cold|serial|parallel [COUNT]
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from common import IN_FLIGHT, MAILBOXES, SCOPE, Clock, accepted_now, args, body_bytes, env


def main() -> None:
    mode, count = args()
    ca = env("GRAPHMAILER_CA_BUNDLE")
    # requests lets this variable override a Session's own `verify`.
    os.environ["REQUESTS_CA_BUNDLE"] = ca
    graph = env("GRAPHMAILER_GRAPH_ENDPOINT")
    first = requests.Session()
    first.verify = ca
    answer = first.post(
        f"{env('AZURE_AUTHORITY_HOST')}/{env('AZURE_TENANT_ID')}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": env("AZURE_CLIENT_ID"),
            "client_secret": env("AZURE_CLIENT_SECRET"),
            "scope": SCOPE,
        },
    )
    answer.raise_for_status()
    headers = {"Authorization": f"Bearer {answer.json()['access_token']}", "Content-Type": "application/json"}
    urls = [f"{graph}/v1.0/users/{m}/sendMail" for m in MAILBOXES]
    body = body_bytes()
    local = threading.local()

    def send(i: int) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            session.verify = ca
        r = session.post(urls[i % len(urls)], data=body, headers=headers)
        if r.status_code != 202:
            raise RuntimeError(f"sendMail answered {r.status_code}")

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
        with ThreadPoolExecutor(IN_FLIGHT) as pool:
            list(pool.map(send, range(IN_FLIGHT)))
            clock = Clock()
            list(pool.map(send, range(count)))
            clock.report(count)


if __name__ == "__main__":
    main()
