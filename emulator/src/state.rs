//! What the running emulator remembers: stored messages, drafts and upload
//! sessions, counters, the current settings and fault plan, revoked tokens. One `Shared` value is
//! handed to every request handler and to the in-process [`crate::Emulator`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use uuid::Uuid;

use crate::certificates::Certificate;
use crate::directory::Directory;
use crate::drafts::DraftBook;
use crate::faults::ActiveFaults;
use crate::identity::{FederatedToken, FederatedTokenRequest, OidcIssuer};
use crate::policy::PolicyBook;
use crate::settings::{Settings, SettingsUpdate};
use crate::throttle::Throttle;
use crate::tokens::TokenSigner;

/// State shared by every handler.
pub(crate) struct Shared {
    pub directory: Directory,
    /// `scheme://host:port` of this emulator, without a trailing slash.
    pub origin: String,
    pub signer: TokenSigner,
    /// The emulator's own OIDC issuer (workload tokens for federation).
    pub oidc: OidcIssuer,
    pub startup_settings: Settings,
    pub settings: RwLock<Settings>,
    pub faults: Mutex<ActiveFaults>,
    pub messages: MessageStore,
    /// Drafts and open upload sessions (the large-attachment flow).
    pub drafts: DraftBook,
    pub counters: CounterCells,
    pub tokens: Mutex<IssuedTokens>,
    pub throttle: Throttle,
    /// Application access policies with the time each was stamped.
    pub policies: PolicyBook,
    /// Certificates registered through the test API, by client id (on top
    /// of the directory's), until the next reset.
    pub certificates: Mutex<HashMap<Uuid, Vec<Certificate>>>,
    /// Client assertion ids already used, until their expiry.
    pub assertions: Mutex<SeenAssertions>,
    /// The emulator's time (the wall clock plus what tests advanced it by;
    /// a reset keeps it, since time does not run back).
    pub clock: crate::clock::Clock,
    /// The SQLite file messages, drafts and counters are written through
    /// to (`--store`); `None`: memory only.
    pub store: Option<std::sync::Arc<crate::store::Store>>,
    /// Which connection each Graph request came on, until the next reset.
    pub connections: crate::connections::ConnectionLog,
}

impl Shared {
    /// Keeps an accepted message; past `max_stored_messages` the oldest
    /// go, counted in `messages_dropped`, so a long run's memory is bounded.
    pub fn store_message(&self, message: StoredMessage) {
        let limit = self.settings().max_stored_messages;
        let keep = |message: StoredMessage| {
            let dropped = self.messages.push_bounded(message, limit);
            CounterCells::add(&self.counters.messages_dropped, dropped as u64);
            self.counters.snapshot()
        };
        match &self.store {
            Some(store) => store.save_message(message, limit, keep),
            None => {
                keep(message);
            }
        }
    }

    /// What a store held at start: messages, drafts and counters as they were.
    pub fn restore(&self, loaded: crate::store::Loaded) {
        self.messages.load(loaded.messages);
        self.drafts.load(loaded.drafts, loaded.sessions);
        self.counters.load(&loaded.counters);
    }

    /// `DELETE /_emulator/messages`.
    pub fn clear_messages(&self) {
        self.messages.clear();
        if let Some(store) = &self.store {
            store.clear_messages();
        }
    }

