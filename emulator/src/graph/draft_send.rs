//! `POST /users/{id}/messages/{id}/send` (docs/graph-mail-protocol.md §6, step 4): sends a
//! draft. It needs `Mail.Send` (not Mail.ReadWrite) and behaves like
//! sendMail around the message: the same scripted faults, delay, throttle,
//! policy order (`access_check_first`), recipient resolution, maximum
//! message size and Send As; the draft then leaves the drafts and is
//! stored like any sent message, saved to Sent Items.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

use super::drafts::item_not_found;
use super::graph_error::GraphRequestIds;
use super::send_mail::{
    Outcome, answer_send, bad_request, check_send_as, finish, now_rfc3339, open_send, read_body,
};
use super::validation::{
    check_message_size, check_recipient_limit, check_recipients, from_address, recipient_count,
};
use crate::drafts::TakeError;
use crate::server::ConnectionControl;
use crate::state::{CounterCells, SentVia, Shared, StoredMessage, lock};

pub(super) async fn send_draft(
    shared: Arc<Shared>,
    ids: GraphRequestIds,
    connection: Option<ConnectionControl>,
    user_id: &str,
    message_id: &str,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    CounterCells::bump(&shared.counters.send_requests);
    let delay = Duration::from_millis(lock(&shared.faults).delay_ms);
    let mut delayed = false;
    let outcome = process(
        &shared,
        &ids,
        user_id,
        message_id,
        headers,
        body,
        delay,
        &mut delayed,
    )
    .await;
    answer_send(&ids, connection, delay, delayed, outcome).await
}

#[allow(clippy::too_many_arguments)] // the request's parts plus the delay bookkeeping
async fn process(
    shared: &Shared,
    ids: &GraphRequestIds,
    user_id: &str,
    message_id: &str,
    headers: &HeaderMap,
    body: Body,
    delay: Duration,
    delayed: &mut bool,
) -> Outcome {
    // The body should be empty (Content-Length: 0); whatever comes is
    // read, so the connection stays usable, and ignored.
    if let Err(response) = read_body(body, ids).await {
        return Outcome::Respond(response);
    }
    let (access, drop_at_end) = match open_send(shared, ids, headers, user_id, delay, delayed).await
    {
        Ok(opened) => opened,
        Err(outcome) => return outcome,
    };
    let finish = |response: Response| finish(response, drop_at_end);

    let max_size = access.settings.max_message_size_bytes;
    let taken = shared
        .drafts
        .take(&access.mailbox.address, message_id, |draft| {
            check_recipients(&draft.message).map_err(|i| bad_request(&i, ids))?;
            let limit = access.settings.max_recipients_per_message;
            check_recipient_limit(recipient_count(&draft.message), limit)
                .map_err(|i| bad_request(&i, ids))?;
            check_message_size(draft.size(), max_size).map_err(|i| bad_request(&i, ids))?;
            access.check_policy(ids)?;
            check_send_as(access.mailbox, from_address(&draft.message).as_deref(), ids)
        });
    let draft = match taken {
        Ok(draft) => draft,
        Err(TakeError::NotFound) => return finish(item_not_found(ids)),
        Err(TakeError::Refused(response)) => return finish(response),
    };

    shared.store_message(StoredMessage {
        id: Uuid::new_v4().to_string(),
        mailbox: access.mailbox.address.clone(),
        app_id: access.caller.app_id.to_string(),
        tenant_id: access.caller.tenant_id.to_string(),
        received_at: now_rfc3339(&shared.clock),
        save_to_sent_items: true,
        request_id: ids.request_id.clone(),
        client_request_id: ids.client_request_id.clone(),
        message: draft.sent_message(),
        mime: None,
        sent_via: SentVia::Draft,
        draft_id: Some(draft.id.clone()),
    });
    CounterCells::bump(&shared.counters.sends_accepted);
    tracing::debug!(mailbox = %access.mailbox.address, draft = %draft.id, "draft sent");
    finish(StatusCode::ACCEPTED.into_response())
}
