//! The message model and the checks it must pass before any network call:
//! the message and its parts here, attachments and their content in
//! `attachment.rs`, the checks in `checks.rs`.

mod attachment;
mod checks;
#[cfg(test)]
mod tests;

use std::str::FromStr;

use crate::address::{Address, printable};
use crate::error::{Error, Result};

pub use attachment::{Attachment, Content, guess_content_type};
pub(crate) use checks::{check_attachments, check_sender};

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
}
