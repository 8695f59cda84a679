//! The Microsoft Graph side: sendMail (JSON and MIME), the large-attachment
//! flow (drafts, attachments, upload sessions and their upload URLs, a
//! draft's send), reading mail (Inbox, Sent Items and Drafts, attachments,
//! MIME), `/me`'s refusal of app tokens, and `GET /users/{id}` for
//! diagnostics. Paths are matched case-insensitively below the version
//! segment, as Graph does; ids keep their case. A key may be given in
//! OData's form too: `users('a@b')` is `users/a@b`.

// Checks return `Result<_, Response>`: the error *is* the answer, built once
// per request on its way out, so boxing it would only add noise.
#![allow(clippy::result_large_err)]

mod access;
mod auth;
mod draft_send;
mod drafts;
mod graph_error;
mod mail_folders;
mod mailbox_view;
mod message_mime;
mod message_read;
mod mime;
mod mime_message;
mod odata_query;
mod request;
mod send_mail;
mod upload;
mod upload_session;
mod users;
mod validation;

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::any;

use crate::state::Shared;
use graph_error::{GraphIdsLayer, GraphRequestIds, graph_error};
use message_read::{Part, Target};
use request::{Answer, GraphRequest};

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/v1.0/{*rest}", any(dispatch))
        .route("/beta/{*rest}", any(dispatch))
        .layer(GraphIdsLayer)
        .merge(upload::router())
}

/// Graph accepts an action by its short name or qualified with its namespace.
fn is_action(segment: &str, name: &str) -> bool {
    segment.eq_ignore_ascii_case(name)
        || segment
            .strip_prefix("microsoft.graph.")
            .is_some_and(|s| s.eq_ignore_ascii_case(name))
}

/// Splits OData key segments, `users('a@b')` into `users` and `a@b`
/// (either quote, or none), so each route is matched once.
fn key_segments(rest: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for segment in rest.split('/').filter(|s| !s.is_empty()) {
        let key = segment
            .strip_suffix(')')
            .and_then(|s| s.split_once('('))
            .filter(|(name, _)| !name.is_empty());
        match key {
            Some((name, key)) => {
                out.push(name);
                let unquoted = key
                    .strip_prefix('\'')
                    .and_then(|k| k.strip_suffix('\''))
                    .or_else(|| key.strip_prefix('"').and_then(|k| k.strip_suffix('"')))
                    .unwrap_or(key);
                out.push(unquoted);
            }
            None => out.push(segment),
        }
    }
    out
}

async fn dispatch(Path(rest): Path<String>, request: GraphRequest) -> Answer {
    let segments = key_segments(&rest);
    let is = |s: &str, name: &str| s.eq_ignore_ascii_case(name);
    let post = request.method == Method::POST;
    let get = request.method == Method::GET;
    match segments.as_slice() {
        [users, id, action] if is(users, "users") && is(action, "sendMail") => {
            if !post {
                return Err(method_not_allowed(&request.ids));
            }
            Ok(send_mail::send_mail(request, id).await)
        }
        [me, action] if is(me, "me") && is(action, "sendMail") => {
            if !post {
                return Err(method_not_allowed(&request.ids));
            }
            send_mail::me_send_mail(request).await
        }
        [me, ..] if is(me, "me") => send_mail::me_refused(request).await,
        [users, id, messages] if is(users, "users") && is(messages, "messages") && get => {
            mail_folders::list(&request, id, None)
        }
        [users, id, messages, rest @ ..] if is(users, "users") && is(messages, "messages") => {
            if get && let Some(part) = read_part(rest) {
                let target = Target {
                    user_id: id,
                    folder: None,
                    message_id: rest[0],
                };
                return message_read::read(&request, &target, part);
            }
            messages_route(request, id, rest).await
        }
        [users, id, folders, folder, messages, rest @ ..]
            if is(users, "users") && is(folders, "mailFolders") && is(messages, "messages") =>
        {
            if !get {
                return Err(method_not_allowed(&request.ids));
            }
            if rest.is_empty() {
                return mail_folders::list(&request, id, Some(folder));
            }
            let part = read_part(rest).ok_or_else(|| {
                unknown_segment(rest.last().copied().unwrap_or(messages), &request.ids)
            })?;
            let target = Target {
                user_id: id,
                folder: Some(folder),
                message_id: rest[0],
            };
            message_read::read(&request, &target, part)
        }
        [users, id] if is(users, "users") => {
            if !get {
                return Err(method_not_allowed(&request.ids));
            }
            users::get_user(&request, id)
        }
        [.., last] => Err(unknown_segment(last, &request.ids)),
        [] => Err(graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Invalid request.",
            &request.ids,
        )),
    }
}

/// What a GET below `.../messages/` reads, if it is one of the read routes.
fn read_part<'a>(rest: &[&'a str]) -> Option<Part<'a>> {
    let is = |s: &str, name: &str| s.eq_ignore_ascii_case(name);
    Some(match rest {
        [_] => Part::Properties,
        [_, value] if is(value, "$value") => Part::Mime,
        [_, attachments] if is(attachments, "attachments") => Part::Attachments,
        [_, attachments, id] if is(attachments, "attachments") => Part::Attachment(id),
        [_, attachments, id, value] if is(attachments, "attachments") && is(value, "$value") => {
            Part::AttachmentBytes(id)
        }
        _ => return None,
    })
}

fn unknown_segment(last: &str, ids: &GraphRequestIds) -> Response {
    graph_error(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        &format!("Resource not found for the segment '{last}'."),
        ids,
    )
}

/// `/users/{id}/messages/...` other than reads: drafts, their attachments,
/// upload sessions and their send.
async fn messages_route(request: GraphRequest, user_id: &str, rest: &[&str]) -> Answer {
    let is = |s: &str, name: &str| s.eq_ignore_ascii_case(name);
    match (rest, &request.method) {
        ([], &Method::POST) => drafts::create(request, user_id).await,
        ([id], &Method::DELETE) => drafts::delete(&request, user_id, id),
        ([id, send], &Method::POST) if is_action(send, "send") => {
            Ok(draft_send::send_draft(request, user_id, id).await)
        }
        ([id, attachments], &Method::POST) if is(attachments, "attachments") => {
            drafts::add_attachment(request, user_id, id).await
        }
        ([id, attachments, action], &Method::POST)
            if is(attachments, "attachments") && is_action(action, "createUploadSession") =>
        {
            upload_session::create_session(request, user_id, id).await
        }
        _ => {
            let known = match rest {
                [] | [_] => true,
                [_, second] => {
                    is(second, "attachments") || is_action(second, "send") || is(second, "$value")
                }
                [_, second, _] => is(second, "attachments"),
                [_, second, _, fourth] => is(second, "attachments") && is(fourth, "$value"),
                _ => false,
            };
            match rest.last() {
                Some(last) if !known => Err(unknown_segment(last, &request.ids)),
                _ => Err(method_not_allowed(&request.ids)),
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
