//! Drafts and upload sessions: what Graph's large-attachment flow keeps in
//! a mailbox between creating a draft and sending it (docs/graph-mail-protocol.md §6).
//!
//! One lock guards drafts and sessions together, so a chunk that completes
//! an upload and the draft's deletion or send cannot interleave halfway.
//! Attachment bytes are `Bytes`, so copying a draft out (to answer or to
//! send it) does not copy up to 150 MB per attachment.

use std::sync::{Arc, Mutex};

use std::time::{Duration, Instant};
use tokio::sync::watch;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use bytes::Bytes;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::clock::Clock;
use crate::state::lock;
use crate::store::Store;

/// The length of `len` bytes in padded base64: what an attachment weighs
/// against the tenant's maximum message size.
pub(crate) fn encoded_size(len: u64) -> u64 {
    len.div_ceil(3) * 4
}

pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// An opaque id in the style of Exchange's (base64 with the `AAMk` prefix
/// and `=` padding), so a client that does not escape ids in URLs or
/// compares them case-insensitively is caught.
pub(crate) fn new_item_id() -> String {
    format!("AAMk{}", URL_SAFE.encode(rand::random::<[u8; 32]>()))
}

/// A file attachment of a draft, with its exact bytes.
#[derive(Debug, Clone)]
pub(crate) struct Attachment {
    pub id: String,
    pub name: String,
    pub content_type: String,
    pub is_inline: bool,
    pub content_id: Option<String>,
    pub bytes: Bytes,
    pub modified_at: OffsetDateTime,
}

impl Attachment {
    /// Graph's `fileAttachment`; `contentBytes` is base64 of the exact bytes.
    pub fn to_json(&self) -> Value {
        json!({
            "@odata.type": "#microsoft.graph.fileAttachment",
            "id": self.id,
            "lastModifiedDateTime": rfc3339(self.modified_at),
            "name": self.name,
            "contentType": self.content_type,
            "size": self.bytes.len(),
            "isInline": self.is_inline,
            "contentId": self.content_id,
            "contentBytes": STANDARD.encode(&self.bytes),
        })
    }
}

/// A draft message in a mailbox (`POST /users/{id}/messages`).
#[derive(Debug, Clone)]
pub(crate) struct Draft {
    pub id: String,
    /// The mailbox's address (lowercase).
    pub mailbox: String,
    /// The app that created it.
    pub app_id: Uuid,
    pub created_at: OffsetDateTime,
    /// The message properties as received (names as sent), without
    /// `attachments` (kept below) and without the read-only `id`/`isDraft`.
    pub message: Map<String, Value>,
    pub attachments: Vec<Attachment>,
    /// The message as received when it was made from MIME.
    pub mime: Option<String>,
}

impl Draft {
    /// Adds an attachment. A draft made from MIME is from then on written
    /// out from its properties: the MIME no longer holds all of it (its
    /// headers stay in `internetMessageHeaders`).
    pub fn attach(&mut self, attachment: Attachment) {
        self.attachments.push(attachment);
        self.mime = None;
    }

    /// What counts against the tenant's maximum message size: the body's
    /// text plus every attachment base64-encoded, as Exchange stores it.
    pub fn size(&self) -> u64 {
        let body = property(&self.message, "body")
            .and_then(|b| b.as_object())
            .and_then(|b| property(b, "content"))
            .and_then(Value::as_str)
            .map_or(0, str::len);
        body as u64
            + self
                .attachments
                .iter()
                .map(|a| encoded_size(a.bytes.len() as u64))
                .sum::<u64>()
    }

    /// The message as a sent message is stored: the properties as received
    /// plus every attachment (inline, posted and uploaded) with its bytes.
    pub fn sent_message(&self) -> Value {
        let mut message = self.message.clone();
        message.insert(
            "attachments".into(),
            self.attachments.iter().map(Attachment::to_json).collect(),
        );
        Value::Object(message)
    }
}

/// A case-insensitive property lookup, as Graph reads property names.
pub(crate) fn property<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// What createUploadSession was asked for.
#[derive(Debug, Clone)]
pub(crate) struct AttachmentItem {
    pub name: String,
    pub size: u64,
    pub content_type: String,
    pub is_inline: bool,
    pub content_id: Option<String>,
}

