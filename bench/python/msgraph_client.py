"""Microsoft's own Python clients, as the project's client checks install
them: Azure Identity's ``ClientSecretCredential`` and the Graph SDK's
``send_mail.post`` (asyncio, httpx underneath).

    python msgraph_client.py cold|serial|parallel [COUNT]
"""

from __future__ import annotations

import asyncio
import os

from azure.identity.aio import ClientSecretCredential
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.body_type import BodyType
from msgraph.generated.models.email_address import EmailAddress
from msgraph.generated.models.item_body import ItemBody
from msgraph.generated.models.message import Message
from msgraph.generated.models.recipient import Recipient
from msgraph.generated.users.item.send_mail.send_mail_post_request_body import SendMailPostRequestBody

from common import IN_FLIGHT, MAILBOXES, SCOPE, Clock, accepted_now, args, env


def body() -> SendMailPostRequestBody:
    return SendMailPostRequestBody(
        message=Message(
            subject="bench",
            body=ItemBody(content_type=BodyType.Text, content="x"),
            to_recipients=[Recipient(email_address=EmailAddress(address="bench@example.com"))],
        ),
        save_to_sent_items=True,
    )


async def main() -> None:
    mode, count = args()
    # httpx and Azure Identity's transport read the CA from here.
    os.environ["SSL_CERT_FILE"] = env("GRAPHMAILER_CA_BUNDLE")
    os.environ["REQUESTS_CA_BUNDLE"] = env("GRAPHMAILER_CA_BUNDLE")
    credential = ClientSecretCredential(
        env("AZURE_TENANT_ID"),
        env("AZURE_CLIENT_ID"),
        env("AZURE_CLIENT_SECRET"),
        authority=env("AZURE_AUTHORITY_HOST"),
        disable_instance_discovery=True,
    )
    host = env("GRAPHMAILER_GRAPH_ENDPOINT").split("://", 1)[1]
    provider = AzureIdentityAuthenticationProvider(
        credential, scopes=[SCOPE], allowed_hosts=[host, host.split(":")[0]]
    )
    adapter = GraphRequestAdapter(provider)
    adapter.base_url = f"{env('GRAPHMAILER_GRAPH_ENDPOINT')}/v1.0"
    client = GraphServiceClient(request_adapter=adapter)

    async def send(i: int) -> None:
        await client.users.by_user_id(MAILBOXES[i % len(MAILBOXES)]).send_mail.post(body())

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
    await credential.close()


if __name__ == "__main__":
    asyncio.run(main())
