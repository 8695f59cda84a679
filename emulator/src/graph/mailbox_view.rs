//! One mailbox's messages as Graph shows them, computed from what the
//! emulator stores rather than stored per folder: the sender's Sent Items
//! copy of each send, an Inbox copy in every known mailbox the send was
//! addressed to (To, Cc or Bcc), and the mailbox's drafts. Each copy has
//! its own stable id, derived from the stored message and the mailbox, so
//! the storage keeps one record per send.

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::drafts::file_attachment;
use super::odata_query::canonical;
use super::validation::{canonical_message_property, decode_base64};
use crate::drafts::{Attachment, Draft, property, rfc3339};
use crate::state::{Shared, StoredMessage};

/// The well-known folders the emulator keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Folder {
    Inbox,
    SentItems,
    Drafts,
}

impl Folder {
    const ALL: [Folder; 3] = [Folder::Inbox, Folder::SentItems, Folder::Drafts];

    fn well_known_name(self) -> &'static str {
        match self {
            Folder::Inbox => "inbox",
            Folder::SentItems => "sentitems",
            Folder::Drafts => "drafts",
        }
    }

    /// A folder by its well-known name (any case) or by the id Graph gave it.
    pub fn find(name: &str, mailbox: &str) -> Option<Folder> {
        Folder::ALL
            .into_iter()
            .find(|f| name.eq_ignore_ascii_case(f.well_known_name()) || name == f.id(mailbox))
    }

    /// The folder's opaque id in this mailbox, as `parentFolderId` gives it.
    pub fn id(self, mailbox: &str) -> String {
        opaque_id("AQMk", &format!("{mailbox}\n{}", self.well_known_name()))
    }
}

/// A stable id in Exchange's style from what names the item.
fn opaque_id(prefix: &str, seed: &str) -> String {
    format!(
        "{prefix}{}",
        URL_SAFE.encode(digest(&SHA256, seed.as_bytes()).as_ref())
    )
}

/// One message in one mailbox.
pub(crate) struct MailItem {
    pub id: String,
    pub folder: Folder,
    /// The message resource with every property (bodies included).
    pub resource: Map<String, Value>,
    /// Where the attachments are, decoded only when asked for.
    source: Source,
    /// For a MIME send: the MIME as this mailbox has it.
    pub mime: Option<String>,
}

enum Source {
    /// A stored send and when it was accepted.
    Sent(Box<StoredMessage>, OffsetDateTime),
    Draft(Vec<Attachment>),
}

impl MailItem {
    /// The file attachments with their exact bytes.
    pub fn attachments(&self) -> Vec<Attachment> {
        match &self.source {
            Source::Sent(m, at) => stored_attachments(m, &self.id, *at),
            Source::Draft(attachments) => attachments.clone(),
        }
    }
}

/// Every message of `mailbox` (a lowercase address) the caller can see now.
pub(crate) fn mailbox_items(shared: &Shared, mailbox: &str) -> Vec<MailItem> {
    let settings = shared.settings();
    let lag = time::Duration::milliseconds(settings.sent_items_lag_ms as i64);
    let now = shared.clock.now_utc();
    let mut items = Vec::new();
    for m in shared.messages.all() {
        let Ok(at) = OffsetDateTime::parse(&m.received_at, &Rfc3339) else {
            continue;
        };
        // Exchange saves the sender's copy after transport, hence the lag.
        let sent = m.mailbox == mailbox && m.save_to_sent_items && at + lag <= now;
        match (sent, addressed_to(&m, mailbox)) {
            (true, true) => {
                items.push(inbox_copy(m.clone(), mailbox, at));
                items.push(sent_copy(m, at));
            }
            (true, false) => items.push(sent_copy(m, at)),
            (false, true) => items.push(inbox_copy(m, mailbox, at)),
            (false, false) => {}
        }
    }
    items.extend(
        shared
            .drafts
            .of_mailbox(mailbox)
            .into_iter()
            .map(|d| draft_item(&d)),
    );
    items
}

fn addressed_to(m: &StoredMessage, mailbox: &str) -> bool {
    ["toRecipients", "ccRecipients", "bccRecipients"]
        .iter()
        .flat_map(|list| m.recipients(list))
        .any(|a| a.eq_ignore_ascii_case(mailbox))
}

fn sent_copy(m: StoredMessage, at: OffsetDateTime) -> MailItem {
    let mut resource = base_resource(&m, at);
    resource.insert("id".into(), json!(m.id));
    resource.insert("isRead".into(), json!(true));
    resource.insert(
        "parentFolderId".into(),
        json!(Folder::SentItems.id(&m.mailbox)),
    );
    MailItem {
        id: m.id.clone(),
        folder: Folder::SentItems,
        resource,
        mime: m.mime.clone(),
        source: Source::Sent(Box::new(m), at),
    }
}

fn inbox_copy(m: StoredMessage, mailbox: &str, at: OffsetDateTime) -> MailItem {
    let id = opaque_id("AAMk", &format!("{}\n{mailbox}", m.id));
    let mut resource = base_resource(&m, at);
    resource.insert("id".into(), json!(id));
    // A recipient never learns who else was on Bcc.
    resource.insert("bccRecipients".into(), json!([]));
    resource.insert("isRead".into(), json!(false));
    resource.insert("parentFolderId".into(), json!(Folder::Inbox.id(mailbox)));
    MailItem {
        id,
        folder: Folder::Inbox,
        resource,
        mime: m.mime.as_deref().map(without_bcc),
        source: Source::Sent(Box::new(m), at),
    }
}

