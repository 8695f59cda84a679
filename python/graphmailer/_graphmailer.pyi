"""The native part of graphmailer (a Rust extension); import ``graphmailer`` instead."""

import asyncio
import datetime
import email.message
import os
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Protocol, Tuple, Union, final, overload

from typing_extensions import Self, TypedDict, Unpack

__all__ = [
    "__version__",
    "Mailer",
    "Progress",
    "SendReceipt",
    "Message",
    "Attachment",
    "Address",
    "ClientCertificate",
    "Outbox",
    "QueuedMail",
    "QueueStats",
    "RunSummary",
    "Diagnosis",
    "Finding",
    "Verification",
    "VerifyRow",
    "policy_script",
    "POLICY_WARNINGS",
    "ERROR_KINDS",
]

__version__: str

#: Every kind of error of the core as ``(name, class name, number, code)``.
ERROR_KINDS: Tuple[Tuple[str, str, int, str], ...]
#: The warnings printed with every policy script.
POLICY_WARNINGS: Tuple[str, ...]
#: The names of ``_MessageParts``, from the Rust declaration (a test holds the two equal).
_MESSAGE_KEYWORDS: Tuple[str, ...]

#: One address: ``"a@example.com"``, ``("Name", "a@example.com")`` or an ``Address``.
_AddressLike = Union[str, Tuple[Optional[str], str], "Address"]
#: One address as above, or a list of them.
_Addresses = Union[_AddressLike, Iterable[_AddressLike]]
#: An ``Attachment``, or the path of a file to attach.
_AttachmentLike = Union["Attachment", str, "os.PathLike[str]"]
#: One attachment as above, or a list of them.
_Attachments = Union[_AttachmentLike, Iterable[_AttachmentLike]]
#: Custom ``x-`` headers: a dict, or ``(name, value)`` pairs.
_Headers = Union[Mapping[str, str], Iterable[Tuple[str, str]]]
#: A duration: seconds, or a ``datetime.timedelta``.
_Seconds = Union[int, float, datetime.timedelta]
#: A path: ``str`` or ``os.PathLike``.
_StrPath = Union[str, "os.PathLike[str]"]
#: Bytes from memory.
_Buffer = Union[bytes, bytearray, memoryview]

class _MessageParts(TypedDict, total=False):
    """The optional parts of a message, as keywords of ``Message``,
    ``Mailer.send`` and ``Mailer.send_async`` (``None`` is leaving one out)."""

    to: Optional[_Addresses]
    cc: Optional[_Addresses]
    bcc: Optional[_Addresses]
    reply_to: Optional[_Addresses]
    subject: Optional[str]
    text: Optional[str]
    html: Optional[str]
    importance: Optional[str]
    attachments: Optional[_Attachments]
    headers: Optional[_Headers]
    save_to_sent_items: Optional[bool]

class _BinaryReader(Protocol):
    """A file object open in binary mode (``open(path, "rb")``, ``io.BytesIO``, ``sys.stdin.buffer``)."""

    def read(self, size: int, /) -> bytes: ...

#: A ready RFC 5322 message: its bytes, an ``email.message.Message`` or a binary file object.
_MimeMessage = Union[_Buffer, email.message.Message, _BinaryReader]

@final
class Address:
    """A mail address with an optional display name.

    Wherever an address is taken, ``"a@example.com"`` and
    ``("Name", "a@example.com")`` work too; message properties return
    ``Address`` objects.
    """

    def __new__(cls, address: str, name: Optional[str] = None) -> Self: ...
    @staticmethod
    def parse(text: str) -> Address:
        """Parses ``"a@example.com"`` or ``"Name <a@example.com>"``; the address
        itself is checked when the message is sent."""
    @property
    def address(self) -> str:
        """The address, ``someone@example.com``."""
    @property
    def name(self) -> Optional[str]:
        """The display name, or ``None``."""
    def __hash__(self) -> int: ...
    def __eq__(self, other: object, /) -> bool: ...

