//! Attachments: where their bytes are (memory or a file read when sending)
//! and what type they are.

use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::message_limits::MAX_ATTACHMENT_BYTES;

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
