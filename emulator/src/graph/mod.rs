//! The Microsoft Graph side: sendMail (JSON and MIME), `/me/sendMail`'s
//! refusal of app tokens, and `GET /users/{id}` for diagnostics. Paths are
//! matched case-insensitively below the version segment, as Graph does.

mod auth;
mod graph_error;
mod mime;
mod send_mail;
mod users;
mod validation;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
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
}

async fn dispatch(
    State(shared): State<Arc<Shared>>,
    Extension(ids): Extension<GraphRequestIds>,
    connection: Option<Extension<ConnectionControl>>,
    method: Method,
    Path(rest): Path<String>,
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

fn method_not_allowed(ids: &GraphRequestIds) -> Response {
    graph_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "BadRequest",
        "Specified HTTP method is not allowed for the request target.",
        ids,
    )
}