    pub fn settings(&self) -> Settings {
        self.settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn set_settings(&self, settings: Settings) {
        *self.settings.write().unwrap_or_else(|e| e.into_inner()) = settings;
    }

    /// Back to the state right after start-up (the directory never changes).
    pub fn reset(&self) {
        self.messages.clear();
        self.drafts.clear();
        self.counters.reset();
        if let Some(store) = &self.store {
            store.reset();
        }
        *lock(&self.faults) = ActiveFaults::default();
        lock(&self.tokens).revoked.clear();
        self.set_settings(self.startup_settings.clone());
        self.throttle.reset();
        self.policies.reset();
        lock(&self.certificates).clear();
        lock(&self.assertions).clear();
        self.connections.clear();
    }

    /// Applies a partial settings update; one that names
    /// `policy_apply_delay_secs` re-stamps every policy to now.
    pub fn update_settings(&self, update: &SettingsUpdate) -> Result<Settings, crate::Error> {
        let mut settings = self.settings();
        settings.apply(update);
        settings.validate()?;
        self.set_settings(settings.clone());
        if update.policy_apply_delay_secs.is_some() {
            self.policies.restamp();
        }
        Ok(settings)
    }

    /// Mints a workload token from the emulator's own issuer, on its clock.
    pub fn mint_federated_token(
        &self,
        request: &FederatedTokenRequest,
    ) -> Result<FederatedToken, crate::Error> {
        self.oidc
            .mint(self.clock.now_utc().unix_timestamp(), request)
    }

    /// The certificates an app may sign assertions with: the directory's
    /// and those registered at run time.
    pub fn app_certificates(&self, app: &crate::directory::App) -> Vec<Certificate> {
        let mut all = app.certificates.clone();
        if let Some(extra) = lock(&self.certificates).get(&app.client_id) {
            all.extend(extra.iter().cloned());
        }
        all
    }
}

/// Locks a mutex even if a panicking thread poisoned it: the data here stays
/// consistent between statements, and a test server must keep answering.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A message accepted by sendMail, as `GET /_emulator/messages` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredMessage {
    /// Id assigned by the emulator.
    pub id: String,
    /// The sending mailbox's address (lowercase), resolved from the URL's `{id}`.
    pub mailbox: String,
    /// Client id of the app that sent it.
    pub app_id: String,
    /// Tenant of the app and mailbox.
    pub tenant_id: String,
    /// When it was accepted (RFC 3339, UTC).
    pub received_at: String,
    /// `saveToSentItems` (default `true`).
    pub save_to_sent_items: bool,
    /// The `request-id` of the sendMail response.
    pub request_id: String,
    /// The `client-request-id` of the sendMail response.
    pub client_request_id: String,
    /// sendMail's `message` object exactly as received: its JSON text byte
    /// for byte, read as the object on use. For a MIME send: the MIME read into the same shape (`subject`,
    /// `from`, recipients, `body`, `attachments` with `contentBytes`). For a
    /// draft's send: the draft's properties plus all its attachments.
    pub message: crate::message_json::MessageJson,
    /// For a MIME send (`Content-Type: text/plain`): the decoded MIME text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime: Option<String>,
    /// Which request sent it.
    #[serde(default)]
    pub sent_via: SentVia,
    /// For a draft's send: the draft's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft_id: Option<String>,
}

/// Which request sent a stored message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SentVia {
    /// `POST /users/{id}/sendMail` with JSON.
    #[default]
    #[serde(rename = "sendMail")]
    SendMail,
    /// `POST /users/{id}/sendMail` with base64 MIME.
    #[serde(rename = "mime")]
    Mime,
    /// `POST /users/{id}/messages/{id}/send` (a draft).
    #[serde(rename = "draft")]
    Draft,
}

impl StoredMessage {
    /// A property of the message, looked up case-insensitively as Graph does.
    pub fn property(&self, name: &str) -> Option<&serde_json::Value> {
        self.message
            .as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The subject, if any.
    pub fn subject(&self) -> Option<&str> {
        self.property("subject")?.as_str()
    }

    /// The addresses of one recipient list (`toRecipients`, `ccRecipients`, ...).
    pub fn recipients(&self, list: &str) -> Vec<String> {
        let Some(items) = self.property(list).and_then(|v| v.as_array()) else {
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|r| {
                let email = ci_get(r, "emailAddress")?;
                ci_get(email, "address")?.as_str().map(str::to_owned)
            })
            .collect()
    }
}

fn ci_get<'a>(value: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    value
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// Stored messages, with a watch on their number so tests can wait.
pub(crate) struct MessageStore {
    /// A ring, not a `Vec`: once the store is full every send drops the
    /// oldest, and shifting 10,000 messages down per send made a full
    /// store's sends cost several times an empty one's.
    list: Mutex<VecDeque<StoredMessage>>,
    /// The number stored, sent on every change under the list's lock (so
    /// in order). A watcher's `changed` wakes on every send, equal number
    /// or not (a clear then a push).
    count: watch::Sender<usize>,
}

impl MessageStore {
    pub fn new() -> Self {
        MessageStore {
            list: Mutex::new(VecDeque::new()),
            count: watch::Sender::new(0),
        }
    }

    /// Adds a message, dropping the oldest past `limit`; returns how many went.
    pub fn push_bounded(&self, message: StoredMessage, limit: usize) -> usize {
        let mut list = lock(&self.list);
        list.push_back(message);
        let dropped = list.len().saturating_sub(limit.max(1));
        list.drain(..dropped);
        self.count.send_replace(list.len());
        dropped
    }

    /// Messages read back from a store at start.
    pub fn load(&self, messages: Vec<StoredMessage>) {
        let mut list = lock(&self.list);
        *list = messages.into();
        self.count.send_replace(list.len());
    }

    /// Wakes when a message arrives or the store is cleared.
    pub fn subscribe(&self) -> watch::Receiver<usize> {
        self.count.subscribe()
    }

    pub fn all(&self) -> Vec<StoredMessage> {
        lock(&self.list).iter().cloned().collect()
    }

    pub fn get(&self, id: &str) -> Option<StoredMessage> {
        lock(&self.list).iter().find(|m| m.id == id).cloned()
    }

    pub fn clear(&self) {
        let mut list = lock(&self.list);
        list.clear();
        self.count.send_replace(0);
    }