@final
class Attachment:
    """A file attached to a message.

    ``Attachment(name, content)`` (the same as ``Attachment.from_bytes``)
    attaches bytes from memory; ``Attachment.from_path`` attaches a file,
    which is read when the message is sent. The
    content type is guessed from the name's extension unless given. An inline
    attachment (an image the HTML shows as ``<img src="cid:logo">``) needs
    ``inline=True`` and ``content_id="logo"``.
    """

    def __new__(
        cls,
        name: str,
        content: _Buffer,
        *,
        content_type: Optional[str] = None,
        inline: Optional[bool] = None,
        content_id: Optional[str] = None,
    ) -> Self: ...
    @staticmethod
    def from_bytes(
        name: str,
        content: _Buffer,
        *,
        content_type: Optional[str] = None,
        inline: Optional[bool] = None,
        content_id: Optional[str] = None,
    ) -> Attachment:
        """An attachment from bytes in memory, named ``name``."""
    @staticmethod
    def from_path(
        path: _StrPath,
        *,
        content_type: Optional[str] = None,
        inline: Optional[bool] = None,
        content_id: Optional[str] = None,
    ) -> Attachment:
        """An attachment from a file, named after the file. The file must exist
        now (else ``InvalidMessageError``, field ``attachments``); its bytes
        are read when the message is sent, in chunks for a large message. A
        file whose size changed by then is refused rather than sent cut short."""
    @property
    def name(self) -> str:
        """The file name shown to the recipient."""
    @property
    def content_type(self) -> Optional[str]:
        """The MIME type given, or ``None`` to have it guessed from the name."""
    @property
    def effective_content_type(self) -> str:
        """The MIME type that will be sent: the one given, or the guess."""
    @property
    def content(self) -> bytes:
        """The attachment's bytes (one made with ``from_path`` reads its file now)."""
    @property
    def size(self) -> int:
        """The size of the content in bytes (a file's size when it was attached)."""
    @property
    def inline(self) -> bool:
        """Whether the attachment is shown in the body rather than listed."""
    @property
    def content_id(self) -> Optional[str]:
        """The id the HTML refers to as ``cid:<content_id>``."""
    def __eq__(self, other: object, /) -> bool: ...