/// The properties both copies of a send share.
fn base_resource(m: &StoredMessage, at: OffsetDateTime) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(object) = m.message.as_object() {
        for (k, v) in object {
            // Attachments are a relationship, not a property of the message.
            if !k.eq_ignore_ascii_case("attachments") && !k.starts_with('@') {
                out.insert(spelled(k), v.clone());
            }
        }
    }
    let domain = m
        .mailbox
        .rsplit_once('@')
        .map_or("emulator.invalid", |(_, d)| d);
    let internet_message_id = m
        .property("internetMessageId")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("<{}@{domain}>", m.id));
    let mailbox = json!({ "emailAddress": { "address": m.mailbox } });
    out.entry("from").or_insert_with(|| mailbox.clone());
    out.insert("sender".into(), mailbox);
    out.insert("internetMessageId".into(), json!(internet_message_id));
    let at = rfc3339(at);
    for key in [
        "sentDateTime",
        "receivedDateTime",
        "createdDateTime",
        "lastModifiedDateTime",
    ] {
        out.insert(key.into(), json!(at));
    }
    out.insert("isDraft".into(), json!(false));
    let has_attachments = m
        .property("attachments")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    out.insert("hasAttachments".into(), json!(has_attachments));
    add_body_preview(&mut out);
    for list in ["toRecipients", "ccRecipients", "bccRecipients", "replyTo"] {
        out.entry(list).or_insert_with(|| json!([]));
    }
    out
}

fn draft_item(draft: &Draft) -> MailItem {
    let mut out = Map::new();
    for (k, v) in &draft.message {
        out.insert(spelled(k), v.clone());
    }
    let at = rfc3339(draft.created_at);
    out.insert("id".into(), json!(draft.id));
    for key in [
        "createdDateTime",
        "lastModifiedDateTime",
        "receivedDateTime",
        "sentDateTime",
    ] {
        out.insert(key.into(), json!(at));
    }
    out.insert("isDraft".into(), json!(true));
    out.insert("isRead".into(), json!(true));
    out.insert(
        "hasAttachments".into(),
        json!(!draft.attachments.is_empty()),
    );
    out.insert(
        "parentFolderId".into(),
        json!(Folder::Drafts.id(&draft.mailbox)),
    );
    add_body_preview(&mut out);
    MailItem {
        id: draft.id.clone(),
        folder: Folder::Drafts,
        resource: out,
        source: Source::Draft(draft.attachments.clone()),
        mime: None,
    }
}

/// A property name as Graph spells it.
fn spelled(name: &str) -> String {
    canonical(name)
        .or_else(|| canonical_message_property(name))
        .unwrap_or(name)
        .to_owned()
}

fn add_body_preview(out: &mut Map<String, Value>) {
    let preview: String = out
        .get("body")
        .and_then(|b| b.as_object())
        .and_then(|b| property(b, "content"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .chars()
        .take(255)
        .collect();
    out.insert("bodyPreview".into(), json!(preview));
}

/// The file attachments of a stored send, with their exact bytes. Ids
/// derive from the copy's id and the position, so they are stable.
fn stored_attachments(m: &StoredMessage, copy_id: &str, at: OffsetDateTime) -> Vec<Attachment> {
    let Some(items) = m.property("attachments").and_then(Value::as_array) else {
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(index, item)| {
            let object = item.as_object()?;
            let bytes = property(object, "contentBytes")
                .and_then(Value::as_str)
                .and_then(decode_base64)?;
            let id = opaque_id("AAMk", &format!("{copy_id}\n{index}"));
            Some(file_attachment(object, id, bytes, at))
        })
        .collect()
}

/// The MIME with its Bcc header (and that header's continuation lines)
/// removed, as transport delivers it to a recipient.
fn without_bcc(mime: &str) -> String {
    let (head, rest) = match mime.find("\r\n\r\n").or_else(|| mime.find("\n\n")) {
        Some(at) => mime.split_at(at),
        None => (mime, ""),
    };
    let mut out = String::with_capacity(mime.len());
    let mut skipping = false;
    for line in head.split_inclusive('\n') {
        let continuation = line.starts_with(' ') || line.starts_with('\t');
        if !continuation {
            skipping = line
                .get(..4)
                .is_some_and(|name| name.eq_ignore_ascii_case("bcc:"));
        }
        if !skipping {
            out.push_str(line);
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcc_is_removed_from_the_header_block_only() {
        let mime = "From: a@b\r\nBcc: x@y,\r\n z@y\r\nTo: c@d\r\n\r\nBcc: in the body\r\n";
        assert_eq!(
            without_bcc(mime),
            "From: a@b\r\nTo: c@d\r\n\r\nBcc: in the body\r\n"
        );
    }

    #[test]
    fn folders_are_found_by_name_in_any_case_or_by_id() {
        let id = Folder::Inbox.id("a@b");
        assert_eq!(Folder::find("INBOX", "a@b"), Some(Folder::Inbox));
        assert_eq!(Folder::find("SentItems", "a@b"), Some(Folder::SentItems));
        assert_eq!(Folder::find(&id, "a@b"), Some(Folder::Inbox));
        assert_eq!(Folder::find(&id, "c@d"), None);
        assert_eq!(Folder::find("archive", "a@b"), None);
    }
}
