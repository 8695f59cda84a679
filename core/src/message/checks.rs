//! The checks a message must pass before any network call; each error
//! names the field.

use crate::address::{check_address, check_single_line, is_guid, printable};
use crate::error::{Error, Result};
use crate::message_limits::{MAX_ATTACHMENT_BYTES, MAX_HEADERS, MAX_RECIPIENTS};

use super::{Attachment, Message};

impl Message {
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
        check_attachments(&self.attachments)
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
}

/// The checks of every attachment: a name, a size Graph takes, a MIME type, a
/// content id where inline. Errors name `attachments[i]`.
pub(crate) fn check_attachments(attachments: &[Attachment]) -> Result<()> {
    for (i, attachment) in attachments.iter().enumerate() {
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
