//! One Graph request as every handler takes it: the emulator's state, the
//! ids assigned to it, its connection and its parts. The path's
//! parameters are not in it: each route names its own (a mailbox, a
//! message, a folder), as plain arguments beside the request.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use bytes::Bytes;

use super::access::{MailboxAccess, open_mailbox};
use super::auth::{Caller, authenticate};
use super::graph_error::{GraphRequestIds, unauthenticated};
use super::send_mail::read_body;
use crate::server::ConnectionControl;
use crate::state::Shared;

/// A handler's answer. A refusal is already a Graph error, so a check
/// returns it with `?` and the handler's happy path reads straight down.
pub(super) type Answer = Result<Response, Response>;

pub(super) struct GraphRequest {
    pub shared: Arc<Shared>,
    pub ids: GraphRequestIds,
    /// The connection a scripted fault may drop.
    pub connection: ConnectionControl,
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    /// Taken by [`GraphRequest::read_body`]; empty after. A body is `Send`
    /// but not `Sync`; the mutex (never locked: `read_body` has `&mut self`)
    /// lets a handler hold `&GraphRequest` across an await.
    body: Mutex<Body>,
}

impl GraphRequest {
    pub fn new(
        shared: Arc<Shared>,
        ids: GraphRequestIds,
        connection: ConnectionControl,
        request: Request,
    ) -> Self {
        let (parts, body) = request.into_parts();
        GraphRequest {
            shared,
            ids,
            connection,
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
            body: Mutex::new(body),
        }
    }

    pub fn query(&self) -> Option<&str> {
        self.uri.query()
    }

    /// The body under Graph's 4 MB cap (413 over it).
    pub async fn read_body(&mut self) -> Result<Bytes, Response> {
        let body = self.body.get_mut().unwrap_or_else(|e| e.into_inner());
        read_body(std::mem::replace(body, Body::empty()), &self.ids).await
    }

    /// The caller's token checked (401 otherwise), without a mailbox.
    pub fn caller(&self) -> Result<Caller, Response> {
        authenticate(&self.shared, &self.headers).map_err(|m| unauthenticated(m, &self.ids))
    }

    /// Token, roles, mailbox and throttle (`access.rs`); the policy's
    /// verdict is left to the route.
    pub fn open_mailbox(
        &self,
        user_id: &str,
        roles: &[&str],
    ) -> Result<MailboxAccess<'_>, Response> {
        open_mailbox(&self.shared, &self.ids, &self.headers, user_id, roles)
    }
}