@final
class Message:
    """A mail message, for building one step by step.

    Give everything as keywords (the same as ``Mailer.send``), or start with
    the sender and add to it. Nothing is checked until ``validate()`` or a
    send, which names the field at fault.
    """

    def __new__(
        cls,
        sender: str,
        **parts: Unpack[_MessageParts],
    ) -> Self: ...
    @property
    def sender(self) -> str:
        """The mailbox the mail is sent as (its address or user object id)."""
    @sender.setter
    def sender(self, value: str) -> None: ...
    @property
    def to(self) -> List[Address]:
        """The To recipients."""
    @to.setter
    def to(self, value: Optional[_Addresses]) -> None: ...
    @property
    def cc(self) -> List[Address]:
        """The Cc recipients."""
    @cc.setter
    def cc(self, value: Optional[_Addresses]) -> None: ...
    @property
    def bcc(self) -> List[Address]:
        """The Bcc recipients."""
    @bcc.setter
    def bcc(self, value: Optional[_Addresses]) -> None: ...
    @property
    def reply_to(self) -> List[Address]:
        """The addresses replies go to."""
    @reply_to.setter
    def reply_to(self, value: Optional[_Addresses]) -> None: ...
    @property
    def subject(self) -> str:
        """The subject line."""
    @subject.setter
    def subject(self, value: Optional[str]) -> None: ...
    @property
    def text(self) -> Optional[str]:
        """The plain-text body, or ``None``; setting it replaces an HTML body."""
    @text.setter
    def text(self, value: Optional[str]) -> None: ...
    @property
    def html(self) -> Optional[str]:
        """The HTML body, or ``None``; setting it replaces a text body."""
    @html.setter
    def html(self, value: Optional[str]) -> None: ...
    @property
    def importance(self) -> Optional[str]:
        """``"low"``, ``"normal"``, ``"high"``, or ``None`` (Graph's default, normal)."""
    @importance.setter
    def importance(self, value: Optional[str]) -> None: ...
    @property
    def save_to_sent_items(self) -> bool:
        """Whether a copy is kept in the sender's Sent Items (default ``True``)."""
    @save_to_sent_items.setter
    def save_to_sent_items(self, value: bool) -> None: ...
    @property
    def headers(self) -> List[Tuple[str, str]]:
        """The custom ``x-`` headers, as ``(name, value)`` pairs."""
    @headers.setter
    def headers(self, value: Optional[_Headers]) -> None: ...
    @property
    def attachments(self) -> List[Attachment]:
        """The attachments (copies: change them through this property or ``attach``)."""
    @attachments.setter
    def attachments(self, value: Optional[_Attachments]) -> None: ...
    def add_to(self, address: _Addresses) -> Message:
        """Adds To recipients (one address or a list); returns the message."""
    def add_cc(self, address: _Addresses) -> Message:
        """Adds Cc recipients (one address or a list); returns the message."""
    def add_bcc(self, address: _Addresses) -> Message:
        """Adds Bcc recipients (one address or a list); returns the message."""
    def add_reply_to(self, address: _Addresses) -> Message:
        """Adds reply-to addresses (one address or a list); returns the message."""
    def add_header(self, name: str, value: str) -> Message:
        """Adds a custom header (its name must start with ``x-``); returns the message."""
    def attach(self, attachment: _Attachments) -> Message:
        """Adds attachments: ``Attachment`` objects or paths of files (read when
        the message is sent); returns the message."""
    def validate(self) -> None:
        """Checks everything that can be checked without the network, as a
        send would. Raises ``InvalidMessageError`` naming the field at fault."""
    def __eq__(self, other: object, /) -> bool: ...

@final
class Progress:
    """How far a large message's attachments have gone up, as ``send``'s
    ``on_progress`` callable receives it."""

    @property
    def index(self) -> int:
        """The attachment's place in the message's list of attachments."""
    @property
    def name(self) -> str:
        """The attachment's file name."""
    @property
    def sent(self) -> int:
        """Bytes of this attachment the service has taken so far."""
    @property
    def total(self) -> int:
        """The attachment's size in bytes."""
    @property
    def message_sent(self) -> int:
        """Bytes of all the message's attachments taken so far."""
    @property
    def message_total(self) -> int:
        """The size of all the message's attachments."""
    @property
    def finished(self) -> bool:
        """True on the last call only, once Graph accepted the message."""
    def __eq__(self, other: object, /) -> bool: ...

@final
class SendReceipt:
    """What Graph said when it accepted a mail."""

    @property
    def request_id(self) -> Optional[str]:
        """Graph's ``request-id`` of the accepted request, for Microsoft support."""
    @property
    def client_request_id(self) -> str:
        """The ``client-request-id`` graphmailer sent (the same on every attempt of one send)."""
    @property
    def attempts(self) -> int:
        """How many requests the send took (1 unless throttled or refused a token)."""
    def __eq__(self, other: object, /) -> bool: ...

@final
class ClientCertificate:
    """A certificate registered on the app, with its RSA private key, used
    instead of a client secret: ``Mailer(..., client_certificate=cert)``.
    Loading errors raise ``ConfigError`` naming the setting. ``repr()``
    shows the thumbprint, never the key."""

    @staticmethod
    def from_pem(
        certificate: Union[str, bytes],
        key: Union[str, bytes, None] = None,
        *,
        password: Optional[str] = None,
    ) -> ClientCertificate:
        """From PEM text: the certificate, and the private key in the same
        text or in ``key`` (PKCS#8, encrypted PKCS#8 with ``password``, or PKCS#1)."""
    @staticmethod
    def from_pkcs12(archive: _Buffer, password: str) -> ClientCertificate:
        """From the bytes of a PKCS#12 (``.pfx``, ``.p12``) archive and its password."""
    @staticmethod
    def from_path(path: _StrPath, password: Optional[str] = None) -> ClientCertificate:
        """From a PEM file (certificate and key) or a PKCS#12 file."""
    @property
    def thumbprint(self) -> str:
        """The SHA-1 thumbprint in hex, as the app registration shows it."""
    @property
    def thumbprint_sha256(self) -> str:
        """The SHA-256 thumbprint in hex."""

