//! Which connection each Graph request came on (`GET /_emulator/connections`),
//! so a client's tests can check how it spreads mailboxes over connections:
//! one mailbox's requests on one connection, many mailboxes on more than one.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Mutex;

use serde_json::{Value, json};

use crate::state::lock;

/// Graph requests per mailbox, for each connection (its client's address and
/// port), since start or the last reset.
#[derive(Default)]
pub(crate) struct ConnectionLog {
    connections: Mutex<BTreeMap<SocketAddr, BTreeMap<String, u64>>>,
}

impl ConnectionLog {
    /// Counts a request on the connection from `peer`, when its path names
    /// a mailbox.
    pub(crate) fn record(&self, peer: SocketAddr, path: &str) {
        let Some(mailbox) = mailbox_of(path) else {
            return;
        };
        let mut connections = lock(&self.connections);
        let requests = connections.entry(peer).or_default();
        // Every Graph request passes here: a mailbox seen before on this
        // connection costs no allocation.
        match requests.get_mut(mailbox.as_ref()) {
            Some(count) => *count += 1,
            None => {
                requests.insert(mailbox.into_owned(), 1);
            }
        }
    }

    pub(crate) fn clear(&self) {
        lock(&self.connections).clear();
    }

    pub(crate) fn to_json(&self) -> Value {
        let connections: Vec<Value> = lock(&self.connections)
            .iter()
            .map(|(peer, requests)| json!({ "peer": peer.to_string(), "requests": requests }))
            .collect();
        json!({ "connections": connections })
    }
}

/// The mailbox of `/v1.0/users/{mailbox}/...`, decoded and in lower case (as
/// Graph matches addresses); borrowed from the path when it is already so.
fn mailbox_of(path: &str) -> Option<Cow<'_, str>> {
    let segment = path.strip_prefix("/v1.0/users/")?.split('/').next()?;
    let plain = |b: u8| b.is_ascii() && !b.is_ascii_uppercase() && !b"%+&".contains(&b);
    if segment.bytes().all(plain) {
        return Some(Cow::Borrowed(segment));
    }
    let decoded: String = url::form_urlencoded::parse(format!("m={segment}").as_bytes())
        .next()?
        .1
        .into_owned();
    Some(Cow::Owned(decoded.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mailbox_is_read_from_a_users_path() {
        assert_eq!(
            mailbox_of("/v1.0/users/ERP%40contoso.test/sendMail").as_deref(),
            Some("erp@contoso.test")
        );
        assert_eq!(
            mailbox_of("/v1.0/users/a+b%40x.test").as_deref(),
            Some("a b@x.test")
        );
        assert_eq!(
            mailbox_of("/v1.0/users/erp@contoso.test/sendMail").as_deref(),
            Some("erp@contoso.test")
        );
        assert_eq!(
            mailbox_of("/v1.0/users/Erp@Contoso.test").as_deref(),
            Some("erp@contoso.test")
        );
        assert_eq!(mailbox_of("/_emulator/counters"), None);
    }
}
