//! The message model and the checks it must pass before any network call.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use bytes::Bytes;

use crate::address::{Address, check_address, check_single_line, is_guid, printable};
use crate::error::{Error, Result};
use crate::message_limits::{MAX_ATTACHMENT_BYTES, MAX_HEADERS, MAX_RECIPIENTS};

/// Whether the body is plain text or HTML.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BodyType {
    #[default]
    Text,
    Html,
}

/// The message body.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Body {
    pub content_type: BodyType,
    pub content: String,
}

/// How important the sender marks the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Importance {
    Low,
    Normal,
    High,
}

impl Importance {
    /// Graph's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Importance::Low => "low",
            Importance::Normal => "normal",
            Importance::High => "high",
        }
    }
}

impl FromStr for Importance {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "low" => Ok(Importance::Low),
            "normal" => Ok(Importance::Normal),
            "high" => Ok(Importance::High),
            _ => Err(Error::invalid(
                "importance",
                format!("'{}' is not one of low, normal, high", printable(s)),
            )),
        }
    }
}

/// A custom internet message header (`x-invoice-id: 4711`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: String,
}

/// Where an attachment's bytes are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    /// In memory.
    Bytes(Bytes),
    /// In a file, read when the message is sent: whole for a message that fits
    /// one request, in chunks for an upload session, so a 100 MB file never
    /// sits in memory at once.
    File {
        /// The file.
        path: PathBuf,
        /// Its size when it was attached; a file that changes size before it
        /// is sent is refused rather than sent cut short.
        size: u64,
    },
}

impl Content {
    /// The size in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Content::Bytes(b) => b.len() as u64,
            Content::File { size, .. } => *size,
        }
    }

    /// True when there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes in memory, or `None` for a file not read yet.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            Content::Bytes(b) => Some(b),
            Content::File { .. } => None,
        }
    }

    /// All the bytes: the ones in memory, or the file read whole.
    pub fn read_all(&self) -> Result<Bytes> {
        match self {
            Content::Bytes(b) => Ok(b.clone()),
            Content::File { path, size } => {
                let bytes = std::fs::read(path).map_err(|e| read_error(path, &e))?;
                if bytes.len() as u64 != *size {
                    return Err(changed_error(path, *size));
                }
                Ok(bytes.into())
            }
        }
    }

    /// `len` bytes from `offset`, for one chunk of an upload session.
    pub(crate) fn read_at(&self, offset: u64, len: usize) -> Result<Bytes> {
        match self {
            Content::Bytes(b) => {
                let start = offset as usize;
                Ok(b.slice(start..start + len))
            }
            Content::File { path, size } => {
                use std::io::{Read, Seek, SeekFrom};
                let mut file = std::fs::File::open(path).map_err(|e| read_error(path, &e))?;
                let now = file.metadata().map_err(|e| read_error(path, &e))?.len();
                if now != *size {
                    return Err(changed_error(path, *size));
                }
                file.seek(SeekFrom::Start(offset))
                    .map_err(|e| read_error(path, &e))?;
                let mut chunk = vec![0u8; len];
                file.read_exact(&mut chunk)
                    .map_err(|e| read_error(path, &e))?;
                Ok(chunk.into())
            }
        }
    }
}

fn read_error(path: &Path, e: &std::io::Error) -> Error {
    Error::invalid(
        "attachments",
        format!("cannot read '{}': {e}", path.display()),
    )
}

fn changed_error(path: &Path, size: u64) -> Error {
    Error::invalid(
        "attachments",
        format!(
            "'{}' changed size since it was attached ({size} bytes then): nothing was sent",
            path.display()
        ),
    )
    .with_hint("attach a file only once it is completely written")
}

impl From<Bytes> for Content {
    fn from(b: Bytes) -> Self {
        Content::Bytes(b)
    }
}

impl From<Vec<u8>> for Content {
    fn from(v: Vec<u8>) -> Self {
        Content::Bytes(v.into())
    }
}

/// A file attached to the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// File name shown to the recipient.
    pub name: String,
    /// MIME type; guessed from the name's extension when not given.
    pub content_type: Option<String>,
    /// The bytes, in memory or in a file.
    pub content: Content,
    /// Shown in the body (an image referenced as `cid:` from the HTML) rather
    /// than listed as a file.
    pub inline: bool,
    /// The id the HTML body refers to with `cid:...`.
    pub content_id: Option<String>,
}

impl Attachment {
    /// An attachment from memory; the content type is guessed from the name.
    pub fn from_bytes(name: impl Into<String>, content: impl Into<Bytes>) -> Self {
        Attachment {
            name: name.into(),
            content_type: None,
            content: Content::Bytes(content.into()),
            inline: false,
            content_id: None,
        }
    }

