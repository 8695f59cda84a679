//! Pieces the benchmark programs share: the minimal fake Graph server, the
//! load generator that drives it (and the emulator), and the clock and CPU
//! readings every client reports in the same form.

pub mod fake_graph;
pub mod load;
pub mod probe;

/// The `sendMail` body every client in the benchmark sends, byte for byte
/// what graphmailer writes for a one-line text mail to one recipient.
pub const BODY: &str = r#"{"message":{"subject":"bench","body":{"contentType":"Text","content":"x"},"toRecipients":[{"emailAddress":{"address":"bench@example.com"}}]},"saveToSentItems":true}"#;

/// The mailboxes "16 in flight" goes round (graphmailer keeps at most 4
/// requests in flight per mailbox, as Graph asks).
pub const MAILBOXES: [&str; 4] = [
    "bench1@contoso.test",
    "bench2@contoso.test",
    "bench3@contoso.test",
    "bench4@contoso.test",
];
