//! `POST /users/{id}/messages/{id}/send` (docs/graph-mail-protocol.md §6, step 4): sends a
//! draft. It needs `Mail.Send` (not Mail.ReadWrite) and behaves like
//! sendMail around the message: the same scripted faults, delay, throttle,
//! policy order (`access_check_first`), recipient resolution, maximum
//! message size and Send As; the draft then leaves the drafts and is
//! stored like any sent message, saved to Sent Items.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::drafts::item_not_found;
use super::request::GraphRequest;
use super::send_mail::{
    Outcome, SendDelay, answer_send, bad_request, check_send_as, finish, now_rfc3339, open_send,
};
use super::validation::{
    check_message_size, check_recipient_limit, check_recipients, from_address, recipient_count,
};
use crate::drafts::TakeError;
use crate::ids::{random_id, uuid_text};
use crate::message_json::MessageJson;
use crate::state::{CounterCells, SentVia, StoredMessage};

pub(super) async fn send_draft(
    mut request: GraphRequest,
    user_id: &str,
    message_id: &str,
) -> Response {
    CounterCells::bump(&request.shared.counters.send_requests);
    let mut delay = SendDelay::of(&request.shared);
    let outcome = process(&mut request, user_id, message_id, &mut delay)
        .await
        .unwrap_or_else(|refused| refused);
    answer_send(&request, delay, outcome).await
}

/// `Err` when the send was refused before its end; `Ok` when it ran to it.
async fn process(
    request: &mut GraphRequest,
    user_id: &str,
    message_id: &str,
    delay: &mut SendDelay,
) -> Result<Outcome, Outcome> {
    // The body should be empty (Content-Length: 0); whatever comes is
    // read, so the connection stays usable, and ignored.
    request.read_body().await?;
    let request = &*request;
    let (shared, ids) = (&*request.shared, &request.ids);
    let (access, drop_at_end) = open_send(request, user_id, delay).await?;
    let refuse = |response: Response| finish(response, drop_at_end);

    let max_size = access.settings.max_message_size_bytes;
    let draft = shared
        .drafts
        .take(&access.mailbox.address, message_id, |draft| {
            check_recipients(&draft.message).map_err(|i| bad_request(&i, ids))?;
            let limit = access.settings.max_recipients_per_message;
            check_recipient_limit(recipient_count(&draft.message), limit)
                .map_err(|i| bad_request(&i, ids))?;
            check_message_size(draft.size(), max_size).map_err(|i| bad_request(&i, ids))?;
            access.check_policy(ids)?;
            check_send_as(access.mailbox, from_address(&draft.message).as_deref(), ids)
        })
        .map_err(|error| match error {
            TakeError::NotFound => refuse(item_not_found(ids)),
            TakeError::Refused(response) => refuse(response),
        })?;

    shared.store_message(StoredMessage {
        id: random_id(),
        mailbox: access.mailbox.address.clone(),
        app_id: uuid_text(access.caller.app_id),
        tenant_id: uuid_text(access.caller.tenant_id),
        received_at: now_rfc3339(&shared.clock),
        save_to_sent_items: true,
        request_id: ids.request_id.clone(),
        client_request_id: ids.client_request_id.clone(),
        message: MessageJson::from_value(&draft.sent_message()),
        mime: draft.mime.clone(),
        sent_via: SentVia::Draft,
        draft_id: Some(draft.id.clone()),
    });
    CounterCells::bump(&shared.counters.sends_accepted);
    tracing::debug!(mailbox = %access.mailbox.address, draft = %draft.id, "draft sent");
    Ok(finish(StatusCode::ACCEPTED.into_response(), drop_at_end))
}