    /// An attachment from a file, named after it. The file must exist now;
    /// its bytes are read when the message is sent (in chunks when it goes
    /// through an upload session). A pipe or a device, which can be read only
    /// once, is read now.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let metadata = std::fs::metadata(path).map_err(|e| read_error(path, &e))?;
        if metadata.is_dir() {
            return Err(Error::invalid(
                "attachments",
                format!("'{}' is a directory, not a file", path.display()),
            ));
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "attachment".into());
        let content = if metadata.is_file() {
            Content::File {
                path: path.to_path_buf(),
                size: metadata.len(),
            }
        } else {
            // A pipe or a device (`<(command)`, /dev/stdin) has no size and
            // can be read once only: read it now, up to Graph's largest file.
            use std::io::Read;
            let mut bytes = Vec::new();
            std::fs::File::open(path)
                .and_then(|f| f.take(MAX_ATTACHMENT_BYTES + 1).read_to_end(&mut bytes))
                .map_err(|e| read_error(path, &e))?;
            Content::Bytes(bytes.into())
        };
        Ok(Attachment {
            name,
            content_type: None,
            content,
            inline: false,
            content_id: None,
        })
    }

    /// The size in bytes.
    pub fn size(&self) -> u64 {
        self.content.len()
    }

    /// Sets the MIME type.
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// Makes the attachment inline, referenced from the HTML as `cid:{content_id}`.
    pub fn inline(mut self, content_id: impl Into<String>) -> Self {
        self.inline = true;
        self.content_id = Some(content_id.into());
        self
    }

    /// The MIME type that will be sent: the one given, or one guessed from
    /// the extension.
    pub fn effective_content_type(&self) -> &str {
        self.content_type
            .as_deref()
            .unwrap_or_else(|| guess_content_type(&self.name))
    }
}

/// The message to send. Build it with the chained methods, then hand it to
/// `Mailer::send`, which validates it before anything leaves the process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The mailbox the mail is sent as: the `{sender}` of
    /// `/users/{sender}/sendMail` (an address or the user's object id).
    pub sender: String,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub bcc: Vec<Address>,
    pub reply_to: Vec<Address>,
    pub subject: String,
    pub body: Body,
    pub importance: Option<Importance>,
    /// Keep a copy in the sender's Sent Items (Graph's default: true).
    pub save_to_sent_items: bool,
    pub headers: Vec<Header>,
    pub attachments: Vec<Attachment>,
}

impl Message {
    /// A message sent as `sender`.
    pub fn new(sender: impl Into<String>) -> Self {
        Message {
            sender: sender.into(),
            to: Vec::new(),
            cc: Vec::new(),
            bcc: Vec::new(),
            reply_to: Vec::new(),
            subject: String::new(),
            body: Body::default(),
            importance: None,
            save_to_sent_items: true,
            headers: Vec::new(),
            attachments: Vec::new(),
        }
    }

