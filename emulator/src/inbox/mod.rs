//! The web inbox: plain HTML, CSS and JavaScript embedded in the binary
//! (no build step), served at `/` with its data under `/_emulator/ui/`.
//! Messages newest first by mailbox, with search; drafts and upload
//! sessions; a message view whose HTML body is shown in a sandboxed frame
//! under a content security policy that blocks scripts always and remote
//! images until asked; live updates by server-sent events; a tenant page.

// A lookup's error is the answer itself, built once on its way out;
// boxing it would only add noise.
#![allow(clippy::result_large_err)]

mod message_view;

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::Stream;
use serde::Deserialize;

use crate::state::{Shared, StoredMessage};

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// The inbox page's own policy: only its own script, style and frames.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Where the inbox lives, for the banner.
pub(crate) const PATH: &str = "/";

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/", get(page))
        .route("/_emulator/ui/", get(page))
        .route("/_emulator/ui/app.js", get(script))
        .route("/_emulator/ui/app.css", get(style))
        .route("/_emulator/ui/events", get(events))
        .route("/_emulator/ui/api/messages", get(list))
        .route("/_emulator/ui/api/messages/{id}", get(detail))
        .route("/_emulator/ui/messages/{id}/body", get(body))
        .route("/_emulator/ui/messages/{id}/raw", get(raw))
        .route(
            "/_emulator/ui/messages/{id}/attachments/{index}",
            get(download),
        )
        .route("/_emulator/ui/messages/{id}/cid/{cid}", get(inline_image))
}

fn with_headers(mut response: Response, pairs: &[(header::HeaderName, &str)]) -> Response {
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::from_str(value) {
            response.headers_mut().insert(name.clone(), value);
        }
    }
    response
}

fn asset(content_type: &str, text: &'static str) -> Response {
    with_headers(
        text.into_response(),
        &[
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
    )
}

async fn page() -> Response {
    with_headers(
        asset("text/html; charset=utf-8", INDEX_HTML),
        &[(header::CONTENT_SECURITY_POLICY, PAGE_CSP)],
    )
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

fn not_found(what: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({ "error": what })),
    )
        .into_response()
}

fn find(shared: &Shared, id: &str) -> Result<StoredMessage, Response> {
    shared
        .messages
        .get(id)
        .ok_or_else(|| not_found(&format!("no message with id {id}")))
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    mailbox: String,
}

/// Summaries, newest first, of the messages that match the search and
/// involve the mailbox (as sender or recipient), when given.
async fn list(State(shared): State<Arc<Shared>>, Query(query): Query<ListQuery>) -> Response {
    let needle = query.q.trim().to_lowercase();
    let mailbox = query.mailbox.trim();
    let summaries: Vec<_> = shared
        .messages
        .all()
        .iter()
        .rev()
        .filter(|m| mailbox.is_empty() || message_view::involves(m, mailbox))
        .filter(|m| message_view::matches(m, &needle))
        .map(message_view::summary)
        .collect();
    Json(serde_json::json!({ "messages": summaries })).into_response()
}

async fn detail(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    match find(&shared, &id) {
        Ok(stored) => Json(message_view::detail(&stored)).into_response(),
        Err(response) => response,
    }
}

#[derive(Deserialize)]
struct BodyQuery {
    /// `1` once the person asked to load remote images.
    #[serde(default)]
    remote: u8,
}

/// The body as a document of its own, for the sandboxed frame. Its policy
/// (`sandbox` without `allow-scripts`, `script-src` absent under
/// `default-src 'none'`) keeps scripts from running even if the page is
/// opened on its own; images load only from the emulator (inline `cid:`
/// ones) until `remote=1`.
async fn body(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(query): Query<BodyQuery>,
) -> Response {
    let stored = match find(&shared, &id) {
        Ok(stored) => stored,
        Err(response) => return response,
    };
    let (kind, content) = message_view::body(&stored);
    let document = if kind == "html" {
        inline_images(&content, &stored.id)
    } else {
        format!(
            "<!doctype html><meta charset=\"utf-8\"><pre style=\"white-space:pre-wrap;font:14px/1.4 monospace\">{}</pre>",
            escape_html(&content)
        )
    };
    let images = if query.remote == 1 {
        "img-src * data: blob:".to_owned()
    } else {
        format!("img-src 'self' {} data:", shared.origin)
    };
    let csp = format!(
        "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; style-src 'unsafe-inline'; {images}; font-src data:; frame-ancestors 'self'"
    );
    with_headers(
        document.into_response(),
        &[
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, &csp),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
    )
}

