//! Reading sent mail back: `GET /users/{id}/mailFolders('sentitems')/messages`
//! (also `/mailFolders/sentitems/messages`) and `GET /users/{id}/messages`,
//! with `$filter=internetMessageId eq '...'`, `$select` and `$top`. This is
//! how a client checks whether an ambiguous send went out.
//!
//! As Graph: one of `Mail.ReadBasic.All`, `Mail.Read` or `Mail.ReadWrite`
//! (403 `ErrorAccessDenied` without), the access policy applies, and
//! `Mail.ReadBasic.All` alone gets no `body`, `bodyPreview` or
//! `uniqueBody`. A sent mail's copy appears only `sent_items_lag_ms` after
//! the send (Exchange saves it after transport), and not at all when the
//! send said `saveToSentItems: false`.

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::access::open_mailbox;
use super::graph_error::{GraphRequestIds, graph_error};
use crate::state::{Shared, StoredMessage};

/// The application permissions that may list messages, least first.
const READ_ROLES: &[&str] = &["Mail.ReadBasic.All", "Mail.Read", "Mail.ReadWrite"];
/// The ones that may also read bodies.
const BODY_ROLES: &[&str] = &["Mail.Read", "Mail.ReadWrite"];
/// Properties `Mail.ReadBasic.All` does not reach.
const BODY_PROPERTIES: &[&str] = &["body", "bodyPreview", "uniqueBody"];

/// The message properties this emulator can return (and so `$select`).
const PROPERTIES: &[&str] = &[
    "id",
    "internetMessageId",
    "subject",
    "from",
    "sender",
    "toRecipients",
    "ccRecipients",
    "bccRecipients",
    "replyTo",
    "sentDateTime",
    "receivedDateTime",
    "createdDateTime",
    "lastModifiedDateTime",
    "isDraft",
    "isRead",
    "importance",
    "body",
    "bodyPreview",
    "uniqueBody",
    "hasAttachments",
    "parentFolderId",
    "internetMessageHeaders",
];

const DEFAULT_TOP: usize = 10;
const MAX_TOP: usize = 1000;

/// `mailFolders('sentitems')` or `mailFolders("SentItems")` as one segment:
/// the folder's name, if the segment has that form.
pub(super) fn folder_key(segment: &str) -> Option<&str> {
    let rest = segment
        .get(..12)
        .filter(|p| p.eq_ignore_ascii_case("mailFolders("))
        .map(|_| &segment[12..])?;
    let inner = rest.strip_suffix(')')?;
    Some(inner.trim_matches(|c| c == '\'' || c == '"'))
}

