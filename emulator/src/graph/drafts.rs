//! Drafts and their small attachments (docs/graph-mail-protocol.md §6, steps 1 and the
//! under-3 MB path): `POST/GET/DELETE /users/{id}/messages[/{id}]` and
//! `POST .../messages/{id}/attachments` (reading them back is
//! `message_read.rs`'s, with every other message). All need
//! `Mail.ReadWrite`, and the mailbox's
//! access policy must let the app in; Mail.Send alone is not enough, which
//! is exactly what an app restricted to Mail.Send finds out on Graph.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::access::MailboxAccess;
use super::graph_error::{GraphRequestIds, graph_error};
use super::mime::check_mime_draft;
use super::mime_message::{mime_to_message, other_headers};
use super::request::{Answer, GraphRequest};
use super::send_mail::{bad_request, media_type};
use super::validation::{
    Invalid, canonical_message_property, check_draft, check_file_attachment, decode_base64,
    read_bool,
};
use crate::drafts::{Attachment, Draft, new_item_id, property, rfc3339};
use crate::state::{CounterCells, lock};

const READ_WRITE: &[&str] = &["Mail.ReadWrite"];

/// Graph's answer for an id that names nothing in the mailbox.
pub(super) fn item_not_found(ids: &GraphRequestIds) -> Response {
    graph_error(
        StatusCode::NOT_FOUND,
        "ErrorItemNotFound",
        "The specified object was not found in the store.",
        ids,
    )
}

/// The checks before any draft route: token, role, mailbox, throttle, policy.
fn enter<'a>(request: &'a GraphRequest, user_id: &str) -> Result<MailboxAccess<'a>, Response> {
    let access = request.open_mailbox(user_id, READ_WRITE)?;
    access.check_policy(&request.ids)?;
    Ok(access)
}

