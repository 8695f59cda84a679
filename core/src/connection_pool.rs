//! More than one connection to Graph when many mailboxes send at once. One
//! HTTP/2 connection is driven by one task, so however many threads the
//! runtime has, every request of every mailbox passes through that task: on
//! a machine with many cores it is the ceiling (bench/README.md). Each HTTP
//! client here holds its own connection; a mailbox is given one of them the
//! first time it sends (see `mailbox_limiter.rs`) and keeps it, so its
//! requests stay in order on one connection, under its one limit of requests
//! in flight.

use std::sync::OnceLock;

use crate::config::Config;
use crate::http;

/// At most this many connections: Graph's limit of 4 requests in flight per
/// mailbox already spreads the load, and each connection is one more TLS
/// handshake and one more socket held open to Microsoft.
const MAX_CONNECTIONS: usize = 4;

pub(crate) struct ConnectionPool {
    first: reqwest::Client,
    /// Built on first use, so a process that sends for one mailbox (a
    /// script, a cold start) builds one client and opens one connection.
    more: Box<[OnceLock<reqwest::Client>]>,
}

impl ConnectionPool {
    /// One connection per core the process may run on, up to
    /// [`MAX_CONNECTIONS`]. `first` also carries the token requests and
    /// upload sessions.
    pub(crate) fn new(first: reqwest::Client) -> ConnectionPool {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let size = cores.min(MAX_CONNECTIONS);
        ConnectionPool {
            first,
            more: (1..size).map(|_| OnceLock::new()).collect(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.more.len() + 1
    }

    /// The client of connection `index` (taken modulo the pool's size).
    pub(crate) fn get(&self, index: usize, config: &Config) -> &reqwest::Client {
        match index % self.len() {
            0 => &self.first,
            i => {
                let slot = &self.more[i - 1];
                if let Some(client) = slot.get() {
                    return client;
                }
                match http::build_client(config) {
                    Ok(client) => slot.get_or_init(|| client),
                    // The first client was built from the same settings, so
                    // this does not happen; if it did, sharing the first
                    // connection is still correct.
                    Err(_) => &self.first,
                }
            }
        }
    }

    /// The client for requests that belong to no mailbox's connection: the
    /// token endpoint, upload sessions.
    pub(crate) fn first(&self) -> &reqwest::Client {
        &self.first
    }
}