@final
class Finding:
    """One thing ``Mailer.diagnose()`` found."""

    @property
    def severity(self) -> str:
        """``"info"``, ``"warning"`` or ``"error"``."""
    @property
    def id(self) -> str:
        """A stable identifier, such as ``"missing-mail-send"``."""
    @property
    def message(self) -> str:
        """What was found."""
    @property
    def hint(self) -> Optional[str]:
        """What to do about it, or ``None``."""
    def to_dict(self) -> dict[str, Optional[str]]:
        """The finding as a dict."""

@final
class Diagnosis:
    """What ``Mailer.diagnose()`` learned from a fresh token."""

    @property
    def ok(self) -> bool:
        """``True`` unless a finding is an error."""
    @property
    def tenant_id(self) -> str:
        """The tenant configured."""
    @property
    def client_id(self) -> str:
        """The application (client) ID configured."""
    @property
    def credential(self) -> str:
        """``"client secret"`` or ``"certificate"``."""
    @property
    def cloud(self) -> str:
        """The cloud's name."""
    @property
    def token_url(self) -> str:
        """The token endpoint used."""
    @property
    def graph_endpoint(self) -> str:
        """Graph's origin used."""
    @property
    def scope(self) -> str:
        """The scope requested."""
    @property
    def proxy(self) -> Optional[str]:
        """The HTTPS proxy the environment names (password hidden), or ``None``."""
    @property
    def no_proxy(self) -> Optional[str]:
        """The environment's ``NO_PROXY``, or ``None``."""
    @property
    def token_acquired(self) -> bool:
        """Whether a token was obtained."""
    @property
    def token_tenant(self) -> Optional[str]:
        """The tenant that issued the token, or ``None``."""
    @property
    def app_display_name(self) -> Optional[str]:
        """The app's display name in the tenant, or ``None``."""
    @property
    def roles(self) -> List[str]:
        """The application roles the token carries."""
    @property
    def token_lifetime(self) -> Optional[float]:
        """The token's lifetime as issued, in seconds, or ``None``."""
    @property
    def clock_skew_secs(self) -> Optional[int]:
        """This machine's clock minus the identity platform's, in seconds."""
    @property
    def error(self) -> Optional[Exception]:
        """The token request's failure as a ``GraphMailerError`` (not raised), or ``None``."""
    @property
    def findings(self) -> List[Finding]:
        """What was found."""
    def to_dict(self) -> dict[str, Any]:
        """Everything as plain values, in the shape of ``graphmailer doctor --json``."""

@final
class VerifyRow:
    """One sender's result in a ``Verification``."""

    @property
    def sender(self) -> str:
        """The mailbox tried."""
    @property
    def expected(self) -> str:
        """``"allowed"`` or ``"denied"``."""
    @property
    def observed(self) -> str:
        """``"sent"``, ``"denied"`` or ``"failed"`` (inconclusive)."""
    @property
    def passed(self) -> bool:
        """``True`` when what happened is what should happen."""
    @property
    def code(self) -> Optional[str]:
        """The service's code when it refused, or ``None``."""
    @property
    def request_id(self) -> Optional[str]:
        """The request id of the try, or ``None``."""
    @property
    def detail(self) -> str:
        """A sentence for people."""

@final
class Verification:
    """One round of ``Mailer.verify()``; true when the restriction holds."""

    @property
    def holds(self) -> bool:
        """``True`` when every allowed sender sent and every denied one was refused."""
    @property
    def round(self) -> int:
        """Which round this is (1 for the first)."""
    @property
    def rows(self) -> List[VerifyRow]:
        """One row per sender, allowed ones first."""
    def __bool__(self) -> bool: ...