/// `POST /users/{id}/messages`: 201 with the draft, made from JSON or MIME.
pub(super) async fn create(mut request: GraphRequest, user_id: &str) -> Answer {
    let body = request.read_body().await?;
    let (shared, ids) = (&*request.shared, &request.ids);
    let access = enter(&request, user_id)?;
    let (mut message, mime) = if media_type(&request.headers) == "text/plain" {
        // Graph's MIME form: base64 of a whole message, read into the same
        // properties (and attachments) a MIME sendMail is; the MIME is kept,
        // as Exchange keeps its headers.
        let raw = check_mime_draft(&body).map_err(|invalid| bad_request(&invalid, ids))?;
        let Value::Object(mut message) = mime_to_message(&raw) else {
            let invalid = Invalid {
                code: "ErrorMimeContentInvalid",
                message: "The MIME content could not be read.".to_owned(),
            };
            return Err(bad_request(&invalid, ids));
        };
        message.insert("internetMessageHeaders".into(), other_headers(&raw));
        (message, Some(String::from_utf8_lossy(&raw).into_owned()))
    } else {
        let message = check_draft(&body).map_err(|invalid| bad_request(&invalid, ids))?;
        (message, None)
    };
    let now = OffsetDateTime::now_utc();
    let mut attachments = Vec::new();
    if let Some(Value::Array(items)) = take_property(&mut message, "attachments") {
        for item in &items {
            attachments.push(attachment_from_json(item, now));
        }
    }
    // Read-only properties a client may echo back; the draft gets its own.
    for read_only in ["id", "isDraft", "hasAttachments"] {
        take_property(&mut message, read_only);
    }
    let draft = Draft {
        id: new_item_id(),
        mailbox: access.mailbox.address.clone(),
        app_id: access.caller.app_id,
        created_at: now,
        message,
        attachments,
        mime,
    };
    let answer = draft_json(&shared.origin, &draft);
    shared.drafts.insert(draft);
    CounterCells::bump(&shared.counters.drafts_created);
    let delay = lock(&shared.faults).draft_delay_ms;
    if delay > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// `DELETE /users/{id}/messages/{id}`: 204; its upload sessions end too.
pub(super) fn delete(request: &GraphRequest, user_id: &str, message_id: &str) -> Answer {
    let shared = &*request.shared;
    let access = enter(request, user_id)?;
    if !shared.drafts.delete(&access.mailbox.address, message_id) {
        return Err(item_not_found(&request.ids));
    }
    CounterCells::bump(&shared.counters.drafts_deleted);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /users/{id}/messages/{id}/attachments`: a file attachment whose
/// bytes travel in the request (the 4 MB request cap applies).
pub(super) async fn add_attachment(
    mut request: GraphRequest,
    user_id: &str,
    message_id: &str,
) -> Answer {
    let body = request.read_body().await?;
    let (shared, ids) = (&*request.shared, &request.ids);
    let access = enter(&request, user_id)?;
    let value = read_json(&body).map_err(|invalid| bad_request(&invalid, ids))?;
    check_file_attachment(&value).map_err(|invalid| bad_request(&invalid, ids))?;
    let attachment = attachment_from_json(&value, OffsetDateTime::now_utc());
    let mut answer = attachment.to_json();
    if !shared
        .drafts
        .add_attachment(&access.mailbox.address, message_id, attachment)
    {
        return Err(item_not_found(ids));
    }
    answer["@odata.context"] = json!(format!(
        "{}/v1.0/$metadata#users('{}')/messages('{message_id}')/attachments/$entity",
        shared.origin, access.mailbox.address
    ));
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

fn read_json(body: &Bytes) -> Result<Value, Invalid> {
    serde_json::from_slice(body).map_err(|e| Invalid {
        code: "RequestBodyRead",
        message: format!(
            "Invalid JSON. A token was not recognized in the JSON content. (line {}, column {})",
            e.line(),
            e.column()
        ),
    })
}

/// Removes a property, whatever the case of its name.
fn take_property(message: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let key = message
        .keys()
        .find(|k| k.eq_ignore_ascii_case(name))?
        .clone();
    message.remove(&key)
}

/// An attachment from JSON that passed `check_file_attachment`.
fn attachment_from_json(value: &Value, now: OffsetDateTime) -> Attachment {
    let empty = Map::new();
    let object = value.as_object().unwrap_or(&empty);
    let bytes = property(object, "contentBytes")
        .and_then(Value::as_str)
        .and_then(decode_base64)
        .unwrap_or_default();
    file_attachment(object, new_item_id(), bytes, now)
}

/// A `#microsoft.graph.fileAttachment` from its JSON properties (any case)
/// and its decoded `contentBytes`.
pub(super) fn file_attachment(
    object: &Map<String, Value>,
    id: String,
    bytes: Vec<u8>,
    at: OffsetDateTime,
) -> Attachment {
    let text = |name: &str| property(object, name).and_then(Value::as_str);
    Attachment {
        id,
        name: text("name").unwrap_or("").to_owned(),
        content_type: text("contentType")
            .unwrap_or("application/octet-stream")
            .to_owned(),
        is_inline: property(object, "isInline")
            .and_then(|v| read_bool(v).ok().flatten())
            .unwrap_or(false),
        content_id: text("contentId").map(str::to_owned),
        bytes: Bytes::from(bytes),
        modified_at: at,
    }
}

/// The draft as Graph answers it: the properties with Graph's spelling,
/// plus the ones the store sets. Attachments are listed separately, as
/// Graph does without `$expand`.
fn draft_json(origin: &str, draft: &Draft) -> Value {
    let mut out = Map::new();
    for (key, value) in &draft.message {
        let name = canonical_message_property(key).unwrap_or(key);
        out.insert(name.to_owned(), value.clone());
    }
    // Set last: what the store says wins over anything the client sent.
    let context = format!(
        "{origin}/v1.0/$metadata#users('{}')/messages/$entity",
        draft.mailbox
    );
    out.insert("@odata.context".into(), json!(context));
    out.insert("id".into(), json!(draft.id));
    out.insert("createdDateTime".into(), json!(rfc3339(draft.created_at)));
    out.insert(
        "lastModifiedDateTime".into(),
        json!(rfc3339(draft.created_at)),
    );
    out.insert("isDraft".into(), json!(true));
    out.insert(
        "hasAttachments".into(),
        json!(!draft.attachments.is_empty()),
    );
    Value::Object(out)
}
