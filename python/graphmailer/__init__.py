"""Send mail through Microsoft Graph with app-only credentials.

graphmailer calls Microsoft Graph's ``sendMail`` with an OAuth2
client-credentials token, the way Microsoft 365 wants business software to
send mail now that SMTP basic authentication is going away. The work is done
by one Rust core shared with the Node.js, C and command-line faces: a shared
token cache, validation before any network call, a local sender allowlist,
retries that never send a mail twice, and errors that carry the service's
code, the request id and a hint::

    import graphmailer

    mailer = graphmailer.Mailer.from_env()       # AZURE_TENANT_ID, AZURE_CLIENT_ID, ...
    receipt = mailer.send(
        sender="erp@contoso.com",
        to=[("Accounts", "accounts@example.com")],
        subject="Invoice 4711",
        text="Please find the invoice attached.",
        attachments=["invoice-4711.pdf"],
    )

``send_async`` does the same for asyncio; ``send_mime`` sends a ready RFC 5322
message (an ``email.message.EmailMessage``, say). Every failure raises a subclass of
``GraphMailerError``. Log records go to the ``graphmailer`` logger of
Python's ``logging``. To test your own code offline, run the graphmailer
emulator (see ``graphmailer.testing``).
"""

from __future__ import annotations

from ._graphmailer import (
    ERROR_KINDS,
    POLICY_WARNINGS,
    Address,
    Attachment,
    ClientCertificate,
    Diagnosis,
    Finding,
    Mailer,
    Message,
    Outbox,
    Progress,
    QueuedMail,
    QueueStats,
    RunSummary,
    SendReceipt,
    Verification,
    VerifyRow,
    __version__,
    policy_script,
)
from .errors import (
    AccessDeniedError,
    AmbiguousDeliveryError,
    AuthenticationError,
    ConfigError,
    GraphMailerError,
    InvalidMessageError,
    MailboxNotFoundError,
    SenderNotAllowedError,
    ServiceError,
    ThrottledError,
    TransientError,
)

__all__ = [
    "ERROR_KINDS",
    "POLICY_WARNINGS",
    "AccessDeniedError",
    "Address",
    "AmbiguousDeliveryError",
    "Attachment",
    "AuthenticationError",
    "ClientCertificate",
    "ConfigError",
    "Diagnosis",
    "Finding",
    "GraphMailerError",
    "InvalidMessageError",
    "MailboxNotFoundError",
    "Mailer",
    "Message",
    "Outbox",
    "Progress",
    "QueuedMail",
    "QueueStats",
    "RunSummary",
    "SendReceipt",
    "SenderNotAllowedError",
    "ServiceError",
    "ThrottledError",
    "TransientError",
    "Verification",
    "VerifyRow",
    "__version__",
    "policy_script",
]
