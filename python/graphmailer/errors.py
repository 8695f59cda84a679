"""The exceptions graphmailer raises.

Every failure of a send, a configuration or a check raises a subclass of
``GraphMailerError``, one per kind of error of the core, so callers branch
with ``except``::

    try:
        mailer.send(sender="erp@contoso.com", to="a@example.com", text="Hi")
    except graphmailer.ThrottledError as e:
        retry_later(after=e.retry_after)
    except graphmailer.AmbiguousDeliveryError:
        ...  # the mail may have gone out: do not simply send it again
    except graphmailer.GraphMailerError as e:
        log.error("not sent: %s (hint: %s)", e, e.hint)

The attributes come from the core unchanged: ``code`` is the service's own
code (``AADSTS7000215``, ``ErrorAccessDenied``), ``request_id`` is the id
Microsoft support asks for, ``hint`` says what to do. No secret is ever part
of an exception.
"""

# No runtime import of typing (it alone costs more than the rest of the
# package at import); annotations stay unevaluated strings.
from __future__ import annotations

__all__ = [
    "AccessDeniedError",
    "AmbiguousDeliveryError",
    "AuthenticationError",
    "ConfigError",
    "GraphMailerError",
    "InvalidMessageError",
    "MailboxNotFoundError",
    "SenderNotAllowedError",
    "ServiceError",
    "ThrottledError",
    "TransientError",
]


class GraphMailerError(Exception):
    """The base of every graphmailer error.

    ``str(error)`` is the message, the service's code and request id, and the
    hint on a second line. The parts are attributes:

    - ``kind``: the core's name for the kind (``"access_denied"``),
    - ``number``: the kind's pinned number (1 to 10, as the C library's status),
    - ``message``: what happened, in a sentence,
    - ``code``: the service's own code, or ``None``,
    - ``request_id``: the request id for Microsoft support, or ``None``,
    - ``hint``: what a person can do about it, or ``None``,
    - ``field``: the setting or message field at fault (``"cc[1].address"``), or ``None``,
    - ``status``: the HTTP status when the service answered, or ``None``,
    - ``retry_after``: seconds the service asked to wait, or ``None``,
    - ``retryable``: ``True`` when sending again later is safe and may work.
    """

    kind: str
    number: int
    message: str
    code: str | None
    request_id: str | None
    hint: str | None
    field: str | None
    status: int | None
    retry_after: float | None
    retryable: bool

    def __init__(
        self,
        text: str,
        *,
        kind: str = "service",
        number: int = 0,
        message: str | None = None,
        code: str | None = None,
        request_id: str | None = None,
        hint: str | None = None,
        field: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(text)
        self.kind = kind
        self.number = number
        self.message = text if message is None else message
        self.code = code
        self.request_id = request_id
        self.hint = hint
        self.field = field
        self.status = status
        self.retry_after = retry_after
        self.retryable = retryable

    def __repr__(self) -> str:
        parts = [repr(self.message)]
        for name in ("code", "field", "request_id"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


class ConfigError(GraphMailerError, ValueError):
    """The configuration is incomplete or wrong; ``field`` names the setting
    (``AZURE_CLIENT_ID``, ``allowed_senders[1]``, ...)."""


class InvalidMessageError(GraphMailerError, ValueError):
    """The message was refused before sending (``field`` names the part at
    fault, such as ``to`` or ``headers[0].name``), or by Graph as malformed.
    Nothing was sent."""


class SenderNotAllowedError(GraphMailerError):
    """The sender is not in the mailer's ``allowed_senders``; nothing was
    sent and no token was requested."""


class AuthenticationError(GraphMailerError):
    """The identity platform refused the app's credentials (wrong or expired
    secret, unknown app or tenant), or Graph refused the token."""


class AccessDeniedError(GraphMailerError):
    """Graph refused the app for this mailbox: the tenant's access policy
    excludes it, or the app lacks the Mail.Send application permission."""


class MailboxNotFoundError(GraphMailerError):
    """The sender's mailbox does not exist or has no Exchange Online licence."""


class ThrottledError(GraphMailerError):
    """Graph kept throttling after the allowed retries; ``retry_after`` says
    how long it asked to wait. Safe to send again later."""


class TransientError(GraphMailerError):
    """The service or the network failed before the mail was handed over.
    Safe to send again later."""


class AmbiguousDeliveryError(GraphMailerError):
    """The request may have reached Microsoft but no answer came back: the
    mail may or may not have gone out, so it was not retried. Check the
    sender's Sent Items before sending it again."""


class ServiceError(GraphMailerError):
    """Any other answer from the service."""