@final
class Mailer:
    """Sends mail through Microsoft Graph with app-only credentials.

    Create one per application and share it between threads and coroutines:
    all its sends share one access token, one connection pool and Graph's
    limit of 4 requests in flight per mailbox. Every setting is checked here;
    a wrong one raises ``ConfigError`` naming it. Give ``client_secret``,
    ``client_certificate``, or ``client_assertion``: a callable that returns
    the platform's token (a JWT) for a federated credential, called once per
    token request (GitHub Actions, another cloud's identity, SPIFFE). The
    secret and the assertion are never shown: not in ``repr()``, errors or
    logs. A federated token file and a managed identity need no argument:
    ``Mailer.from_env()`` reads ``AZURE_FEDERATED_TOKEN_FILE`` and
    ``GRAPHMAILER_CREDENTIAL=managed_identity`` as Azure's SDKs do.

    ``large_messages=True`` lets a message over Graph's 4 MB request limit
    (attachments of up to 150 MB each) go through a draft and upload
    sessions, which needs the Mail.ReadWrite application permission besides
    Mail.Send; without it such a message is refused before any network call.
    ``default_sender`` is the mailbox ``send_mime`` sends as when the message
    names none that can send.
    """

    def __new__(
        cls,
        *,
        tenant_id: str,
        client_id: str,
        client_secret: Optional[str] = None,
        client_certificate: Optional[ClientCertificate] = None,
        client_assertion: Optional[Callable[[], str]] = None,
        allowed_senders: Optional[Union[str, Iterable[str]]] = None,
        cloud: Optional[str] = None,
        authority_host: Optional[str] = None,
        graph_endpoint: Optional[str] = None,
        scope: Optional[str] = None,
        ca_bundle_path: Optional[_StrPath] = None,
        ca_bundle_pem: Optional[Union[str, bytes]] = None,
        timeout: Optional[_Seconds] = None,
        connect_timeout: Optional[_Seconds] = None,
        max_attempts: Optional[int] = None,
        retry_deadline: Optional[_Seconds] = None,
        max_concurrent_per_mailbox: Optional[int] = None,
        large_messages: Optional[bool] = None,
        default_sender: Optional[str] = None,
    ) -> Self: ...
    @staticmethod
    def from_env() -> Mailer:
        """A mailer configured from ``AZURE_TENANT_ID``, ``AZURE_CLIENT_ID``,
        ``AZURE_CLIENT_SECRET`` (or ``AZURE_CLIENT_CERTIFICATE_PATH``),
        ``AZURE_AUTHORITY_HOST`` and the ``GRAPHMAILER_*`` settings."""
    @staticmethod
    def from_file(path: _StrPath) -> Mailer:
        """A mailer configured from a TOML file; what it leaves out is read
        from the environment."""
    @overload
    def send(
        self, message: Message, /, *, on_progress: Optional[Callable[[Progress], object]] = None
    ) -> SendReceipt: ...
    @overload
    def send(
        self,
        *,
        sender: str,
        on_progress: Optional[Callable[[Progress], object]] = None,
        **parts: Unpack[_MessageParts],
    ) -> SendReceipt:
        """Sends a message (a ``Message``, or the message as keywords) and
        waits for Graph's answer, with the GIL released; Ctrl-C raises
        ``KeyboardInterrupt``. Returns a ``SendReceipt``; failures raise a
        ``GraphMailerError`` subclass. A message over Graph's 4 MB request
        limit needs ``large_messages=True`` (and Mail.ReadWrite); it goes
        through a draft that a failure or cancellation deletes."""
    @overload
    def send_async(
        self, message: Message, /, *, on_progress: Optional[Callable[[Progress], object]] = None
    ) -> asyncio.Future[SendReceipt]: ...
    @overload
    def send_async(
        self,
        *,
        sender: str,
        on_progress: Optional[Callable[[Progress], object]] = None,
        **parts: Unpack[_MessageParts],
    ) -> asyncio.Future[SendReceipt]:
        """Like ``send``, for asyncio: call it inside a coroutine and await
        the result. The event loop is never blocked."""
    def send_mime(self, message: _MimeMessage, /, *, sender: Optional[str] = None) -> SendReceipt:
        """Sends a ready RFC 5322 message (bytes, an ``email.message.Message``
        or a binary file object; a ``str`` raises ``TypeError``) through
        Graph's MIME ``sendMail``, to its To, Cc and Bcc, as ``sender``, else
        its From address, else ``default_sender``. Over about 3 MB it goes
        through a draft and upload sessions with ``large_messages`` on, and
        raises ``InvalidMessageError`` (code ``RequestEntityTooLarge``) before
        any request with them off; a malformed
        message raises ``InvalidMessageError`` naming the field (``mime``,
        ``mime.To``, ``sender``, ...)."""
    def send_mime_async(self, message: _MimeMessage, /, *, sender: Optional[str] = None) -> asyncio.Future[SendReceipt]:
        """Like ``send_mime``, for asyncio; a file object is read before it returns."""
    def send_mime_file(self, path: _StrPath, *, sender: Optional[str] = None) -> SendReceipt:
        """Sends the RFC 5322 message in the file at ``path``, as ``send_mime`` does."""
    def send_mime_file_async(self, path: _StrPath, *, sender: Optional[str] = None) -> asyncio.Future[SendReceipt]:
        """Like ``send_mime_file``, for asyncio."""
    def diagnose(self) -> Diagnosis:
        """Gets a fresh token and explains it; failures come back as findings."""
    def diagnose_async(self) -> asyncio.Future[Diagnosis]:
        """Like ``diagnose``, for asyncio."""
    def verify(
        self,
        allowed: Optional[Union[str, Iterable[str]]] = None,
        denied: Optional[Union[str, Iterable[str]]] = None,
    ) -> Verification:
        """Checks that the tenant's restriction holds: each ``allowed`` sender
        sends a test message to itself, each ``denied`` one is refused."""
    def verify_async(
        self,
        allowed: Optional[Union[str, Iterable[str]]] = None,
        denied: Optional[Union[str, Iterable[str]]] = None,
    ) -> asyncio.Future[Verification]:
        """Like ``verify``, for asyncio."""
    def verify_until(
        self,
        allowed: Optional[Union[str, Iterable[str]]] = None,
        denied: Optional[Union[str, Iterable[str]]] = None,
        *,
        wait: _Seconds,
        interval: Optional[_Seconds] = None,
        progress: Optional[Callable[[Verification, float], object]] = None,
    ) -> Verification:
        """Repeats ``verify`` every ``interval`` (default: a twelfth of ``wait``,
        between 10 s and 5 min) until the restriction holds or ``wait`` has
        passed; returns the last round."""
    @property
    def tenant_id(self) -> str:
        """The directory (tenant) ID or domain."""
    @property
    def client_id(self) -> str:
        """The application (client) ID."""
    @property
    def credential(self) -> str:
        """``"client secret"``, ``"certificate"``, ``"federated token file"``,
        ``"assertion callback"`` or ``"managed identity (...)"``."""
    @property
    def cloud(self) -> str:
        """``"global"``, ``"usgov"``, ``"usgovdod"`` or ``"china"``."""
    @property
    def authority_host(self) -> str:
        """The identity platform's origin."""
    @property
    def graph_endpoint(self) -> str:
        """Microsoft Graph's origin."""
    @property
    def token_url(self) -> str:
        """The token endpoint for the tenant."""
    @property
    def scope(self) -> str:
        """The scope requested with each token."""
    @property
    def allowed_senders(self) -> List[str]:
        """The local sender allowlist; empty means no local restriction."""
    @property
    def large_messages(self) -> bool:
        """Whether a message over 4 MB may go through a draft and upload sessions."""
    @property
    def default_sender(self) -> Optional[str]:
        """The mailbox ``send_mime`` sends as when the message names none, or ``None``."""
    @property
    def max_attempts(self) -> int:
        """Attempts per request, the first included."""
    @property
    def retry_deadline(self) -> float:
        """_Seconds after which no retry starts."""
    @property
    def token_requests(self) -> int:
        """How many token requests this mailer has made."""