/// Points `cid:` references at the emulator's copy of the inline part.
fn inline_images(html: &str, id: &str) -> String {
    let base = format!("/_emulator/ui/messages/{}/cid/", urlencode(id));
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find("cid:") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 4..];
        let end = after
            .find(|c: char| c == '"' || c == '\'' || c == ')' || c.is_whitespace() || c == '>')
            .unwrap_or(after.len());
        out.push_str(&base);
        out.push_str(&urlencode(&after[..end]));
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The message as received: the MIME text, or sendMail's JSON.
async fn raw(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let stored = match find(&shared, &id) {
        Ok(stored) => stored,
        Err(response) => return response,
    };
    let text = match &stored.mime {
        Some(mime) => mime.clone(),
        None => serde_json::to_string_pretty(&*stored.message).unwrap_or_default(),
    };
    with_headers(
        text.into_response(),
        &[
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
    )
}

/// An attachment's exact bytes, always as a download (never rendered on
/// the inbox's origin).
async fn download(
    State(shared): State<Arc<Shared>>,
    Path((id, index)): Path<(String, usize)>,
) -> Response {
    let stored = match find(&shared, &id) {
        Ok(stored) => stored,
        Err(response) => return response,
    };
    let Some(attachment) = message_view::attachment(&stored, index) else {
        return not_found(&format!("message {id} has no attachment {index}"));
    };
    let disposition = format!(
        "attachment; filename=\"{}\"; filename*=UTF-8''{}",
        attachment.name.replace(['"', '\\', '\r', '\n'], "_"),
        urlencode(&attachment.name).replace('+', "%20")
    );
    with_headers(
        attachment.bytes.into_response(),
        &[
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CONTENT_DISPOSITION, &disposition),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (
                header::CONTENT_SECURITY_POLICY,
                "sandbox; default-src 'none'",
            ),
        ],
    )
}

/// An inline part named by a body's `cid:` URL; only images are served as
/// what they are.
async fn inline_image(
    State(shared): State<Arc<Shared>>,
    Path((id, cid)): Path<(String, String)>,
) -> Response {
    let stored = match find(&shared, &id) {
        Ok(stored) => stored,
        Err(response) => return response,
    };
    let Some(part) = message_view::inline_by_content_id(&stored, &cid) else {
        return not_found(&format!("message {id} has no part with content id {cid}"));
    };
    let content_type = if part.content_type.to_ascii_lowercase().starts_with("image/")
        && !part.content_type.to_ascii_lowercase().contains("svg")
    {
        part.content_type.clone()
    } else {
        "application/octet-stream".to_owned()
    };
    with_headers(
        part.bytes.into_response(),
        &[
            (header::CONTENT_TYPE, &content_type),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (
                header::CONTENT_SECURITY_POLICY,
                "sandbox; default-src 'none'",
            ),
        ],
    )
}

/// `messages` when a message arrives or the store is cleared, `drafts` when
/// drafts or upload sessions change; the page then asks for what it shows.
async fn events(
    State(shared): State<Arc<Shared>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let messages = shared.messages.subscribe();
    let drafts = shared.drafts.subscribe();
    let first = Event::default().event("hello").data("{}");
    let stream = futures::stream::unfold(
        (Some(first), messages, drafts),
        |(pending, mut messages, mut drafts)| async move {
            if let Some(event) = pending {
                return Some((Ok(event), (None, messages, drafts)));
            }
            let name = tokio::select! {
                changed = messages.changed() => changed.ok().map(|()| "messages"),
                changed = drafts.changed() => changed.ok().map(|()| "drafts"),
            }?;
            let event = Event::default().event(name).data("{}");
            Some((Ok(event), (None, messages, drafts)))
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cid_references_point_at_the_inline_parts() {
        let html = r#"<img src="cid:logo@x"><div style="background:url(cid:bg)">"#;
        assert_eq!(
            inline_images(html, "m1"),
            r#"<img src="/_emulator/ui/messages/m1/cid/logo%40x"><div style="background:url(/_emulator/ui/messages/m1/cid/bg)">"#
        );
    }
}
