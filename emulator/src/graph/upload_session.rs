//! `POST /users/{id}/messages/{id}/attachments/createUploadSession`
//! (docs/graph-mail-protocol.md §6, step 2): an upload session for one file attachment of
//! 3 to 150 MB. Its upload URL is served by `upload.rs`.

use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};

use super::drafts::item_not_found;
use super::request::{Answer, GraphRequest};
use super::send_mail::bad_request;
use super::validation::{Invalid, read_bool};
use crate::defaults::{MAX_UPLOAD_SESSION_BYTES, MIN_UPLOAD_SESSION_BYTES};
use crate::drafts::{AttachmentItem, UploadSession, property, rfc3339};
use crate::state::CounterCells;

/// `POST /users/{id}/messages/{id}/attachments/createUploadSession`.
pub(super) async fn create_session(
    mut request: GraphRequest,
    user_id: &str,
    message_id: &str,
) -> Answer {
    let body = request.read_body().await?;
    let (shared, ids) = (&*request.shared, &request.ids);
    let access = request.open_mailbox(user_id, &["Mail.ReadWrite"])?;
    access.check_policy(ids)?;
    let item = read_attachment_item(&body).map_err(|invalid| bad_request(&invalid, ids))?;
    let lifetime = Duration::from_secs(access.settings.upload_session_lifetime_secs);
    let mailbox = access.mailbox.address.clone();
    let session = UploadSession::new(&mailbox, message_id, item, lifetime, &shared.clock);
    let url = format!(
        "{}/upload/users/{mailbox}/messages/{message_id}/attachments/{}?authtoken={}",
        shared.origin, session.id, session.token
    );
    let expires_at = rfc3339(session.expires_at);
    if !shared.drafts.open_session(session) {
        return Err(item_not_found(ids));
    }
    CounterCells::bump(&shared.counters.upload_sessions_created);
    let answer = json!({
        "@odata.context": format!("{}/v1.0/$metadata#microsoft.graph.uploadSession", shared.origin),
        "uploadUrl": url,
        "expirationDateTime": expires_at,
        "nextExpectedRanges": ["0-"],
    });
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

fn invalid(code: &'static str, message: impl Into<String>) -> Invalid {
    Invalid {
        code,
        message: message.into(),
    }
}

/// Reads `{"AttachmentItem": {...}}`, names case-insensitive.
fn read_attachment_item(body: &[u8]) -> Result<AttachmentItem, Invalid> {
    let root: Value = serde_json::from_slice(body).map_err(|e| {
        invalid(
            "RequestBodyRead",
            format!("Invalid JSON. A token was not recognized in the JSON content. (line {}, column {})", e.line(), e.column()),
        )
    })?;
    let root = root
        .as_object()
        .ok_or_else(|| invalid("RequestBodyRead", "A 'StartObject' node was expected."))?;
    let mut item = None;
    for (key, value) in root {
        if key.contains('@') {
            continue;
        }
        if !key.eq_ignore_ascii_case("AttachmentItem") {
            return Err(invalid(
                "RequestBodyRead",
                format!(
                    "The parameter '{key}' in the request payload is not a valid parameter for the operation 'createUploadSession'."
                ),
            ));
        }
        item = Some(value);
    }
    let item = item.and_then(Value::as_object).ok_or_else(|| {
        invalid(
            "ErrorInvalidRequest",
            "The 'AttachmentItem' parameter is missing from the request payload: send {\"AttachmentItem\": {\"attachmentType\": \"file\", \"name\": ..., \"size\": ...}}.",
        )
    })?;
    read_item_properties(item)
}

fn read_item_properties(item: &Map<String, Value>) -> Result<AttachmentItem, Invalid> {
    const KNOWN: &[&str] = &[
        "attachmentType",
        "name",
        "size",
        "contentType",
        "isInline",
        "contentId",
    ];
    if let Some(key) = item
        .keys()
        .find(|k| !k.contains('@') && !KNOWN.iter().any(|n| n.eq_ignore_ascii_case(k)))
    {
        return Err(invalid(
            "RequestBodyRead",
            format!(
                "The property '{key}' does not exist on type 'microsoft.graph.attachmentItem'. Make sure to only use property names that are defined by the type or mark the type as open type."
            ),
        ));
    }
    let text = |name: &str| -> Result<Option<&str>, Invalid> {
        match property(item, name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(invalid(
                "RequestBodyRead",
                format!("Cannot convert the literal '{other}' to the expected type 'Edm.String'."),
            )),
        }
    };
    match text("attachmentType")? {
        None => {
            return Err(invalid(
                "ErrorInvalidRequest",
                "The AttachmentItem's 'attachmentType' is required; use \"file\".",
            ));
        }
        Some(t) if t.eq_ignore_ascii_case("file") => {}
        Some(t) => {
            return Err(invalid(
                "ErrorInvalidRequest",
                format!("An upload session takes 'attachmentType': \"file\", not '{t}'."),
            ));
        }
    }
    let name = text("name")?
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| {
            invalid(
                "ErrorInvalidRequest",
                "The AttachmentItem's 'name' is required.",
            )
        })?;
    let size = read_size(property(item, "size"))?;
    if size < MIN_UPLOAD_SESSION_BYTES {
        return Err(invalid(
            "ErrorAttachmentSizeShouldNotBeLessThanMinimumSize",
            format!(
                "Attachment size must be at least {MIN_UPLOAD_SESSION_BYTES} bytes (3 MB) for an upload session; it is {size}. Attach smaller files with POST .../attachments."
            ),
        ));
    }
    if size > MAX_UPLOAD_SESSION_BYTES {
        return Err(invalid(
            "ErrorAttachmentSizeShouldNotBeGreaterThanMaximumSize",
            format!(
                "Attachment size must be at most {MAX_UPLOAD_SESSION_BYTES} bytes (150 MB); it is {size}."
            ),
        ));
    }
    let is_inline = property(item, "isInline")
        .map(read_bool)
        .transpose()?
        .flatten()
        .unwrap_or(false);
    Ok(AttachmentItem {
        name: name.to_owned(),
        size,
        content_type: text("contentType")?
            .unwrap_or("application/octet-stream")
            .to_owned(),
        is_inline,
        content_id: text("contentId")?.map(str::to_owned),
    })
}