    /// Waits until at least `count` messages are stored. `Err` carries what
    /// is stored when the time is up.
    pub async fn wait_for(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<StoredMessage>, Vec<StoredMessage>> {
        let mut rx = self.count.subscribe();
        match tokio::time::timeout(timeout, rx.wait_for(|n| *n >= count)).await {
            Ok(Ok(_)) => Ok(self.all()),
            _ => Err(self.all()),
        }
    }
}

/// A snapshot of what the emulator counted since start or the last reset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counters {
    /// Requests to the token endpoint.
    pub token_requests: u64,
    /// Tokens issued.
    pub tokens_issued: u64,
    /// Token requests answered with an error (AADSTS errors and injected statuses).
    pub token_errors: u64,
    /// sendMail requests and draft sends received, whatever their outcome.
    pub send_requests: u64,
    /// sendMail requests and draft sends accepted (messages stored).
    pub sends_accepted: u64,
    /// 429 answers sent (limits and injected faults).
    pub throttled: u64,
    /// Requests that came before the `Retry-After` of their app+mailbox's
    /// last 429 had passed (each got another 429).
    pub early_retries: u64,
    /// Accepted messages no longer kept: the oldest, past `max_stored_messages`.
    pub messages_dropped: u64,
    /// Faults injected (scripted, random 503s and dropped connections).
    pub faults_injected: u64,
    /// Most concurrent sendMail requests seen for one app+mailbox, counting
    /// the request that went over the limit: above `mailbox_concurrency`
    /// means a client did not keep within it.
    pub max_in_flight: u64,
    /// Drafts created (`POST /users/{id}/messages`).
    pub drafts_created: u64,
    /// Drafts deleted (`DELETE /users/{id}/messages/{id}`; a send is not a deletion).
    pub drafts_deleted: u64,
    /// Upload sessions created.
    pub upload_sessions_created: u64,
    /// PUTs to upload URLs received, whatever their outcome.
    pub upload_requests: u64,
    /// Chunks accepted and stored.
    pub upload_chunks: u64,
    /// Bytes of the chunks accepted and stored.
    pub upload_bytes: u64,
    /// Requests to the managed identity endpoints (IMDS and App Service),
    /// whatever their outcome: what shows a client's retries.
    pub identity_requests: u64,
    /// Tokens the managed identity endpoints issued.
    pub identity_tokens_issued: u64,
    /// Managed identity requests answered with an error (injected faults included).
    pub identity_errors: u64,
}

/// The live counters behind [`Counters`].
#[derive(Default)]
pub(crate) struct CounterCells {
    pub token_requests: AtomicU64,
    pub tokens_issued: AtomicU64,
    pub token_errors: AtomicU64,
    pub send_requests: AtomicU64,
    pub sends_accepted: AtomicU64,
    pub throttled: AtomicU64,
    pub early_retries: AtomicU64,
    pub messages_dropped: AtomicU64,
    pub faults_injected: AtomicU64,
    pub max_in_flight: AtomicU64,
    pub drafts_created: AtomicU64,
    pub drafts_deleted: AtomicU64,
    pub upload_sessions_created: AtomicU64,
    pub upload_requests: AtomicU64,
    pub upload_chunks: AtomicU64,
    pub upload_bytes: AtomicU64,
    pub identity_requests: AtomicU64,
    pub identity_tokens_issued: AtomicU64,
    pub identity_errors: AtomicU64,
}

impl CounterCells {
    pub fn bump(cell: &AtomicU64) {
        cell.fetch_add(1, Ordering::Relaxed);
    }