    /// Adds a To recipient (`"a@b"` or `("Name", "a@b")`).
    pub fn to(mut self, address: impl Into<Address>) -> Self {
        self.to.push(address.into());
        self
    }
    /// Adds a Cc recipient.
    pub fn cc(mut self, address: impl Into<Address>) -> Self {
        self.cc.push(address.into());
        self
    }
    /// Adds a Bcc recipient.
    pub fn bcc(mut self, address: impl Into<Address>) -> Self {
        self.bcc.push(address.into());
        self
    }
    /// Adds a Reply-To address.
    pub fn reply_to(mut self, address: impl Into<Address>) -> Self {
        self.reply_to.push(address.into());
        self
    }
    /// Sets the subject.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = subject.into();
        self
    }
    /// Sets a plain-text body.
    pub fn text(mut self, content: impl Into<String>) -> Self {
        self.body = Body {
            content_type: BodyType::Text,
            content: content.into(),
        };
        self
    }
    /// Sets an HTML body.
    pub fn html(mut self, content: impl Into<String>) -> Self {
        self.body = Body {
            content_type: BodyType::Html,
            content: content.into(),
        };
        self
    }
    /// Sets the importance.
    pub fn importance(mut self, importance: Importance) -> Self {
        self.importance = Some(importance);
        self
    }
    /// Whether to keep a copy in Sent Items.
    pub fn save_to_sent_items(mut self, save: bool) -> Self {
        self.save_to_sent_items = save;
        self
    }
    /// Adds a custom `x-` header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push(Header {
            name: name.into(),
            value: value.into(),
        });
        self
    }
    /// Adds an attachment.
    pub fn attach(mut self, attachment: Attachment) -> Self {
        self.attachments.push(attachment);
        self
    }

    /// Checks everything that can be checked without the network. The error
    /// names the field (`cc[1].address`, `headers[0].name`, ...).
    pub fn validate(&self) -> Result<()> {
        check_sender(&self.sender)?;
        let lists = [
            ("to", &self.to),
            ("cc", &self.cc),
            ("bcc", &self.bcc),
            ("reply_to", &self.reply_to),
        ];
        for (field, list) in lists {
            for (i, address) in list.iter().enumerate() {
                address.validate(&format!("{field}[{i}]"))?;
            }
        }
        let recipients = self.to.len() + self.cc.len() + self.bcc.len();
        if recipients == 0 {
            return Err(Error::invalid(
                "to",
                "the message has no recipients: give at least one to, cc or bcc address",
            ));
        }
        if recipients > MAX_RECIPIENTS {
            return Err(Error::invalid(
                "to",
                format!(
                    "the message has {recipients} recipients; Exchange Online accepts at most {MAX_RECIPIENTS} per message"
                ),
            ));
        }
        check_single_line("subject", &self.subject)?;
        self.validate_headers()?;
        self.validate_attachments()
    }

    fn validate_headers(&self) -> Result<()> {
        if self.headers.len() > MAX_HEADERS {
            return Err(Error::invalid(
                "headers",
                format!(
                    "{} custom headers given; Graph accepts at most {MAX_HEADERS}",
                    self.headers.len()
                ),
            ));
        }
        for (i, header) in self.headers.iter().enumerate() {
            let field = format!("headers[{i}].name");
            let name = &header.name;
            let well_formed = !name.is_empty()
                && name.len() <= 76
                && name.bytes().all(|b| (33..=126).contains(&b) && b != b':');
            if !well_formed {
                return Err(Error::invalid(
                    &field,
                    format!(
                        "'{}' is not a header name: use printable ASCII without spaces or ':', at most 76 characters",
                        printable(name)
                    ),
                ));
            }
            if !name.to_ascii_lowercase().starts_with("x-") {
                return Err(Error::invalid(
                    &field,
                    format!("'{name}' must start with 'x-': Graph accepts only custom x- headers"),
                ));
            }
            check_single_line(&format!("headers[{i}].value"), &header.value)?;
            if header.value.len() > 998 {
                return Err(Error::invalid(
                    &format!("headers[{i}].value"),
                    "is longer than 998 characters",
                ));
            }
        }
        Ok(())
    }

    fn validate_attachments(&self) -> Result<()> {
        for (i, attachment) in self.attachments.iter().enumerate() {
            let field = |f: &str| format!("attachments[{i}].{f}");
            if attachment.name.trim().is_empty() {
                return Err(Error::invalid(
                    &field("name"),
                    "is empty: give the file a name",
                ));
            }
            check_single_line(&field("name"), &attachment.name)?;
            if attachment.size() > MAX_ATTACHMENT_BYTES {
                return Err(Error::invalid(
                    &format!("attachments[{i}]"),
                    format!(
                        "'{}' is {:.0} MB; Graph accepts files of at most 150 MB",
                        printable(&attachment.name),
                        attachment.size() as f64 / (1024.0 * 1024.0)
                    ),
                ));
            }
            if attachment.name.chars().count() > 255 {
                return Err(Error::invalid(
                    &field("name"),
                    "is longer than 255 characters",
                ));
            }
            if let Some(content_type) = &attachment.content_type {
                let valid = content_type.split_once('/').is_some_and(|(t, s)| {
                    let token = |p: &str| {
                        !p.is_empty()
                            && p.bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
                    };
                    let subtype = s.split(';').next().unwrap_or("").trim();
                    token(t) && token(subtype)
                });
                if !valid {
                    return Err(Error::invalid(
                        &field("content_type"),
                        format!(
                            "'{}' is not a MIME type such as application/pdf",
                            printable(content_type)
                        ),
                    ));
                }
                check_single_line(&field("content_type"), content_type)?;
            }
            match (&attachment.content_id, attachment.inline) {
                (None, true) => {
                    return Err(Error::invalid(
                        &field("content_id"),
                        "an inline attachment needs a content id, which the HTML refers to as cid:<content id>",
                    ));
                }
                (Some(id), _) => {
                    let valid = !id.is_empty()
                        && id
                            .bytes()
                            .all(|b| (33..=126).contains(&b) && b != b'<' && b != b'>');
                    if !valid {
                        return Err(Error::invalid(
                            &field("content_id"),
                            format!(
                                "'{}' is not a content id: printable ASCII without spaces, '<' or '>'",
                                printable(id)
                            ),
                        ));
                    }
                }
                (None, false) => {}
            }
        }
        Ok(())
    }
}

pub(crate) fn check_sender(sender: &str) -> Result<()> {
    if is_guid(sender) {
        return Ok(());
    }
    check_address("sender", sender).map_err(|e| {
        let hint = if sender.eq_ignore_ascii_case("me") {
            "an app-only token has no 'me': name the mailbox to send as, such as erp@contoso.com"
        } else {
            "the sender is the mailbox the mail is sent as: its address or user object id"
        };
        e.with_hint(hint)
    })
}

