//! Entry points for the fuzz targets in `fuzz/`, compiled only with
//! `--cfg fuzzing` (which `cargo fuzz` sets) and in core's unit tests (so a
//! change here that breaks them is seen): they reach parsers that are not
//! public API, so that what reads a stranger's bytes is fuzzed where it is.

use crate::address::Address;
use crate::error::{Error, Result};
use crate::mime::MimeMessage;

/// A large MIME message taken apart as a mailer does, checked, and written
/// as the draft Graph is sent.
pub fn unpack_mime(sender: &str, mime: &MimeMessage) -> Result<Vec<u8>> {
    let unpacked = crate::mime_parts::unpack(sender, mime)?;
    unpacked.message.validate()?;
    crate::wire::draft_body(&unpacked.message, unpacked.internet_message_id.as_deref())
}

/// A MIME message with attachments cut out until it is at most `limit`
/// bytes, as a large one is before its draft is made: the rest, and the
/// sizes of what was cut.
pub fn slim_mime(mime: &MimeMessage, limit: usize) -> Option<(MimeMessage, Vec<u64>)> {
    let slimmed = crate::mime_parts::slim_to(mime, limit)?;
    Some((slimmed.mime, sizes(&slimmed.attachments)))
}

/// The sizes of the attachments Graph's JSON form would carry for `mime`.
pub fn mime_attachment_sizes(mime: &MimeMessage) -> Result<Vec<u64>> {
    let unpacked = crate::mime_parts::unpack("fuzz@contoso.test", mime)?;
    Ok(sizes(&unpacked.message.attachments))
}

fn sizes(attachments: &[crate::Attachment]) -> Vec<u64> {
    attachments.iter().map(crate::Attachment::size).collect()
}

/// The body of the MIME form of `sendMail`.
pub fn mime_request_body(mime: &MimeMessage) -> bytes::Bytes {
    mime.request_body()
}

/// Graph's error answer with `status` and `body` as the error it becomes.
pub fn graph_error(status: u16, request_id: Option<&str>, body: &[u8]) -> Error {
    let status = reqwest::StatusCode::from_u16(status).unwrap_or(reqwest::StatusCode::BAD_REQUEST);
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(value) = request_id.and_then(|v| reqwest::header::HeaderValue::from_str(v).ok()) {
        headers.insert("request-id", value);
    }
    crate::graph_error::graph_error(status, &headers, body)
}

/// A header field's `Name <address>` as graphmailer writes it.
pub fn mailbox(name: Option<&str>, address: &str) -> String {
    crate::headers::mailbox(name, address)
}

/// An address list as graphmailer reads one from a header or an argument.
pub fn parse_address_list(value: &str) -> Vec<Address> {
    crate::headers::parse_address_list(value)
}

/// Whether `address` passes the check every recipient and sender passes.
pub fn check_address(address: &str) -> Result<()> {
    crate::address::check_address("address", address)
}