    pub fn add(cell: &AtomicU64, amount: u64) {
        cell.fetch_add(amount, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Counters {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Counters {
            token_requests: get(&self.token_requests),
            tokens_issued: get(&self.tokens_issued),
            token_errors: get(&self.token_errors),
            send_requests: get(&self.send_requests),
            sends_accepted: get(&self.sends_accepted),
            throttled: get(&self.throttled),
            early_retries: get(&self.early_retries),
            messages_dropped: get(&self.messages_dropped),
            faults_injected: get(&self.faults_injected),
            max_in_flight: get(&self.max_in_flight),
            drafts_created: get(&self.drafts_created),
            drafts_deleted: get(&self.drafts_deleted),
            upload_sessions_created: get(&self.upload_sessions_created),
            upload_requests: get(&self.upload_requests),
            upload_chunks: get(&self.upload_chunks),
            upload_bytes: get(&self.upload_bytes),
            identity_requests: get(&self.identity_requests),
            identity_tokens_issued: get(&self.identity_tokens_issued),
            identity_errors: get(&self.identity_errors),
        }
    }

    /// Counters read back from a store at start.
    pub fn load(&self, c: &Counters) {
        let set = |cell: &AtomicU64, value: u64| cell.store(value, Ordering::Relaxed);
        set(&self.token_requests, c.token_requests);
        set(&self.tokens_issued, c.tokens_issued);
        set(&self.token_errors, c.token_errors);
        set(&self.send_requests, c.send_requests);
        set(&self.sends_accepted, c.sends_accepted);
        set(&self.throttled, c.throttled);
        set(&self.early_retries, c.early_retries);
        set(&self.messages_dropped, c.messages_dropped);
        set(&self.faults_injected, c.faults_injected);
        set(&self.max_in_flight, c.max_in_flight);
        set(&self.drafts_created, c.drafts_created);
        set(&self.drafts_deleted, c.drafts_deleted);
        set(&self.upload_sessions_created, c.upload_sessions_created);
        set(&self.upload_requests, c.upload_requests);
        set(&self.upload_chunks, c.upload_chunks);
        set(&self.upload_bytes, c.upload_bytes);
        set(&self.identity_requests, c.identity_requests);
        set(&self.identity_tokens_issued, c.identity_tokens_issued);
        set(&self.identity_errors, c.identity_errors);
    }

    fn reset(&self) {
        for cell in [
            &self.token_requests,
            &self.tokens_issued,
            &self.token_errors,
            &self.send_requests,
            &self.sends_accepted,
            &self.throttled,
            &self.early_retries,
            &self.messages_dropped,
            &self.faults_injected,
            &self.max_in_flight,
            &self.drafts_created,
            &self.drafts_deleted,
            &self.upload_sessions_created,
            &self.upload_requests,
            &self.upload_chunks,
            &self.upload_bytes,
            &self.identity_requests,
            &self.identity_tokens_issued,
            &self.identity_errors,
        ] {
            cell.store(0, Ordering::Relaxed);
        }
    }
}

/// Token ids (`uti`) issued and revoked, for `POST /_emulator/tokens/revoke`.
#[derive(Default)]
pub(crate) struct IssuedTokens {
    issued: HashSet<String>,
    revoked: HashSet<String>,
}

impl IssuedTokens {
    pub fn record(&mut self, uti: &str) {
        self.issued.insert(uti.to_owned());
    }

    /// Revokes every token issued so far; returns how many that is.
    pub fn revoke_all(&mut self) -> usize {
        self.revoked.extend(self.issued.iter().cloned());
        self.revoked.len()
    }

    pub fn is_revoked(&self, uti: &str) -> bool {
        self.revoked.contains(uti)
    }
}

/// `jti`s of client assertions already used, with their `exp`.
#[derive(Default)]
pub(crate) struct SeenAssertions {
    seen: HashMap<(String, String), i64>,
}

impl SeenAssertions {
    /// Records a use; `false` when this app already used this `jti` and the
    /// assertion has not expired yet. Expired entries are forgotten.
    pub fn first_use(&mut self, client_id: &str, jti: &str, exp: i64, now: i64) -> bool {
        self.seen.retain(|_, until| *until >= now);
        self.seen
            .insert((client_id.to_owned(), jti.to_owned()), exp)
            .is_none()
    }

    pub fn clear(&mut self) {
        self.seen.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message_json::MessageJson;

    fn stored(id: &str) -> StoredMessage {
        StoredMessage {
            id: id.into(),
            mailbox: "erp@contoso.test".into(),
            app_id: "a".into(),
            tenant_id: "t".into(),
            received_at: "2026-12-06T00:00:00Z".into(),
            save_to_sent_items: true,
            request_id: "r".into(),
            client_request_id: "c".into(),
            message: MessageJson::from_value(&serde_json::json!({ "subject": id })),
            mime: None,
            sent_via: SentVia::SendMail,
            draft_id: None,
        }
    }

    #[test]
    fn a_watcher_wakes_on_every_change_even_at_an_equal_number() {
        let store = MessageStore::new();
        let mut watcher = store.subscribe();
        assert_eq!(store.push_bounded(stored("m1"), 2), 0);
        assert!(watcher.has_changed().unwrap());
        assert_eq!(*watcher.borrow_and_update(), 1);
        // A clear then a push leaves the number at 1: still a change.
        store.clear();
        store.push_bounded(stored("m2"), 2);
        assert!(
            watcher.has_changed().unwrap(),
            "the clear and push went unseen"
        );
        assert_eq!(*watcher.borrow_and_update(), 1);
        // Past the bound the oldest goes, and the number stays at the bound.
        store.push_bounded(stored("m3"), 2);
        assert_eq!(store.push_bounded(stored("m4"), 2), 1);
        assert!(watcher.has_changed().unwrap());
        assert_eq!(*watcher.borrow_and_update(), 2);
        let ids: Vec<String> = store.all().into_iter().map(|m| m.id).collect();
        assert_eq!(ids, ["m3", "m4"]);
    }
}
