//! The Microsoft Graph side: sendMail (JSON and MIME), the large-attachment
//! flow (drafts, attachments, upload sessions and their upload URLs, a
//! draft's send), `/me`'s refusal of app tokens, and `GET /users/{id}` for
//! diagnostics. Paths are matched case-insensitively below the version
//! segment, as Graph does; ids keep their case.

// Checks return `Result<_, Response>`: the error *is* the answer, built once
// per request on its way out, so boxing it would only add noise.
#![allow(clippy::result_large_err)]

mod access;
mod auth;
mod draft_send;
mod drafts;
mod graph_error;
mod mail_folders;
mod mime;
mod mime_message;
mod send_mail;
mod upload;
mod upload_session;
mod users;
mod validation;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::any;
use axum::{Extension, middleware};

use crate::server::ConnectionControl;
use crate::state::Shared;
use graph_error::{GraphRequestIds, graph_error, graph_headers};

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/v1.0/{*rest}", any(dispatch))
        .route("/beta/{*rest}", any(dispatch))
        .layer(middleware::from_fn(graph_headers))
        .merge(upload::router())
}

/// Graph accepts an action by its short name or qualified with its namespace.
fn is_action(segment: &str, name: &str) -> bool {
    segment.eq_ignore_ascii_case(name)
        || segment
            .strip_prefix("microsoft.graph.")
            .is_some_and(|s| s.eq_ignore_ascii_case(name))
}

#[allow(clippy::too_many_arguments)] // axum's extractors, one per part of the request
async fn dispatch(
    State(shared): State<Arc<Shared>>,
    Extension(ids): Extension<GraphRequestIds>,
    connection: Option<Extension<ConnectionControl>>,
    method: Method,
    Path(rest): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let is = |s: &str, name: &str| s.eq_ignore_ascii_case(name);
    let connection = connection.map(|Extension(c)| c);
    match segments.as_slice() {
        [users, id, action] if is(users, "users") && is(action, "sendMail") => {
            if method != Method::POST {
                return method_not_allowed(&ids);
            }
            send_mail::send_mail(shared, ids, connection, id, &headers, body).await
        }
        [me, action] if is(me, "me") && is(action, "sendMail") => {
            if method != Method::POST {
                return method_not_allowed(&ids);
            }
            send_mail::me_send_mail(shared, ids, &headers, body).await
        }
        [me, ..] if is(me, "me") => send_mail::me_refused(&shared, &ids, &headers, body).await,
        [users, id, messages]
            if is(users, "users") && is(messages, "messages") && method == Method::GET =>
        {
            mail_folders::list(&shared, &ids, id, None, query.as_deref(), &headers)
        }
        [users, id, messages, rest @ ..] if is(users, "users") && is(messages, "messages") => {
            messages_route(shared, ids, connection, method, id, rest, &headers, body).await
        }
        [users, id, folder, messages]
            if is(users, "users")
                && is(messages, "messages")
                && mail_folders::folder_key(folder).is_some() =>
        {
            if method != Method::GET {
                return method_not_allowed(&ids);
            }
            let name = mail_folders::folder_key(folder).unwrap_or_default();
            mail_folders::list(&shared, &ids, id, Some(name), query.as_deref(), &headers)
        }
        [users, id, folders, name, messages]
            if is(users, "users") && is(folders, "mailFolders") && is(messages, "messages") =>
        {
            if method != Method::GET {
                return method_not_allowed(&ids);
            }
            mail_folders::list(&shared, &ids, id, Some(name), query.as_deref(), &headers)
        }
        [users, id] if is(users, "users") => {
            if method != Method::GET {
                return method_not_allowed(&ids);
            }
            users::get_user(&shared, &ids, id, &headers)
        }
        [.., last] => graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("Resource not found for the segment '{last}'."),
            &ids,
        ),
        [] => graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Invalid request.",
            &ids,
        ),
    }
}

/// `/users/{id}/messages/...`: drafts, their attachments, upload sessions
/// and their send.
#[allow(clippy::too_many_arguments)] // the request's parts, passed through
async fn messages_route(
    shared: Arc<Shared>,
    ids: GraphRequestIds,
    connection: Option<ConnectionControl>,
    method: Method,
    user_id: &str,
    rest: &[&str],
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let is = |s: &str, name: &str| s.eq_ignore_ascii_case(name);
    let s = &*shared;
    match (rest, &method) {
        ([], &Method::POST) => drafts::create(s, &ids, user_id, headers, body).await,
        ([id], &Method::GET) => drafts::get(s, &ids, user_id, id, headers),
        ([id], &Method::DELETE) => drafts::delete(s, &ids, user_id, id, headers),
        ([id, send], &Method::POST) if is_action(send, "send") => {
            draft_send::send_draft(shared.clone(), ids, connection, user_id, id, headers, body)
                .await
        }
        ([id, attachments], m) if is(attachments, "attachments") => match *m {
            Method::POST => drafts::add_attachment(s, &ids, user_id, id, headers, body).await,
            Method::GET => drafts::get_attachments(s, &ids, user_id, id, None, headers),
            _ => method_not_allowed(&ids),
        },
        ([id, attachments, action], &Method::POST)
            if is(attachments, "attachments") && is_action(action, "createUploadSession") =>
        {
            upload_session::create_session(s, &ids, user_id, id, headers, body).await
        }
        ([id, attachments, attachment], &Method::GET) if is(attachments, "attachments") => {
            drafts::get_attachments(s, &ids, user_id, id, Some(attachment), headers)
        }
        _ => {
            let known = match rest {
                [] | [_] => true,
                [_, second] => is(second, "attachments") || is_action(second, "send"),
                [_, second, _] => is(second, "attachments"),
                _ => false,
            };
            match rest.last() {
                Some(last) if !known => graph_error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    &format!("Resource not found for the segment '{last}'."),
                    &ids,
                ),
                _ => method_not_allowed(&ids),
            }
        }
    }
}

fn method_not_allowed(ids: &GraphRequestIds) -> Response {
    graph_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "BadRequest",
        "Specified HTTP method is not allowed for the request target.",
        ids,
    )
}
