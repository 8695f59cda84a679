//! A message at the end of DATA: the checks the header block must pass,
//! the rewrite that makes the envelope decide the recipients, and the
//! handover to the mailer of whoever sent it.

use std::net::SocketAddr;

use graphmailer::sendmail::Envelope;
use graphmailer::{Error, Result};
use mail_parser::HeaderName;

use crate::access::Grant;
use crate::delivery::reply_for;
use crate::message_log::MessageRecord;
use crate::metrics::MessageResult;
use crate::reply::Reply;
use crate::server::Shared;
use crate::session::printable;

pub struct Submission {
    pub client: SocketAddr,
    pub grant: Grant,
    pub mail_from: String,
    pub recipients: Vec<String>,
}

impl Submission {
    /// Checks and hands the message over; the reply says 250 only once the
    /// message is safe (queued, or accepted by Graph).
    pub async fn accept(self, shared: &Shared, bytes: Vec<u8>) -> Reply {
        let size = bytes.len();
        let outcome = match self.check_from_headers(&bytes) {
            Err(reply) => Err(reply),
            Ok(()) => match self.prepare(&bytes) {
                Err(e) => Err(reply_for(&e)),
                Ok(prepared) => {
                    shared.routes[self.grant.mailer]
                        .hand_over(&prepared.sender, &prepared.message)
                        .await
                }
            },
        };
        match outcome {
            Ok(handover) => {
                let reply = handover.reply();
                self.record(
                    shared,
                    MessageResult::Accepted,
                    size,
                    &reply,
                    Some(handover.id()),
                );
                reply
            }
            Err(reply) => {
                self.refused(shared, &reply);
                reply
            }
        }
    }

    /// Counts and logs a message refused before any handover.
    pub fn refused(&self, shared: &Shared, reply: &Reply) {
        let result = if reply.code >= 500 {
            MessageResult::Rejected
        } else {
            MessageResult::Deferred
        };
        self.record(shared, result, 0, reply, None);
    }

    fn record(
        &self,
        shared: &Shared,
        result: MessageResult,
        bytes: usize,
        reply: &Reply,
        id: Option<&str>,
    ) {
        shared.metrics.message(result, bytes);
        let mut text = Vec::new();
        reply.write_to(&mut text);
        shared.log.write(&MessageRecord {
            client: self.client.ip().to_string(),
            principal: &self.grant.principal,
            sender: &self.mail_from,
            recipients: self.recipients.len(),
            bytes,
            result: result.as_str(),
            reply: String::from_utf8_lossy(&text).trim_end().to_owned(),
            id,
        });
    }

    /// Every address in From (and Sender) must be one this client may send
    /// as, like MAIL FROM: a printer allowed to send as scanner@ cannot
    /// put the CEO in From.
    fn check_from_headers(&self, bytes: &[u8]) -> std::result::Result<(), Reply> {
        let Some(headers) = mail_parser::MessageParser::default().parse_headers(bytes) else {
            return Err(Reply::new(554, "5.6.0", "the message has no header block"));
        };
        // RFC 5322 3.6 allows one From and one Sender. With two, readers
        // disagree on which counts (mail-parser the last, core the first),
        // so the one checked here might not be the one sent.
        for (name, field) in [("From", HeaderName::From), ("Sender", HeaderName::Sender)] {
            if headers.header_values(field).nth(1).is_some() {
                return Err(Reply::with(
                    554,
                    "5.6.0",
                    format!(
                        "the message has more than one {name} header (RFC 5322 3.6); nothing was accepted"
                    ),
                ));
            }
        }
        let named = headers
            .from()
            .into_iter()
            .chain(headers.sender())
            .flat_map(|list| list.iter());
        for addr in named {
            let Some(address) = addr.address() else {
                continue;
            };
            if !self.grant.may_send_as.allows(address) {
                return Err(Reply::with(
                    550,
                    "5.7.1",
                    format!(
                        "{} may not send as <{}> (From header)",
                        self.grant.principal,
                        printable(address)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The headers are rewritten so Graph, which mails the To/Cc/Bcc
    /// headers' addresses, mails exactly the envelope's recipients: Bcc-only
    /// mail arrives, a header recipient not in the envelope gets nothing.
    fn prepare(&self, bytes: &[u8]) -> Result<graphmailer::sendmail::Prepared> {
        Envelope {
            read_recipients: false,
            from: Some(self.mail_from.clone()),
            full_name: None,
            recipients: self.recipients.clone(),
        }
        .prepare(bytes, None)
    }
}

/// The core's own check of a recipient address (the one the sendmail
/// stand-in applies to its arguments), run at RCPT so a bad address is
/// refused alone instead of failing the whole message at DATA.
pub fn check_recipient(address: &str) -> std::result::Result<(), Error> {
    // One RCPT names one mailbox: a list separator or a bracket in it would
    // make the header rewrite mail addresses the client never gave.
    if address.chars().any(|c| {
        matches!(c, ',' | ';' | '<' | '>' | '"' | '(' | ')') || c.is_whitespace() || c.is_control()
    }) {
        return Err(Error::invalid(
            "recipients",
            "names more than one mailbox or holds characters no address has",
        ));
    }
    Envelope {
        read_recipients: false,
        from: Some("check@relay.invalid".into()),
        full_name: None,
        recipients: vec![address.to_owned()],
    }
    .prepare(b"Subject: check\r\n\r\n", None)
    .map(|_| ())
}