/// An open upload session for one attachment of one draft.
#[derive(Debug)]
pub(crate) struct UploadSession {
    pub id: String,
    /// The `authtoken` query parameter that pre-authenticates the URL.
    pub token: String,
    pub mailbox: String,
    pub message_id: String,
    pub item: AttachmentItem,
    pub expires_at: OffsetDateTime,
    expires: Instant,
    received: Vec<u8>,
}

impl UploadSession {
    pub fn new(
        mailbox: &str,
        message_id: &str,
        item: AttachmentItem,
        lifetime: Duration,
        clock: &Clock,
    ) -> Self {
        UploadSession {
            // Unpadded: both travel in the upload URL, the token in its query.
            id: URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>()),
            token: URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>()),
            mailbox: mailbox.to_owned(),
            message_id: message_id.to_owned(),
            item,
            expires_at: clock.now_utc() + lifetime,
            expires: clock.now() + lifetime,
            received: Vec::new(),
        }
    }

    /// A session read back from a store: `None` once it has expired.
    pub fn restored(saved: crate::store::SavedSession, clock: &Clock) -> Option<Self> {
        let left = saved.expires_at - clock.now_utc();
        let left = Duration::try_from(left).ok().filter(|d| !d.is_zero())?;
        Some(UploadSession {
            id: saved.id,
            token: saved.token,
            mailbox: saved.mailbox,
            message_id: saved.message_id,
            item: saved.item,
            expires_at: saved.expires_at,
            expires: clock.now() + left,
            received: saved.received,
        })
    }

    /// The next byte offset the session expects.
    pub fn next(&self) -> u64 {
        self.received.len() as u64
    }
}

/// Which session an upload URL names: every part must match.
pub(crate) struct SessionRef<'a> {
    pub mailbox: &'a str,
    pub message_id: &'a str,
    pub session_id: &'a str,
    pub token: &'a str,
}

impl SessionRef<'_> {
    fn names(&self, session: &UploadSession) -> bool {
        session.id == self.session_id
            && session.token == self.token
            && session.message_id == self.message_id
            && session.mailbox.eq_ignore_ascii_case(self.mailbox)
    }
}

/// Where a session stands: the next offset and when it expires.
#[derive(Debug, Clone)]
pub(crate) struct SessionStatus {
    pub next: u64,
    pub expires_at: OffsetDateTime,
}

/// The outcome of one chunk.
#[derive(Debug)]
pub(crate) enum Append {
    /// No such session (never was, cancelled, expired, finished, or the
    /// authtoken does not match).
    NotFound,
    /// The range's total is not the size given to createUploadSession.
    WrongTotal { size: u64 },
    /// The chunk does not start where the session expects.
    OutOfOrder(SessionStatus),
    /// Stored; more to come.
    Partial(SessionStatus),
    /// Stored; the attachment is now on the draft.
    Complete { attachment_id: String },
    /// The last chunk arrived but the draft was deleted or sent meanwhile.
    DraftGone,
    /// The draft with what was uploaded so far would pass the tenant's
    /// maximum message size: the session is closed, as Exchange stops it.
    TooLarge { size: u64 },
}

/// Why a draft could not be taken for sending.
pub(crate) enum TakeError<E> {
    NotFound,
    Refused(E),
}

#[derive(Default)]
struct Book {
    drafts: Vec<Draft>,
    sessions: Vec<UploadSession>,
}

impl Book {
    fn draft_mut(&mut self, mailbox: &str, id: &str) -> Option<&mut Draft> {
        self.drafts
            .iter_mut()
            .find(|d| d.id == id && d.mailbox == mailbox)
    }

    /// Forgets expired sessions; called on every access so nothing needs a timer.
    fn purge(&mut self, now: Instant) {
        self.sessions.retain(|s| s.expires > now);
    }
}

struct NotifyOnDrop<'a>(&'a watch::Sender<u64>);

impl Drop for NotifyOnDrop<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n += 1);
    }
}

/// Every mailbox's drafts and open upload sessions.
#[derive(Default)]
pub(crate) struct DraftBook {
    book: Mutex<Book>,
    /// Bumped on every change, for live views (the inbox's events).
    changes: watch::Sender<u64>,
    /// The emulator's time, for sessions' expiry.
    clock: Clock,
    /// Where drafts are written through to (`--store`), under the book's lock
    /// so the file sees changes in the order memory does.
    store: Option<Arc<Store>>,
}

impl DraftBook {
    pub fn new(clock: Clock, store: Option<Arc<Store>>) -> Self {
        DraftBook {
            clock,
            store,
            ..Default::default()
        }
    }