/// `size` is an Int64: a JSON number, or a string of digits as OData
/// allows for 64-bit values.
fn read_size(value: Option<&Value>) -> Result<u64, Invalid> {
    let missing = || {
        invalid(
            "ErrorInvalidRequest",
            "The AttachmentItem's 'size' is required: the file's length in bytes.",
        )
    };
    match value {
        None | Some(Value::Null) => Err(missing()),
        Some(Value::Number(n)) => n.as_u64().ok_or_else(|| {
            invalid(
                "RequestBodyRead",
                format!("Cannot convert the literal '{n}' to the expected type 'Edm.Int64'."),
            )
        }),
        Some(Value::String(s)) => s.trim().parse().map_err(|_| {
            invalid(
                "RequestBodyRead",
                format!("Cannot convert the literal '{s}' to the expected type 'Edm.Int64'."),
            )
        }),
        Some(other) => Err(invalid(
            "RequestBodyRead",
            format!("Cannot convert the literal '{other}' to the expected type 'Edm.Int64'."),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachment_items() {
        let ok = read_attachment_item(
            br#"{"attachmentItem": {"AttachmentType": "file", "Name": "a.pdf", "Size": "3145728"}}"#,
        )
        .unwrap();
        assert_eq!(ok.size, 3_145_728);
        assert_eq!(ok.content_type, "application/octet-stream");
        let code = |body: &[u8]| read_attachment_item(body).unwrap_err().code;
        assert_eq!(
            code(
                br#"{"AttachmentItem": {"attachmentType": "file", "name": "a", "size": 3145727}}"#
            ),
            "ErrorAttachmentSizeShouldNotBeLessThanMinimumSize"
        );
        assert_eq!(
            code(br#"{"AttachmentItem": {"attachmentType": "file", "name": "a", "size": 157286401}}"#),
            "ErrorAttachmentSizeShouldNotBeGreaterThanMaximumSize"
        );
        assert_eq!(
            code(br#"{"AttachmentItem": {"name": "a", "size": 4000000}}"#),
            "ErrorInvalidRequest"
        );
        assert_eq!(
            code(br#"{"AttachmentItem": {"attachmentType": "file", "size": 4000000}}"#),
            "ErrorInvalidRequest"
        );
        assert_eq!(
            code(br#"{"AttachmentItem": {"attachmentType": "file", "name": "a"}}"#),
            "ErrorInvalidRequest"
        );
        assert_eq!(code(br#"{}"#), "ErrorInvalidRequest");
        assert_eq!(
            code(br#"{"AttachmentItem": {"attachmentType": "file", "name": "a", "size": 4000000, "colour": 1}}"#),
            "RequestBodyRead"
        );
    }
}
