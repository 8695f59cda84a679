//! A message over Graph's 4 MB request limit: a draft in the sender's
//! mailbox (made from JSON, or from a MIME message without its largest
//! attachments), its attachments added one by one (an upload session for
//! each file of 3 MB or more), then the draft's `send`. Only that last request can send
//! mail; a failure before it deletes the draft, so nothing half-made stays in
//! the mailbox.

use std::sync::Arc;

use reqwest::Method;
use serde::Deserialize;

use crate::client::{Body, GraphClient, SendReceipt};
use crate::error::{Error, ErrorKind, Result};
use crate::handover::Handover;
use crate::message::{Attachment, Message};
use crate::message_limits::UPLOAD_SESSION_MIN_BYTES;
use crate::mime::MimeMessage;
use crate::offload;
use crate::progress::{ProgressObserver, ProgressReporter};
use crate::upload;
use crate::wire;

/// `internet_message_id` is kept on the draft (a large MIME message's own
/// `Message-ID`), else Exchange makes one.
pub(crate) async fn send(
    client: Arc<GraphClient>,
    message: Message,
    internet_message_id: Option<String>,
    progress: Option<ProgressObserver>,
) -> Result<SendReceipt> {
    if !message.save_to_sent_items {
        // A draft's `send` takes no saveToSentItems: say so rather than ignore it.
        tracing::warn!(
            sender = message.sender,
            "a large message keeps a copy in Sent Items: Graph's draft send has no saveToSentItems"
        );
    }
    let body = Body::json(wire::draft_body(&message, internet_message_id.as_deref())?);
    send_draft(
        client,
        &message.sender,
        body,
        &message.attachments,
        progress,
    )
    .await
}

/// A large MIME message whose largest attachments were cut out
/// (`mime_parts::slim`): the draft is made of the rest in Graph's MIME form,
/// so every header and part of it stays as written, then the cut ones are
/// added as any large message's are.
pub(crate) async fn send_mime(
    client: Arc<GraphClient>,
    sender: &str,
    rest: &MimeMessage,
    cut: &[Attachment],
) -> Result<SendReceipt> {
    let body = Body::mime(rest.request_body());
    send_draft(client, sender, body, cut, None).await
}

/// Creates the draft with `body`, adds `attachments` to it, and sends it.
async fn send_draft(
    client: Arc<GraphClient>,
    sender: &str,
    body: Body,
    attachments: &[Attachment],
    progress: Option<ProgressObserver>,
) -> Result<SendReceipt> {
    let mut draft = create_draft(&client, sender, body).await?;
    tracing::info!(
        sender,
        attachments = attachments.len(),
        "draft created for a large message"
    );
    let total = attachments.iter().map(Attachment::size).sum();
    let mut progress = ProgressReporter::new(progress, total);
    for (index, attachment) in attachments.iter().enumerate() {
        let mut report =
            |sent| progress.attachment(index, &attachment.name, sent, attachment.size());
        if let Err(e) = attach(&client, sender, &draft.path, attachment, &mut report).await {
            let e = e.with_note(&format!(
                "attachments[{index}] ('{}') was not added",
                attachment.name
            ));
            return Err(draft.discard(e).await);
        }
    }
    let path = format!("{}/send", draft.path);
    let send = client.request(Method::POST, sender, &path, Body::empty(), true);
    let sent = draft.send.watch(send).await;
    match sent {
        Ok(answer) => {
            draft.keep();
            progress.finished();
            Ok(answer.into_receipt())
        }
        // The draft may be on its way out: deleting it now could race the send.
        Err(e) if e.kind() == ErrorKind::AmbiguousDelivery => {
            draft.keep();
            Err(e.with_note(&format!(
                "if it was not sent, the draft {} is still in {sender}'s Drafts folder",
                draft.id
            )))
        }
        Err(e) => Err(draft.discard(e).await),
    }
}

async fn attach(
    client: &GraphClient,
    sender: &str,
    draft: &str,
    attachment: &Attachment,
    report: &mut (dyn FnMut(u64) + Send),
) -> Result<()> {
    if attachment.size() >= UPLOAD_SESSION_MIN_BYTES {
        return upload::upload(client, sender, draft, attachment, report).await;
    }
    let content = attachment.content.clone();
    let bytes = offload::read(move || content.read_all()).await?;
    client
        .request(
            Method::POST,
            sender,
            &format!("{draft}/attachments"),
            Body::json(wire::attachment_body(attachment, &bytes)?),
            false,
        )
        .await?;
    report(attachment.size());
    Ok(())
}

#[derive(Deserialize)]
struct Created {
    #[serde(default)]
    id: String,
}

fn draft_id(body: &[u8]) -> Result<String> {
    serde_json::from_slice::<Created>(body)
        .ok()
        .map(|c| c.id)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Service,
                "Graph created the draft but its answer carries no message id",
            )
        })
}