@final
class QueuedMail:
    """One mail in the outbox, as ``Outbox.status`` reports it."""

    @property
    def id(self) -> str:
        """The queue id."""
    @property
    def state(self) -> str:
        """``"queued"``, ``"sending"``, ``"sent"``, ``"deferred"``, ``"failed"``
        or ``"uncertain"`` (a try may have gone out; held for an operator)."""
    @property
    def sender(self) -> str:
        """The mailbox it is sent as."""
    @property
    def recipients(self) -> int:
        """How many To, Cc and Bcc addresses it has."""
    @property
    def attempts(self) -> int:
        """How many times a worker took it to send."""
    @property
    def created(self) -> datetime.datetime:
        """When it was queued (aware, UTC)."""
    @property
    def next_attempt(self) -> Optional[datetime.datetime]:
        """When a worker may next take it (queued and deferred mail)."""
    @property
    def last_error(self) -> Optional[str]:
        """Why the last try did not send it."""
    @property
    def request_id(self) -> Optional[str]:
        """Graph's ``request-id`` of the accepted send."""
    @property
    def sent_at(self) -> Optional[datetime.datetime]:
        """When it was sent."""
    @property
    def internet_message_id(self) -> str:
        """The ``Message-ID`` set at enqueue (the sent mail's ``internetMessageId``)."""
    @property
    def size(self) -> int:
        """The size of the stored message in bytes."""
    def __eq__(self, other: object, /) -> bool: ...

