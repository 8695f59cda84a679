"""Microsoft's own Python clients against the graphmailer emulator: MSAL,
Azure Identity and the Microsoft Graph SDK, unchanged but for their authority
and base URL. The emulator is started by test.sh; its banner arrives in
GRAPHMAILER_EMULATOR_BANNER, and its CA is trusted through REQUESTS_CA_BUNDLE
(requests) and SSL_CERT_FILE (httpx), as users of these clients would do."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import ssl
import urllib.request
from typing import Any
from urllib.parse import urlparse

import msal
import pytest
from azure.identity import ClientSecretCredential
from azure.identity.aio import ClientSecretCredential as AsyncClientSecretCredential
from kiota_abstractions.api_error import APIError
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.body_type import BodyType
from msgraph.generated.models.email_address import EmailAddress
from msgraph.generated.models.item_body import ItemBody
from msgraph.generated.models.message import Message
from msgraph.generated.models.recipient import Recipient
from msgraph.generated.users.item.send_mail.send_mail_post_request_body import (
    SendMailPostRequestBody,
)

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
BANNER: dict[str, str] = json.loads(os.environ["GRAPHMAILER_EMULATOR_BANNER"])
URL = BANNER["url"]


def emulator_api(method: str, path: str) -> Any:
    request = urllib.request.Request(f"{URL}/_emulator/{path}", method=method)
    context = ssl.create_default_context(cafile=BANNER["ca_file"])
    with urllib.request.urlopen(request, context=context) as response:
        body = response.read()
    return json.loads(body) if body else None


@pytest.fixture(autouse=True)
def fresh_emulator() -> None:
    emulator_api("POST", "reset")


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def prop(obj: dict[str, Any], name: str) -> Any:
    """Graph matches property names case-insensitively; so must we."""
    return next(v for k, v in obj.items() if k.lower() == name.lower())


def test_msal_gets_a_token_and_reports_aadsts_codes() -> None:
    # Instance discovery would ask login.microsoftonline.com about this
    # authority; an offline authority turns it off, as MSAL documents.
    instance_discovery = False
    app = msal.ConfidentialClientApplication(
        BANNER["client_id"],
        authority=f"{URL}/{BANNER['tenant_id']}",
        client_credential=BANNER["client_secret"],
        instance_discovery=instance_discovery,
    )
    result = app.acquire_token_for_client(scopes=[GRAPH_SCOPE])
    assert "access_token" in result, result
    token = claims(result["access_token"])
    assert token["roles"] == ["Mail.Send"]
    assert token["tid"] == BANNER["tenant_id"]
    assert token["appid"] == BANNER["client_id"]
    assert token["idtyp"] == "app"

    wrong = msal.ConfidentialClientApplication(
        BANNER["client_id"],
        authority=f"{URL}/{BANNER['tenant_id']}",
        client_credential="5a1f3c7e-2b9d-4e6f-8a0c-1d3b5e7f9a2c",
        instance_discovery=instance_discovery,
    )
    refused = wrong.acquire_token_for_client(scopes=[GRAPH_SCOPE])
    assert refused.get("error") == "invalid_client", refused
    assert 7000215 in refused.get("error_codes", []), refused


def graph_client(sender_check: bool = True) -> GraphServiceClient:
    host = urlparse(URL).netloc
    credential = AsyncClientSecretCredential(
        BANNER["tenant_id"],
        BANNER["client_id"],
        BANNER["client_secret"],
        authority=URL,
    )
    auth = AzureIdentityAuthenticationProvider(
        credential, scopes=[GRAPH_SCOPE], allowed_hosts=[host, host.split(":")[0]]
    )
    adapter = GraphRequestAdapter(auth)
    adapter.base_url = f"{URL}/v1.0"
    return GraphServiceClient(request_adapter=adapter)


def message(subject: str) -> SendMailPostRequestBody:
    return SendMailPostRequestBody(
        message=Message(
            subject=subject,
            body=ItemBody(content_type=BodyType.Html, content="<p>It's 4711 \"quoted\"</p>"),
            to_recipients=[Recipient(email_address=EmailAddress(address="ap@fabrikam.example"))],
        ),
        save_to_sent_items=False,
    )


def test_azure_identity_gets_a_token() -> None:
    credential = ClientSecretCredential(
        BANNER["tenant_id"],
        BANNER["client_id"],
        BANNER["client_secret"],
        authority=URL,
        disable_instance_discovery=True,
    )
    token = credential.get_token(GRAPH_SCOPE)
    assert claims(token.token)["roles"] == ["Mail.Send"]
    assert token.expires_on > 0


def test_the_graph_sdk_sends_and_reads_graph_errors() -> None:
    async def run() -> None:
        client = graph_client()
        await client.users.by_user_id(BANNER["allowed_sender"]).send_mail.post(
            message("Invoice 4711 via the Graph SDK")
        )
        with pytest.raises(APIError) as refused:
            await client.users.by_user_id(BANNER["denied_sender"]).send_mail.post(
                message("must not arrive")
            )
        error = refused.value
        assert error.response_status_code == 403
        # The SDK parsed Graph's error body (innerError.date is ISO-8601).
        assert getattr(error, "error").code == "ErrorAccessDenied"

    asyncio.run(run())
    stored = emulator_api("GET", "messages")["messages"]
    assert len(stored) == 1
    assert stored[0]["mailbox"] == BANNER["allowed_sender"]
    assert stored[0]["save_to_sent_items"] is False
    sent = stored[0]["message"]
    assert prop(sent, "subject") == "Invoice 4711 via the Graph SDK"
    assert prop(prop(sent, "body"), "content") == "<p>It's 4711 \"quoted\"</p>"