    /// Drafts and upload sessions read back from a store at start; expired
    /// sessions are dropped.
    pub fn load(&self, drafts: Vec<Draft>, sessions: Vec<crate::store::SavedSession>) {
        let _notify = self.notify_on_return();
        let mut book = lock(&self.book);
        book.drafts = drafts;
        book.sessions = sessions
            .into_iter()
            .filter_map(|s| UploadSession::restored(s, &self.clock))
            .collect();
    }

    fn session_gone(&self, id: &str) {
        if let Some(store) = &self.store {
            store.delete_session(id);
        }
    }

    fn saved(&self, draft: &Draft) {
        if let Some(store) = &self.store {
            store.save_draft(draft);
        }
    }

    fn removed(&self, mailbox: &str, id: &str) {
        if let Some(store) = &self.store {
            store.delete_draft(mailbox, id);
        }
    }

    /// Wakes when drafts or sessions change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Declared before the lock, it fires after the lock is released, so a
    /// watcher woken by it reads the change.
    fn notify_on_return(&self) -> NotifyOnDrop<'_> {
        NotifyOnDrop(&self.changes)
    }

    pub fn insert(&self, draft: Draft) {
        let _notify = self.notify_on_return();
        let mut book = lock(&self.book);
        self.saved(&draft);
        book.drafts.push(draft);
    }

    /// The drafts of one mailbox (a lowercase address).
    pub fn of_mailbox(&self, mailbox: &str) -> Vec<Draft> {
        lock(&self.book)
            .drafts
            .iter()
            .filter(|d| d.mailbox == mailbox)
            .cloned()
            .collect()
    }

    /// Deletes a draft and cancels its upload sessions.
    pub fn delete(&self, mailbox: &str, id: &str) -> bool {
        let _notify = self.notify_on_return();
        let mut book = lock(&self.book);
        let before = book.drafts.len();
        book.drafts
            .retain(|d| !(d.id == id && d.mailbox == mailbox));
        let deleted = book.drafts.len() != before;
        if deleted {
            self.removed(mailbox, id);
            book.sessions
                .retain(|s| !(s.message_id == id && s.mailbox == mailbox));
        }
        deleted
    }

    /// Adds an attachment; `false` if the draft does not exist.
    pub fn add_attachment(&self, mailbox: &str, id: &str, attachment: Attachment) -> bool {
        let _notify = self.notify_on_return();
        match lock(&self.book).draft_mut(mailbox, id) {
            Some(draft) => {
                draft.attach(attachment);
                self.saved(draft);
                true
            }
            None => false,
        }
    }

    /// Removes the draft for sending if `check` accepts it; its unfinished
    /// upload sessions go with it (Exchange sends what the draft holds).
    pub fn take<E>(
        &self,
        mailbox: &str,
        id: &str,
        check: impl FnOnce(&Draft) -> Result<(), E>,
    ) -> Result<Draft, TakeError<E>> {
        let _notify = self.notify_on_return();
        let mut book = lock(&self.book);
        let index = book
            .drafts
            .iter()
            .position(|d| d.id == id && d.mailbox == mailbox)
            .ok_or(TakeError::NotFound)?;
        check(&book.drafts[index]).map_err(TakeError::Refused)?;
        book.sessions
            .retain(|s| !(s.message_id == id && s.mailbox == mailbox));
        self.removed(mailbox, id);
        Ok(book.drafts.remove(index))
    }

    /// Opens a session; `false` if its draft does not exist.
    pub fn open_session(&self, session: UploadSession) -> bool {
        let _notify = self.notify_on_return();
        let mut book = lock(&self.book);
        book.purge(self.clock.now());
        let exists = book
            .drafts
            .iter()
            .any(|d| d.id == session.message_id && d.mailbox == session.mailbox);
        if exists {
            if let Some(store) = &self.store {
                store.save_session(&session);
            }
            book.sessions.push(session);
        }
        exists
    }

    pub fn session_status(&self, target: &SessionRef<'_>) -> Option<SessionStatus> {
        let mut book = lock(&self.book);
        book.purge(self.clock.now());
        book.sessions
            .iter()
            .find(|s| target.names(s))
            .map(|s| SessionStatus {
                next: s.next(),
                expires_at: s.expires_at,
            })
    }

    /// The session's mailbox, for faults that match by mailbox.
    pub fn session_mailbox(&self, target: &SessionRef<'_>) -> Option<String> {
        let book = lock(&self.book);
        book.sessions
            .iter()
            .find(|s| target.names(s))
            .map(|s| s.mailbox.clone())
    }

    pub fn cancel_session(&self, target: &SessionRef<'_>) -> bool {
        let _notify = self.notify_on_return();
        let mut book = lock(&self.book);
        book.purge(self.clock.now());
        let before = book.sessions.len();
        book.sessions.retain(|s| !target.names(s));
        let cancelled = book.sessions.len() != before;
        if cancelled {
            self.session_gone(target.session_id);
        }
        cancelled
    }

    /// Stores one chunk `bytes` at `start` of a range whose total is `total`.
    /// The caller has checked that the range and the body agree.
    /// Stores one chunk; `max_message_size` is the tenant's limit, which
    /// the draft plus the upload so far (encoded) must stay within.
    pub fn append(
        &self,
        target: &SessionRef<'_>,
        start: u64,
        total: u64,
        bytes: &[u8],
        max_message_size: u64,
    ) -> Append {
        let _notify = self.notify_on_return();
        let mut book = lock(&self.book);
        book.purge(self.clock.now());
        let Some(index) = book.sessions.iter().position(|s| target.names(s)) else {
            return Append::NotFound;
        };
        let session = &mut book.sessions[index];
        if total != session.item.size {
            return Append::WrongTotal {
                size: session.item.size,
            };
        }
        let status = |s: &UploadSession| SessionStatus {
            next: s.next(),
            expires_at: s.expires_at,
        };
        if start != session.next() {
            return Append::OutOfOrder(status(session));
        }
        let uploaded = encoded_size(session.next() + bytes.len() as u64);
        let (mailbox, message_id) = (session.mailbox.clone(), session.message_id.clone());
        let draft_size = book
            .draft_mut(&mailbox, &message_id)
            .map_or(0, |d| d.size());
        if draft_size + uploaded > max_message_size {
            let gone = book.sessions.remove(index);
            self.session_gone(&gone.id);
            return Append::TooLarge {
                size: draft_size + uploaded,
            };
        }
        let session = &mut book.sessions[index];
        session.received.extend_from_slice(bytes);
        if session.next() < session.item.size {
            if let Some(store) = &self.store {
                store.save_chunk(&session.id, start, bytes);
            }
            return Append::Partial(status(session));
        }
        let session = book.sessions.remove(index);
        self.session_gone(&session.id);
        let attachment = Attachment {
            id: new_item_id(),
            name: session.item.name,
            content_type: session.item.content_type,
            is_inline: session.item.is_inline,
            content_id: session.item.content_id,
            bytes: Bytes::from(session.received),
            modified_at: OffsetDateTime::now_utc(),
        };
        let attachment_id = attachment.id.clone();
        match book.draft_mut(&session.mailbox, &session.message_id) {
            Some(draft) => {
                draft.attach(attachment);
                self.saved(draft);
                Append::Complete { attachment_id }
            }
            None => Append::DraftGone,
        }
    }

    /// `GET /_emulator/drafts`: every draft with its attachments' names and
    /// sizes, and every open session with its next offset.
    pub fn view(&self) -> Value {
        let mut book = lock(&self.book);
        book.purge(self.clock.now());
        let sessions_of = |draft: &Draft| -> Vec<Value> {
            book.sessions
                .iter()
                .filter(|s| s.message_id == draft.id && s.mailbox == draft.mailbox)
                .map(|s| {
                    json!({
                        "id": s.id,
                        "name": s.item.name,
                        "size": s.item.size,
                        "next_offset": s.next(),
                        "expires_at": rfc3339(s.expires_at),
                    })
                })
                .collect()
        };
        let drafts: Vec<Value> = book
            .drafts
            .iter()
            .map(|d| {
                json!({
                    "id": d.id,
                    "mailbox": d.mailbox,
                    "app_id": d.app_id,
                    "created_at": rfc3339(d.created_at),
                    "subject": property(&d.message, "subject"),
                    "size": d.size(),
                    "attachments": d.attachments.iter().map(|a| json!({
                        "id": a.id,
                        "name": a.name,
                        "content_type": a.content_type,
                        "size": a.bytes.len(),
                    })).collect::<Vec<_>>(),
                    "upload_sessions": sessions_of(d),
                })
            })
            .collect();
        json!({ "drafts": drafts })
    }

    pub fn clear(&self) {
        let _notify = self.notify_on_return();
        let mut book = lock(&self.book);
        book.drafts.clear();
        book.sessions.clear();
        if let Some(store) = &self.store {
            store.clear_drafts();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl DraftBook {
        fn append_for_test(&self, t: &SessionRef<'_>, start: u64, total: u64, b: &[u8]) -> Append {
            self.append(t, start, total, b, u64::MAX)
        }
    }

    fn draft(id: &str) -> Draft {
        Draft {
            id: id.into(),
            mailbox: "erp@contoso.test".into(),
            app_id: Uuid::nil(),
            created_at: OffsetDateTime::now_utc(),
            message: Map::new(),
            attachments: Vec::new(),
            mime: None,
        }
    }

    fn item(size: u64) -> AttachmentItem {
        AttachmentItem {
            name: "big.bin".into(),
            size,
            content_type: "application/octet-stream".into(),
            is_inline: false,
            content_id: None,
        }
    }

    #[test]
    fn chunks_go_in_order_and_complete_onto_the_draft() {
        let book = DraftBook::default();
        book.insert(draft("d1"));
        let session = UploadSession::new(
            "erp@contoso.test",
            "d1",
            item(5),
            Duration::from_secs(60),
            &Clock::default(),
        );
        let (id, token) = (session.id.clone(), session.token.clone());
        assert!(book.open_session(session));
        let target = SessionRef {
            mailbox: "ERP@contoso.test",
            message_id: "d1",
            session_id: &id,
            token: &token,
        };
        assert!(matches!(
            book.append_for_test(&target, 0, 6, b"abc"),
            Append::WrongTotal { size: 5 }
        ));
        assert!(
            matches!(book.append_for_test(&target, 0, 5, b"abc"), Append::Partial(s) if s.next == 3)
        );
        assert!(
            matches!(book.append_for_test(&target, 0, 5, b"abc"), Append::OutOfOrder(s) if s.next == 3)
        );
        let wrong_token = SessionRef {
            token: "nope",
            ..target
        };
        assert!(matches!(
            book.append_for_test(&wrong_token, 3, 5, b"de"),
            Append::NotFound
        ));
        assert!(matches!(
            book.append_for_test(&target, 3, 5, b"de"),
            Append::Complete { .. }
        ));
        assert!(book.session_status(&target).is_none());
        let sent = book
            .take("erp@contoso.test", "d1", |_| Ok::<(), ()>(()))
            .ok()
            .unwrap();
        assert_eq!(&sent.attachments[0].bytes[..], b"abcde");
        assert_eq!(sent.size(), 8);
    }

    #[test]
    fn an_upload_stops_when_the_message_would_pass_the_limit() {
        let book = DraftBook::default();
        book.insert(draft("d1"));
        let session = UploadSession::new(
            "erp@contoso.test",
            "d1",
            item(6),
            Duration::from_secs(60),
            &Clock::default(),
        );
        let (id, token) = (session.id.clone(), session.token.clone());
        assert!(book.open_session(session));
        let target = SessionRef {
            mailbox: "erp@contoso.test",
            message_id: "d1",
            session_id: &id,
            token: &token,
        };
        // Three bytes weigh four encoded; six weigh eight, over a limit of 7.
        assert!(matches!(
            book.append(&target, 0, 6, b"abc", 7),
            Append::Partial(_)
        ));
        assert!(matches!(
            book.append(&target, 3, 6, b"def", 7),
            Append::TooLarge { size: 8 }
        ));
        assert!(book.session_status(&target).is_none());
    }

    #[test]
    fn expired_sessions_are_gone_and_ids_look_like_exchange_ones() {
        let book = DraftBook::default();
        book.insert(draft("d1"));
        let session = UploadSession::new(
            "erp@contoso.test",
            "d1",
            item(5),
            Duration::ZERO,
            &Clock::default(),
        );
        let (id, token) = (session.id.clone(), session.token.clone());
        assert!(book.open_session(session));
        let target = SessionRef {
            mailbox: "erp@contoso.test",
            message_id: "d1",
            session_id: &id,
            token: &token,
        };
        assert!(book.session_status(&target).is_none());
        let id = new_item_id();
        assert!(id.starts_with("AAMk") && id.ends_with('='), "{id}");
        assert!(!id.contains('/') && !id.contains('+'));
    }
}
