//! Exchange's rules, applied once the message reads as a message: the
//! header collection, attachments, recipients and their number, and the
//! tenant's maximum message size (attachments counted base64-encoded).

use serde_json::{Map, Value};

use super::*;
use crate::directory::is_email_address;
use crate::drafts::encoded_size;

/// Graph allows at most this many `internetMessageHeaders`.
const MAX_HEADERS: usize = 5;

/// What counts against the tenant's maximum message size in a sendMail
/// message: the body's text plus every attachment as Exchange stores it,
/// base64-encoded (a third more than the file), so a 30 MB file does not
/// fit a 35 MB limit.
pub(crate) fn message_size(properties: &Map<String, Value>) -> u64 {
    let body = get(properties, "body")
        .and_then(Value::as_object)
        .and_then(|b| get(b, "content"))
        .and_then(Value::as_str)
        .map_or(0, str::len) as u64;
    let attachments = match get(properties, "attachments") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|a| get(a.as_object()?, "contentBytes")?.as_str())
            .filter_map(decode_base64)
            .map(|bytes| encoded_size(bytes.len() as u64))
            .sum(),
        _ => 0,
    };
    body + attachments
}

/// `ErrorMessageSizeExceeded` when `size` is over the tenant's maximum.
pub(crate) fn check_message_size(size: u64, limit: u64) -> Result<(), Invalid> {
    if size <= limit {
        return Ok(());
    }
    Err(Invalid {
        code: "ErrorMessageSizeExceeded",
        message: format!(
            "The message exceeds the maximum supported size of {limit} bytes ({} MB); it is {size} bytes (body plus attachments as encoded, base64 adding a third). Send smaller attachments or ask the administrator to raise the organization's maximum message size.",
            limit / (1024 * 1024)
        ),
    })
}

/// Exchange's rules on headers and attachments, applied once the message
/// reads as a message.
pub(super) fn check_headers_and_attachments(
    properties: &Map<String, Value>,
) -> Result<(), Invalid> {
    if let Some(Value::Array(headers)) = get(properties, "internetMessageHeaders") {
        if headers.len() > MAX_HEADERS {
            return Err(header_collection(
                "Maximum number of headers in one message should be less than or equal to 5.",
            ));
        }
        for header in headers {
            let name = header
                .as_object()
                .and_then(|h| get(h, "name"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let custom = name.len() > 2 && name.as_bytes()[..2].eq_ignore_ascii_case(b"x-");
            if !custom {
                return Err(header_name(format!(
                    "The internet message header name '{name}' should start with 'x-' or 'X-'."
                )));
            }
        }
    }
    if let Some(Value::Array(attachments)) = get(properties, "attachments") {
        for attachment in attachments {
            check_attachment(attachment)?;
        }
    }
    Ok(())
}

/// Exchange's recipient resolution at submission: every address valid and
/// at least one To, Cc or Bcc recipient.
pub(crate) fn check_recipients(properties: &Map<String, Value>) -> Result<(), Invalid> {
    let mut recipients = 0usize;
    for list in ["toRecipients", "ccRecipients", "bccRecipients", "replyTo"] {
        let Some(Value::Array(items)) = get(properties, list) else {
            continue;
        };
        for item in items {
            let address = item
                .as_object()
                .and_then(|r| get(r, "emailAddress"))
                .and_then(Value::as_object)
                .and_then(|e| get(e, "address"))
                .and_then(Value::as_str)
                .map(str::trim)
                .unwrap_or("");
            if !is_email_address(address) {
                return Err(invalid_recipients(format!(
                    "At least one recipient isn't valid., Recipient '{address}' isn't resolved. All recipients must be resolved before a message can be submitted."
                )));
            }
            if list != "replyTo" {
                recipients += 1;
            }
        }
    }
    if recipients == 0 {
        return Err(invalid_recipients(
            "At least one recipient isn't valid., A message can't be sent because it contains no recipients.",
        ));
    }
    Ok(())
}

/// To, Cc and Bcc recipients of a message (Reply-To does not count).
pub(crate) fn recipient_count(properties: &Map<String, Value>) -> usize {
    ["toRecipients", "ccRecipients", "bccRecipients"]
        .iter()
        .filter_map(|list| get(properties, list)?.as_array())
        .map(Vec::len)
        .sum()
}

/// Exchange Online's recipients-per-message limit (500 unless raised).
pub(crate) fn check_recipient_limit(count: usize, limit: u32) -> Result<(), Invalid> {
    if count <= limit as usize {
        return Ok(());
    }
    Err(Invalid {
        code: "ErrorRecipientLimitExceeded",
        message: format!(
            "The message has {count} recipients; the organization allows at most {limit} per message (RESOLVER.ADR.RecipLimit; too many recipients). Split the recipients over several messages."
        ),
    })
}

pub(super) fn check_attachment(value: &Value) -> Result<(), Invalid> {
    let Some(attachment) = value.as_object() else {
        return Ok(()); // read_attachment refused it already
    };
    let odata_type = get(attachment, "@odata.type").and_then(Value::as_str);
    match odata_type {
        None => {
            // An attachment is an abstract OData type: without the property
            // the reader cannot pick a concrete one.
            return Err(body_read(format!(
                "Cannot create an abstract class. The property '@odata.type' is missing on an attachment; a file attachment needs \"@odata.type\": \"{FILE_ATTACHMENT}\"."
            )));
        }
        Some(t)
            if !t
                .trim_start_matches('#')
                .eq_ignore_ascii_case(&FILE_ATTACHMENT[1..]) =>
        {
            return Err(invalid_request(format!(
                "The attachment type '{t}' is not supported here; use '{FILE_ATTACHMENT}'."
            )));
        }
        Some(_) => {}
    }
    let name = get(attachment, "name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if name.trim().is_empty() {
        return Err(invalid_request("The attachment's 'name' is required."));
    }
    if get(attachment, "contentBytes")
        .and_then(Value::as_str)
        .is_none()
    {
        return Err(required_property_missing(format!(
            "Required property 'contentBytes' is missing on the file attachment '{name}'."
        )));
    }
    Ok(())
}