/// A 403 on the draft usually means the app lacks Mail.ReadWrite, which the
/// large-message path needs on top of Mail.Send: say so, and what it implies.
fn needs_read_write(error: Error, client: &GraphClient) -> Error {
    let lacks = client
        .tokens
        .roles()
        .is_some_and(|roles| !roles.iter().any(|r| r == "Mail.ReadWrite"));
    if error.kind() != ErrorKind::AccessDenied || !lacks {
        return error;
    }
    error.with_hint(format!(
        "a message over 4 MB is sent through a draft and upload sessions, which needs the \
         Mail.ReadWrite application permission besides Mail.Send, and app {} has no Mail.ReadWrite \
         role. Add Microsoft Graph > Application permissions > Mail.ReadWrite, have an \
         administrator grant consent, and scope it to the same mailboxes as Mail.Send (RBAC for \
         Applications: 'Application Mail.ReadWrite' with the same scope; an Application Access \
         Policy covers it already), because unscoped it can read every mailbox. Or keep \
         attachments under about 3 MB in total.",
        client.config.client_id
    ))
}

/// The draft of a send in progress. Dropped before `keep` or `discard` (the
/// send's future was cancelled), it deletes the draft in the background,
/// unless its `send` had gone out.
struct Draft {
    client: Arc<GraphClient>,
    sender: String,
    id: String,
    /// `/messages/{id}`, escaped for a URL path.
    path: String,
    live: bool,
    /// Records the draft's `send` once it has gone out: deleting the draft
    /// then could race it.
    send: Handover,
}

impl Draft {
    fn new(client: Arc<GraphClient>, sender: &str, id: &str) -> Self {
        let escaped: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
        Draft {
            client,
            sender: sender.to_owned(),
            id: id.to_owned(),
            path: format!("/messages/{escaped}"),
            live: true,
            send: Handover::new(),
        }
    }

    /// The draft was sent, or must stay: nothing to clean up.
    fn keep(&mut self) {
        self.live = false;
    }

    /// Deletes the draft after `error`, and says so in the error.
    async fn discard(&mut self, error: Error) -> Error {
        self.live = false;
        // An upload chunk's refusal (the tenant's size limit stops an upload
        // part way) gets the same hint as Graph's own answers.
        let error = self.client.with_hint(error, &self.sender);
        match delete(&self.client, &self.sender, &self.path).await {
            Ok(()) => error.with_note("nothing was sent and the draft was deleted"),
            Err(e) => error.with_note(&format!(
                "nothing was sent, but the draft {} could not be deleted ({}): delete it from {}'s Drafts folder",
                self.id,
                e.message(),
                self.sender
            )),
        }
    }
}

/// Creates the draft in a task of its own, which finishes even when the send
/// is cancelled while Graph answers: the draft it made, whose id only it
/// knows, is then dropped there, and [`Draft`]'s guard deletes it.
async fn create_draft(client: &Arc<GraphClient>, sender: &str, body: Body) -> Result<Draft> {
    let (client, sender) = (client.clone(), sender.to_owned());
    let (hand_over, created) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let draft = client
            .request(Method::POST, &sender, "/messages", body, false)
            .await
            .map_err(|e| needs_read_write(e, &client))
            .and_then(|answer| draft_id(&answer.body))
            .map(|id| Draft::new(client.clone(), &sender, &id));
        // Refused when the send was cancelled meanwhile: the draft goes.
        let _ = hand_over.send(draft);
    });
    created.await.unwrap_or_else(|_| {
        Err(Error::new(
            ErrorKind::Service,
            "creating the draft stopped unexpectedly",
        ))
    })
}

impl Drop for Draft {
    fn drop(&mut self) {
        if !self.live {
            return;
        }
        if self.send.may_have_been_sent().is_some() {
            tracing::warn!(
                sender = self.sender,
                draft = self.id,
                "send cancelled while the draft's send was with Microsoft; if it was not sent, the draft is still in Drafts"
            );
            return;
        }
        let (client, sender, path, id) = (
            self.client.clone(),
            self.sender.clone(),
            self.path.clone(),
            self.id.clone(),
        );
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    match delete(&client, &sender, &path).await {
                        Ok(()) => tracing::info!(sender, "send cancelled; its draft was deleted"),
                        Err(e) => tracing::warn!(sender, draft = id, error = %e.message(), "send cancelled; its draft could not be deleted"),
                    }
                });
            }
            Err(_) => {
                tracing::warn!(
                    sender,
                    draft = id,
                    "send cancelled outside a runtime; its draft stays in Drafts"
                )
            }
        }
    }
}

async fn delete(client: &GraphClient, sender: &str, path: &str) -> Result<()> {
    client
        .request(Method::DELETE, sender, path, Body::empty(), false)
        .await
        .map(drop)
}