pub(super) fn list(
    shared: &Shared,
    ids: &GraphRequestIds,
    user_id: &str,
    folder: Option<&str>,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Response {
    // `/users/{id}/messages` covers the whole mailbox; here that is its sent mail.
    match folder {
        None => {}
        Some(name) if name.eq_ignore_ascii_case("sentitems") => {}
        Some(name) => {
            return graph_error(
                StatusCode::NOT_FOUND,
                "ErrorItemNotFound",
                &format!("The specified folder '{name}' could not be found in the store."),
                ids,
            );
        }
    }
    let access = match open_mailbox(shared, ids, headers, user_id, READ_ROLES) {
        Ok(access) => access,
        Err(response) => return response,
    };
    if let Err(response) = access.check_policy(ids) {
        return response;
    }
    let options = match Options::parse(query) {
        Ok(options) => options,
        Err(message) => return graph_error(StatusCode::BAD_REQUEST, "BadRequest", &message, ids),
    };
    let reads_bodies = access
        .caller
        .roles()
        .iter()
        .any(|r| BODY_ROLES.iter().any(|b| r.eq_ignore_ascii_case(b)));
    let lag = time::Duration::milliseconds(access.settings.sent_items_lag_ms as i64);
    let now = shared.clock.now_utc();
    let mut items: Vec<(OffsetDateTime, Value)> = shared
        .messages
        .all()
        .iter()
        .filter(|m| m.mailbox == access.mailbox.address && m.save_to_sent_items)
        .filter_map(|m| {
            let at = OffsetDateTime::parse(&m.received_at, &Rfc3339).ok()?;
            (at + lag <= now).then(|| (at, resource(m)))
        })
        .filter(|(_, item)| options.matches(item))
        .collect();
    items.sort_by_key(|item| std::cmp::Reverse(item.0));
    let value: Vec<Value> = items
        .into_iter()
        .take(options.top)
        .map(|(_, item)| options.project(item, reads_bodies))
        .collect();
    let context = format!(
        "{}/v1.0/$metadata#users('{}')/messages",
        shared.origin, access.mailbox.address
    );
    (
        StatusCode::OK,
        Json(json!({ "@odata.context": context, "value": value })),
    )
        .into_response()
}

/// A stored send as Graph's message resource in Sent Items.
fn resource(m: &StoredMessage) -> Value {
    let mut out = Map::new();
    if let Some(object) = m.message.as_object() {
        for (k, v) in object {
            // Attachments are a relationship, not a property of the list.
            if !k.eq_ignore_ascii_case("attachments") {
                out.insert(canonical(k).to_owned(), v.clone());
            }
        }
    }
    let domain = m
        .mailbox
        .rsplit_once('@')
        .map_or("emulator.invalid", |(_, d)| d);
    let internet_message_id = m
        .property("internetMessageId")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("<{}@{domain}>", m.id));
    let mailbox = json!({ "emailAddress": { "address": m.mailbox } });
    out.entry("from").or_insert_with(|| mailbox.clone());
    out.insert("sender".into(), mailbox);
    out.insert("id".into(), json!(m.id));
    out.insert("internetMessageId".into(), json!(internet_message_id));
    for key in [
        "sentDateTime",
        "receivedDateTime",
        "createdDateTime",
        "lastModifiedDateTime",
    ] {
        out.insert(key.into(), json!(m.received_at));
    }
    out.insert("isDraft".into(), json!(false));
    out.insert("isRead".into(), json!(true));
    out.insert("parentFolderId".into(), json!("sentitems"));
    let has_attachments = m
        .property("attachments")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    out.insert("hasAttachments".into(), json!(has_attachments));
    let preview: String = out
        .get("body")
        .and_then(|b| b.get("content"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .chars()
        .take(255)
        .collect();
    out.insert("bodyPreview".into(), json!(preview));
    Value::Object(out)
}

/// A property name as Graph spells it (requests may use any case).
fn canonical(name: &str) -> &str {
    PROPERTIES
        .iter()
        .find(|p| p.eq_ignore_ascii_case(name))
        .copied()
        .unwrap_or(name)
}

/// `$filter`, `$select` and `$top`.
struct Options {
    internet_message_id: Option<String>,
    select: Option<Vec<&'static str>>,
    top: usize,
}

impl Options {
    fn parse(query: Option<&str>) -> Result<Options, String> {
        let mut options = Options {
            internet_message_id: None,
            select: None,
            top: DEFAULT_TOP,
        };
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match key.trim_start_matches('$').to_ascii_lowercase().as_str() {
                "filter" => options.internet_message_id = Some(parse_filter(&value)?),
                "select" => {
                    let mut wanted = Vec::new();
                    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                        let known = PROPERTIES
                            .iter()
                            .find(|p| p.eq_ignore_ascii_case(name))
                            .ok_or_else(|| {
                                format!("Could not find a property named '{name}' on type 'microsoft.graph.message'.")
                            })?;
                        wanted.push(*known);
                    }
                    options.select = Some(wanted);
                }
                "top" => {
                    options.top = value
                        .trim()
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=MAX_TOP).contains(n))
                        .ok_or_else(|| {
                            format!("Invalid value '{value}' for $top: give 1 to {MAX_TOP}.")
                        })?;
                }
                _ => {}
            }
        }
        Ok(options)
    }

    fn matches(&self, item: &Value) -> bool {
        self.internet_message_id.as_deref().is_none_or(|wanted| {
            item.get("internetMessageId").and_then(Value::as_str) == Some(wanted)
        })
    }

    fn project(&self, item: Value, reads_bodies: bool) -> Value {
        let Value::Object(mut object) = item else {
            return item;
        };
        if !reads_bodies {
            for key in BODY_PROPERTIES {
                object.remove(*key);
            }
        }
        if let Some(select) = &self.select {
            object.retain(|k, _| k == "id" || select.contains(&k.as_str()));
        }
        Value::Object(object)
    }
}

/// `internetMessageId eq '<...>'`, the one filter a queue needs; a quote
/// inside the value is doubled, as OData writes it.
fn parse_filter(filter: &str) -> Result<String, String> {
    let invalid = || {
        format!(
            "Invalid filter clause: '{filter}' (this emulator filters on internetMessageId eq '...')"
        )
    };
    let (property, value) = filter.trim().split_once(' ').ok_or_else(invalid)?;
    if !property.eq_ignore_ascii_case("internetMessageId") {
        return Err(invalid());
    }
    let value = value.trim_start();
    let value = value
        .get(..2)
        .filter(|op| op.eq_ignore_ascii_case("eq"))
        .map(|_| value[2..].trim())
        .ok_or_else(invalid)?;
    let inner = value
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .ok_or_else(invalid)?;
    if inner.replace("''", "").contains('\'') {
        return Err(invalid());
    }
    Ok(inner.replace("''", "'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_reads_quoted_ids_and_refuses_the_rest() {
        assert_eq!(
            parse_filter("internetMessageId eq '<a@b>'").unwrap(),
            "<a@b>"
        );
        assert_eq!(
            parse_filter("InternetMessageId  EQ  'it''s@b'").unwrap(),
            "it's@b"
        );
        assert!(parse_filter("subject eq 'x'").is_err());
        assert!(parse_filter("internetMessageId eq <a@b>").is_err());
    }

    #[test]
    fn folder_keys_are_read_in_either_quote() {
        assert_eq!(folder_key("mailFolders('sentitems')"), Some("sentitems"));
        assert_eq!(folder_key("MAILFOLDERS(\"SentItems\")"), Some("SentItems"));
        assert_eq!(folder_key("mailFolders"), None);
    }
}
