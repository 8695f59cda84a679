//! The relay's counters, written in Prometheus' text format. Labels stay
//! low-cardinality (a result, a status code, a queue state): never an
//! address or a user name.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// What became of a message the relay received.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MessageResult {
    /// Answered 250: committed to the queue (or accepted by Graph).
    Accepted,
    /// Refused for good with a 5xx (policy, size, syntax).
    Rejected,
    /// Refused for now with a 4xx (queue or Graph unavailable).
    Deferred,
}

impl MessageResult {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageResult::Accepted => "accepted",
            MessageResult::Rejected => "rejected",
            MessageResult::Deferred => "deferred",
        }
    }
}

const DURATION_BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

#[derive(Default)]
pub struct Metrics {
    connections_total: AtomicU64,
    connections_open: AtomicU64,
    connections_refused: AtomicU64,
    auth_failures: AtomicU64,
    lockouts: AtomicU64,
    messages: Mutex<BTreeMap<MessageResult, u64>>,
    accepted_bytes: AtomicU64,
    graph: Mutex<GraphRequests>,
}

#[derive(Default)]
struct GraphRequests {
    by_status: BTreeMap<String, u64>,
    buckets: [u64; DURATION_BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// The queue's figures, read from the outbox when metrics are scraped.
#[derive(Default)]
pub struct QueueFigures {
    pub by_state: BTreeMap<String, u64>,
    pub oldest_unsent_age: Option<Duration>,
}

impl Metrics {
    pub fn connection_opened(&self) {
        self.connections_total.fetch_add(1, Relaxed);
        self.connections_open.fetch_add(1, Relaxed);
    }
    pub fn connection_closed(&self) {
        self.connections_open.fetch_sub(1, Relaxed);
    }
    pub fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Relaxed);
    }
    pub fn open_connections(&self) -> u64 {
        self.connections_open.load(Relaxed)
    }
    pub fn auth_failed(&self, locked: bool) {
        self.auth_failures.fetch_add(1, Relaxed);
        if locked {
            self.lockouts.fetch_add(1, Relaxed);
        }
    }
    pub fn message(&self, result: MessageResult, bytes: usize) {
        *self
            .messages
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(result)
            .or_default() += 1;
        if result == MessageResult::Accepted {
            self.accepted_bytes.fetch_add(bytes as u64, Relaxed);
        }
    }
    /// One request to Graph: its status (`202`, `429`, or `error` when no
    /// answer came) and how long it took.
    pub fn graph_request(&self, status: &str, took: Duration) {
        let mut g = self.graph.lock().unwrap_or_else(|e| e.into_inner());
        *g.by_status.entry(status.to_owned()).or_default() += 1;
        let secs = took.as_secs_f64();
        for (i, le) in DURATION_BUCKETS.iter().enumerate() {
            if secs <= *le {
                g.buckets[i] += 1;
            }
        }
        g.count += 1;
        g.sum += secs;
    }

    pub fn render(&self, queue: Option<&QueueFigures>) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        counter(
            &mut out,
            "graphmailer_smtp_connections_total",
            "SMTP connections accepted.",
            self.connections_total.load(Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP graphmailer_smtp_connections_open SMTP sessions open now.\n# TYPE graphmailer_smtp_connections_open gauge\ngraphmailer_smtp_connections_open {}",
            self.connections_open.load(Relaxed)
        );
        counter(
            &mut out,
            "graphmailer_smtp_connections_refused_total",
            "SMTP connections refused at the connection limit or during shutdown.",
            self.connections_refused.load(Relaxed),
        );
        counter(
            &mut out,
            "graphmailer_smtp_auth_failures_total",
            "Failed SMTP logins.",
            self.auth_failures.load(Relaxed),
        );
        counter(
            &mut out,
            "graphmailer_smtp_lockouts_total",
            "Client addresses locked out after repeated failed logins.",
            self.lockouts.load(Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP graphmailer_messages_total Messages received over SMTP, by result.\n# TYPE graphmailer_messages_total counter"
        );
        {
            let messages = self.messages.lock().unwrap_or_else(|e| e.into_inner());
            for result in [
                MessageResult::Accepted,
                MessageResult::Rejected,
                MessageResult::Deferred,
            ] {
                let n = messages.get(&result).copied().unwrap_or(0);
                let _ = writeln!(
                    out,
                    "graphmailer_messages_total{{result=\"{}\"}} {n}",
                    result.as_str()
                );
            }
        }
        counter(
            &mut out,
            "graphmailer_accepted_bytes_total",
            "Bytes of the messages answered 250.",
            self.accepted_bytes.load(Relaxed),
        );
        if let Some(queue) = queue {
            let _ = writeln!(
                out,
                "# HELP graphmailer_queue_messages Messages in the outbox, by state.\n# TYPE graphmailer_queue_messages gauge"
            );
            for (state, n) in &queue.by_state {
                let _ = writeln!(out, "graphmailer_queue_messages{{state=\"{state}\"}} {n}");
            }
            let _ = writeln!(
                out,
                "# HELP graphmailer_queue_oldest_age_seconds Age of the oldest message not yet sent.\n# TYPE graphmailer_queue_oldest_age_seconds gauge\ngraphmailer_queue_oldest_age_seconds {}",
                queue.oldest_unsent_age.map_or(0.0, |d| d.as_secs_f64())
            );
        }
        let g = self.graph.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(
            out,
            "# HELP graphmailer_graph_requests_total Requests that send mail (sendMail, a draft's send), direct or from the queue, by HTTP status (none: no answer came).\n# TYPE graphmailer_graph_requests_total counter"
        );
        for (status, n) in &g.by_status {
            let _ = writeln!(
                out,
                "graphmailer_graph_requests_total{{status=\"{status}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP graphmailer_graph_request_duration_seconds Time for one sendMail request.\n# TYPE graphmailer_graph_request_duration_seconds histogram"
        );
        for (i, le) in DURATION_BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "graphmailer_graph_request_duration_seconds_bucket{{le=\"{le}\"}} {}",
                g.buckets[i]
            );
        }
        let _ = writeln!(
            out,
            "graphmailer_graph_request_duration_seconds_bucket{{le=\"+Inf\"}} {c}\ngraphmailer_graph_request_duration_seconds_sum {}\ngraphmailer_graph_request_duration_seconds_count {c}",
            g.sum,
            c = g.count
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_with_low_cardinality_labels() {
        let m = Metrics::default();
        m.connection_opened();
        m.message(MessageResult::Accepted, 10);
        m.message(MessageResult::Rejected, 0);
        m.graph_request("202", Duration::from_millis(30));
        let text = m.render(None);
        assert!(text.contains("graphmailer_smtp_connections_total 1\n"));
        assert!(text.contains("graphmailer_messages_total{result=\"accepted\"} 1\n"));
        assert!(text.contains("graphmailer_messages_total{result=\"rejected\"} 1\n"));
        assert!(text.contains("graphmailer_graph_requests_total{status=\"202\"} 1\n"));
        assert!(
            text.contains("graphmailer_graph_request_duration_seconds_bucket{le=\"0.05\"} 1\n")
        );
        assert!(text.contains("graphmailer_graph_request_duration_seconds_count 1\n"));
    }
}