/// The MIME type for a file name's extension, `application/octet-stream` when
/// unknown.
pub fn guess_content_type(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("pdf") => "application/pdf",
        Some("txt" | "log") => "text/plain",
        Some("csv") => "text/csv",
        Some("htm" | "html") => "text/html",
        Some("xml") => "application/xml",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("svg") => "image/svg+xml",
        Some("webp") => "image/webp",
        Some("zip") => "application/zip",
        Some("ics") => "text/calendar",
        Some("docx") => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        Some("xlsx") => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        Some("pptx") => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        Some("doc") => "application/msword",
        Some("xls") => "application/vnd.ms-excel",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> Message {
        Message::new("erp@contoso.test")
            .to("a@example.com")
            .subject("Invoice 42")
            .text("Hi")
    }

    fn field_of(m: Message) -> String {
        m.validate().unwrap_err().field().unwrap().to_owned()
    }

    #[test]
    fn a_plain_message_passes() {
        ok().validate().unwrap();
        Message::new("7f3c2a9e-4b1d-4e8a-9c6f-2d5e8b1a0c37")
            .bcc("a@example.com")
            .validate()
            .unwrap();
    }

    #[test]
    fn each_rule_names_its_field() {
        assert_eq!(field_of(Message::new("erp@contoso.test")), "to");
        assert_eq!(field_of(ok().cc("x").to("b@example.com")), "cc[0].address");
        assert_eq!(
            field_of(Message {
                sender: "me".into(),
                ..ok()
            }),
            "sender"
        );
        assert_eq!(
            field_of(ok().reply_to(("Bad\nName", "r@example.com"))),
            "reply_to[0].name"
        );
        assert_eq!(field_of(ok().subject("a\r\nBcc: x@y.z")), "subject");
        assert_eq!(field_of(ok().header("Subject", "x")), "headers[0].name");
        assert_eq!(field_of(ok().header("x-a b", "x")), "headers[0].name");
        assert_eq!(field_of(ok().header("x-ok", "a\nb")), "headers[0].value");
        let six = (0..6).fold(ok(), |m, i| m.header(format!("x-h{i}"), "v"));
        assert_eq!(field_of(six), "headers");
        assert_eq!(
            field_of(ok().attach(Attachment::from_bytes("", "x"))),
            "attachments[0].name"
        );
        assert_eq!(
            field_of(ok().attach(Attachment::from_bytes("a.png", "x").with_content_type("png"))),
            "attachments[0].content_type"
        );
        let mut inline = Attachment::from_bytes("a.png", "x");
        inline.inline = true;
        assert_eq!(field_of(ok().attach(inline)), "attachments[0].content_id");
        assert_eq!(
            field_of(ok().attach(Attachment::from_bytes("a.png", "x").inline("<logo>"))),
            "attachments[0].content_id"
        );
        let many = (0..501).fold(Message::new("erp@contoso.test"), |m, i| {
            m.bcc(format!("r{i}@example.com"))
        });
        assert_eq!(field_of(many), "to");
    }

    #[test]
    fn me_as_sender_gets_a_hint() {
        let e = Message {
            sender: "me".into(),
            ..ok()
        }
        .validate()
        .unwrap_err();
        assert!(e.hint().unwrap().contains("no 'me'"));
    }

    #[test]
    fn content_type_is_guessed_from_the_extension() {
        assert_eq!(
            Attachment::from_bytes("Invoice.PDF", "x").effective_content_type(),
            "application/pdf"
        );
        assert_eq!(
            Attachment::from_bytes("blob", "x").effective_content_type(),
            "application/octet-stream"
        );
        let given = Attachment::from_bytes("a.bin", "x").with_content_type("image/png");
        assert_eq!(given.effective_content_type(), "image/png");
    }

    #[test]
    fn from_path_reads_a_regular_file_later_and_a_device_now() {
        let dir = std::env::temp_dir().join(format!("gm-attach-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("report.csv");
        std::fs::write(&path, "a,b\n").unwrap();
        let lazy = Attachment::from_path(&path).unwrap();
        assert!(lazy.content.as_bytes().is_none());
        std::fs::write(&path, "a,b\n1,2\n").unwrap();
        let e = lazy.content.read_all().unwrap_err();
        assert!(e.message().contains("changed size"), "{e}");
        let device = Attachment::from_path("/dev/null").unwrap();
        assert_eq!(device.content.as_bytes().map(|b| b.len()), Some(0));
        assert_eq!(
            Attachment::from_path(&dir).unwrap_err().field(),
            Some("attachments")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn from_path_names_the_file_and_reports_a_missing_one() {
        let e = Attachment::from_path("/nonexistent/invoice.pdf").unwrap_err();
        assert_eq!(e.field(), Some("attachments"));
        assert!(e.message().contains("invoice.pdf"));
    }
}
