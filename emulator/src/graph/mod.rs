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

use axum::body::{Body, HttpBody};
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use percent_encoding::percent_decode_str;

use crate::server::ConnectionControl;
use crate::state::Shared;
use graph_error::{GraphRequestIds, graph_error};
use message_read::{Part, Target};
use request::{Answer, GraphRequest};

/// Which part of the Graph side a path is for, with the rest of the path
/// (still percent-encoded, never empty).
#[derive(Clone, Copy)]
enum GraphPath {
    /// Below `/v1.0/` or `/beta/`.
    Api,
    /// An upload URL, below `/upload/`.
    Upload,
}

fn graph_path(path: &str) -> Option<(GraphPath, &str)> {
    let (kind, rest) = match path
        .strip_prefix("/v1.0/")
        .or_else(|| path.strip_prefix("/beta/"))
    {
        Some(rest) => (GraphPath::Api, rest),
        None => (GraphPath::Upload, path.strip_prefix("/upload/")?),
    };
    (!rest.is_empty()).then_some((kind, rest))
}

/// Answers a request for the Graph side, or gives it back when it is for
/// another path (the router has those). Graph has its own dispatcher below
/// the version segment, so its requests skip the router: its matching,
/// extraction and boxing cost a `sendMail` about 4 µs of CPU, as much as
/// the token, mailbox and throttle checks together (bench/README.md).
///
/// Every answer carries the ids; each request below `users/{mailbox}` is
/// counted against its connection for `GET /_emulator/connections`.
pub(crate) async fn serve(
    shared: &Arc<Shared>,
    connection: &ConnectionControl,
    request: Request,
) -> Result<Response, Request> {
    let Some((kind, rest)) = graph_path(request.uri().path()) else {
        return Err(request);
    };
    let rest = percent_decode_str(rest)
        .decode_utf8()
        .map(std::borrow::Cow::into_owned);
    let (ids, answer_ids) = GraphRequestIds::assign(request.headers());
    let head = request.method() == Method::HEAD;
    let connection = connection.clone();
    let mut response = match (rest, kind) {
        (Err(_), _) => graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Invalid URL: the path is not UTF-8 once percent-decoded.",
            &ids,
        ),
        (Ok(rest), GraphPath::Api) => {
            let segments = key_segments(&rest);
            if let [users, mailbox, ..] = segments.as_slice()
                && users.eq_ignore_ascii_case("users")
            {
                shared.connections.record(connection.peer, mailbox);
            }
            let request = GraphRequest::new(shared.clone(), ids, connection, request);
            dispatch(&segments, request)
                .await
                .unwrap_or_else(|refused| refused)
        }
        (Ok(rest), GraphPath::Upload) => {
            upload::upload_url(shared, &rest, ids, connection, request).await
        }
    };
    answer_ids.put_on(&mut response);
    if head {
        without_body(&mut response);
    }
    Ok(response)
}

/// An answer to HEAD has no body (RFC 9110, 9.3.2), and its length is the
/// one the body would have had, as axum's router answers it. HTTP/1.1
/// leaves the body out by itself; HTTP/2 would send it, and the client
/// reset the stream.
fn without_body(response: &mut Response) {
    if let Some(length) = response.body().size_hint().exact() {
        response
            .headers_mut()
            .entry(header::CONTENT_LENGTH)
            .or_insert_with(|| HeaderValue::from(length));
    }
    *response.body_mut() = Body::empty();
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

async fn dispatch(segments: &[&str], request: GraphRequest) -> Answer {
    let is = |s: &str, name: &str| s.eq_ignore_ascii_case(name);
    let post = request.method == Method::POST;
    let get = request.method == Method::GET;
    match segments {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_graph_side_is_told_by_the_path() {
        let kind =
            |path| graph_path(path).map(|(kind, rest)| (matches!(kind, GraphPath::Api), rest));
        assert_eq!(
            kind("/v1.0/users/a%40b/sendMail"),
            Some((true, "users/a%40b/sendMail"))
        );
        assert_eq!(kind("/beta/me"), Some((true, "me")));
        assert_eq!(kind("/upload/users/a/x"), Some((false, "users/a/x")));
        for other in [
            "/v1.0/",
            "/v1.0",
            "/V1.0/me",
            "/upload/",
            "/_emulator/counters",
            "/",
            "/common/oauth2/v2.0/token",
        ] {
            assert_eq!(kind(other), None, "{other}");
        }
    }

    #[tokio::test]
    async fn an_answer_to_head_keeps_its_length_and_loses_its_body() {
        let mut response = graph_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "BadRequest",
            "Specified HTTP method is not allowed for the request target.",
            &GraphRequestIds {
                request_id: "r".into(),
                client_request_id: "c".into(),
            },
        );
        let length = response.body().size_hint().exact().unwrap();
        assert!(length > 0);
        without_body(&mut response);
        assert_eq!(
            response.headers()[header::CONTENT_LENGTH],
            length.to_string().as_str()
        );
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        assert!(body.is_empty());
    }
}