@final
class QueueStats:
    """The queue at a glance, as ``Outbox.stats`` reports it."""

    @property
    def by_state(self) -> Dict[str, int]:
        """How many mails are in each state, every state present."""
    @property
    def oldest_unsent_age(self) -> Optional[datetime.timedelta]:
        """How long the oldest mail not yet sent or failed has waited, or ``None``."""
    def __eq__(self, other: object, /) -> bool: ...

@final
class RunSummary:
    """What one ``Outbox.run_until_empty`` did."""

    @property
    def sent(self) -> int:
        """Mails Graph accepted."""
    @property
    def deferred(self) -> int:
        """Mails left for a later try."""
    @property
    def failed(self) -> int:
        """Mails refused for good."""
    @property
    def uncertain(self) -> int:
        """Mails held for an operator, as a try may have gone out."""
    @property
    def reconciled(self) -> int:
        """Sends found in Sent Items after an ambiguous answer or a lost lease."""
    @property
    def resent(self) -> int:
        """Sends tried again after Sent Items showed the earlier try had not gone out."""
    def __eq__(self, other: object, /) -> bool: ...

@final
class Outbox:
    """A durable queue of mail: ``enqueue`` returns once the message is
    committed; ``run``/``run_until_empty`` deliver it through a ``Mailer``.

    ``url`` is ``sqlite:PATH`` or ``postgres://...``; a bad one raises
    ``ConfigError`` naming ``outbox``.
    """

    def __new__(cls, url: str) -> Self: ...
    @staticmethod
    def open(url: str) -> Outbox:
        """The same as ``Outbox(url)``."""
    @staticmethod
    def open_async(url: str) -> asyncio.Future[Outbox]:
        """Like ``open``, for asyncio."""
    def enqueue(self, message: Message, *, mailer: Optional[Mailer] = None) -> str:
        """Checks and commits ``message``; returns its queue id. An invalid
        message raises ``InvalidMessageError`` naming the field and is not stored.
        With ``mailer``, what it could never send (a sender outside its
        ``allowed_senders``, too large with ``large_messages`` off) raises now
        instead of failing in the queue."""
    def enqueue_async(self, message: Message, *, mailer: Optional[Mailer] = None) -> asyncio.Future[str]:
        """Like ``enqueue``, for asyncio."""
    def enqueue_mime(
        self, data: _MimeMessage, /, *, sender: Optional[str] = None, mailer: Optional[Mailer] = None
    ) -> str:
        """Queues a ready RFC 5322 message (as ``Mailer.send_mime`` takes);
        returns its queue id. ``mailer`` as for ``enqueue``."""
    def enqueue_mime_async(
        self, data: _MimeMessage, /, *, sender: Optional[str] = None, mailer: Optional[Mailer] = None
    ) -> asyncio.Future[str]:
        """Like ``enqueue_mime``, for asyncio."""
    def status(self, id: str) -> Optional[QueuedMail]:
        """The mail's record, or ``None`` when the queue holds no such mail."""
    def status_async(self, id: str) -> asyncio.Future[Optional[QueuedMail]]:
        """Like ``status``, for asyncio."""
    def list(self, *, state: Optional[str] = None, limit: Optional[int] = None) -> List[QueuedMail]:
        """The queue's mail, oldest first; only those in ``state``, at most
        ``limit``, when given (``graphmailer queue list``)."""
    def list_async(
        self, *, state: Optional[str] = None, limit: Optional[int] = None
    ) -> asyncio.Future[List[QueuedMail]]:
        """Like ``list``, for asyncio."""
    def stats(self) -> QueueStats:
        """How many mails are in each state, and the oldest unsent one's age
        (``graphmailer queue stats``)."""
    def stats_async(self) -> asyncio.Future[QueueStats]:
        """Like ``stats``, for asyncio."""
    def retry_all_deferred(self) -> int:
        """Makes every deferred mail due now; returns how many
        (``graphmailer queue retry --all-deferred``)."""
    def retry_all_deferred_async(self) -> asyncio.Future[int]:
        """Like ``retry_all_deferred``, for asyncio."""
    def retry(self, id: str) -> None:
        """Makes a deferred or failed mail due now (``graphmailer queue retry``);
        another state, or an unknown id, raises with ``field == "id"``."""
    def retry_async(self, id: str) -> asyncio.Future[None]:
        """Like ``retry``, for asyncio."""
    def release(self, id: str) -> None:
        """Sends an uncertain mail again, on your word that it did not go out
        (``graphmailer queue release``)."""
    def release_async(self, id: str) -> asyncio.Future[None]:
        """Like ``release``, for asyncio."""
    def delete(self, id: str) -> None:
        """Removes a mail no worker is sending (``graphmailer queue delete``)."""
    def delete_async(self, id: str) -> asyncio.Future[None]:
        """Like ``delete``, for asyncio."""
    def run_until_empty(self, mailer: Mailer) -> RunSummary:
        """Delivers until nothing is due; returns what it did."""
    def run_until_empty_async(self, mailer: Mailer) -> asyncio.Future[RunSummary]:
        """Like ``run_until_empty``, for asyncio."""
    def run(self, mailer: Mailer) -> None:
        """Delivers as mail becomes due until interrupted (Ctrl-C), after
        recording the mail being sent."""
    def run_async(self, mailer: Mailer) -> asyncio.Future[None]:
        """Like ``run``, for asyncio: delivers until cancelled."""

def policy_script(
    app_id: str,
    mailboxes: Union[str, Iterable[str]],
    *,
    style: str = "rbac",
    service_principal_id: Optional[str] = None,
    display_name: Optional[str] = None,
    denied: Optional[Union[str, Iterable[str]]] = None,
    group: Optional[str] = None,
) -> str:
    """The Exchange Online PowerShell that restricts app ``app_id`` to send
    only as ``mailboxes``. ``style`` is ``"rbac"`` (needs
    ``service_principal_id``) or ``"application_access_policy"`` (needs
    ``group``). Values are checked (``ConfigError`` naming one) and quoted."""
