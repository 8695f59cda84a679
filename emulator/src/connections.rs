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
    /// Counts a request for `mailbox` (as its path named it, decoded) on the
    /// connection from `peer`, in lower case, as Graph matches addresses.
    pub(crate) fn record(&self, peer: SocketAddr, mailbox: &str) {
        let mailbox = if mailbox.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(mailbox.to_ascii_lowercase())
        } else {
            Cow::Borrowed(mailbox)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mailbox_is_counted_in_lower_case_per_connection() {
        let log = ConnectionLog::default();
        let (one, two) = (
            "127.0.0.1:40001".parse().unwrap(),
            "127.0.0.1:40002".parse().unwrap(),
        );
        log.record(one, "erp@contoso.test");
        log.record(one, "ERP@Contoso.test");
        log.record(one, "a+b@x.test");
        log.record(two, "erp@contoso.test");
        assert_eq!(
            log.to_json(),
            json!({"connections": [
                {"peer": "127.0.0.1:40001", "requests": {"a+b@x.test": 1, "erp@contoso.test": 2}},
                {"peer": "127.0.0.1:40002", "requests": {"erp@contoso.test": 1}},
            ]})
        );
    }
}
