//! One SMTP session (RFC 5321, submission per RFC 6409): the state machine
//! from greeting to QUIT, over any stream, so the same code serves plain
//! connections, STARTTLS after the upgrade, and implicit TLS.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use smtp_proto::{Error as ParseError, Request};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::watch;
use tokio::time::timeout;
use zeroize::Zeroizing;

use crate::access::Grant;
use crate::config::ListenerMode;
use crate::lines::{Line, read_line};
use crate::reply::{self, Reply};
use crate::server::Shared;
use crate::submission::Submission;

/// The longest command line taken (RFC 5321's 512 octets, raised for the
/// ESMTP parameters and the AUTH initial responses that RFC 4954 allows).
const MAX_COMMAND_LINE: usize = 2048;
/// RFC 4954 section 4: a SASL response line may be up to 12288 octets.
const MAX_AUTH_LINE: usize = 12288;
/// A client that keeps sending wrong commands is cut off.
const MAX_ERRORS: u32 = 20;

/// The listener a session came in on.
#[derive(Clone, Copy, Debug)]
pub struct Listener {
    pub mode: ListenerMode,
    pub allow_plain_auth: bool,
}

/// How one pass over a stream ended.
pub enum Ended<S> {
    Closed,
    /// The client asked for STARTTLS and got 220: upgrade this stream.
    StartTls(S),
}

/// What a session knows about its client, kept across the TLS upgrade only
/// where RFC 3207 allows (the address; not the greeting or the login).
pub struct Session {
    pub shared: Arc<Shared>,
    pub peer: SocketAddr,
    pub listener: Listener,
    pub tls: bool,
    stop: watch::Receiver<bool>,
    greeted: bool,
    user: Option<Grant>,
    transaction: Option<Transaction>,
    errors: u32,
}

struct Transaction {
    grant: Grant,
    mail_from: String,
    recipients: Vec<String>,
}

/// Replies wait here until the client has nothing more pipelined.
pub(crate) struct Output(pub(crate) Vec<u8>);

impl Session {
    pub fn new(
        shared: Arc<Shared>,
        peer: SocketAddr,
        listener: Listener,
        stop: watch::Receiver<bool>,
    ) -> Session {
        Session {
            shared,
            peer,
            listener,
            tls: false,
            stop,
            greeted: false,
            user: None,
            transaction: None,
            errors: 0,
        }
    }

    /// Starts over after STARTTLS: the client must greet again and nothing
    /// said in plain text counts (RFC 3207 4.2).
    pub fn upgraded(&mut self) {
        self.tls = true;
        self.greeted = false;
        self.user = None;
        self.transaction = None;
    }

    /// Serves commands on `stream` until QUIT, an error, or STARTTLS.
    pub async fn run<S>(&mut self, stream: S, greet: bool) -> std::io::Result<Ended<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let mut reader = BufReader::new(stream);
        let mut out = Output(Vec::with_capacity(512));
        let wait = self.shared.limits.command_timeout();
        if greet {
            Reply::with(
                220,
                "",
                format!("{} ESMTP graphmailer relay", self.shared.hostname),
            )
            .write_to(&mut out.0);
            flush(&mut reader, &mut out, wait).await?;
        }
        let mut line = Vec::with_capacity(512);
        loop {
            let read = self.next_command(&mut reader, &mut line).await;
            let read = match read {
                Some(read) => read?,
                None => {
                    reply::SHUTTING_DOWN.write_to(&mut out.0);
                    flush(&mut reader, &mut out, wait).await?;
                    return Ok(Ended::Closed);
                }
            };
            let Ok(read) = read else {
                reply::TIMEOUT.write_to(&mut out.0);
                flush(&mut reader, &mut out, wait).await?;
                return Ok(Ended::Closed);
            };
            let step = match read {
                Line::Closed => return Ok(Ended::Closed),
                Line::TooLong => Step::Reply(reply::LINE_TOO_LONG),
                Line::Complete if has_bare_cr_or_nul(&line) => Step::Reply(reply::BARE_CR_OR_NUL),
                Line::Complete => self.command(&line, &mut reader, &mut out).await?,
            };
            // 421 says the relay is closing the channel (RFC 5321 3.8), so
            // it must: a client told so may not be served on.
            let step = match step {
                Step::Reply(r) if r.code == 421 => Step::Quit(r),
                step => step,
            };
            match step {
                Step::Reply(r) => {
                    if r.code >= 500 {
                        self.errors += 1;
                    }
                    r.write_to(&mut out.0);
                    if self.errors >= MAX_ERRORS {
                        reply::TOO_MANY_ERRORS.write_to(&mut out.0);
                        flush(&mut reader, &mut out, wait).await?;
                        return Ok(Ended::Closed);
                    }
                }
                Step::Quit(r) => {
                    r.write_to(&mut out.0);
                    flush(&mut reader, &mut out, wait).await?;
                    let _ = timeout(wait, reader.get_mut().shutdown()).await;
                    return Ok(Ended::Closed);
                }
                Step::StartTls => {
                    Reply::new(220, "2.0.0", "ready to start TLS").write_to(&mut out.0);
                    flush(&mut reader, &mut out, wait).await?;
                    // Anything pipelined after STARTTLS was sent in the clear
                    // and must not be taken as said over TLS (CVE-2011-0411):
                    // into_inner drops it with the buffer.
                    return Ok(Ended::StartTls(reader.into_inner()));
                }
            }
            // PIPELINING: answer a batch at once, when the client waits.
            if reader.buffer().is_empty() {
                flush(&mut reader, &mut out, wait).await?;
            }
        }
    }

    /// Waits for the next command line. `None`: the relay is stopping and
    /// no transaction is open, so the session ends with 421.
    async fn next_command<S: AsyncRead + Unpin>(
        &mut self,
        reader: &mut BufReader<S>,
        line: &mut Vec<u8>,
    ) -> Option<std::io::Result<Result<Line, tokio::time::error::Elapsed>>> {
        let wait = self.shared.limits.command_timeout();
        if *self.stop.borrow() && self.transaction.is_none() && reader.buffer().is_empty() {
            return None;
        }
        if self.transaction.is_some() {
            // An open transaction is finished even while stopping.
            return Some(transpose(
                timeout(wait, read_line(reader, line, MAX_COMMAND_LINE)).await,
            ));
        }
        let mut stop = self.stop.clone();
        tokio::select! {
            read = timeout(wait, read_line(reader, line, MAX_COMMAND_LINE)) => Some(transpose(read)),
            _ = stop.wait_for(|s| *s) => None,
        }
    }

    async fn command<S>(
        &mut self,
        line: &[u8],
        reader: &mut BufReader<S>,
        out: &mut Output,
    ) -> std::io::Result<Step>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let line = bracketed(line);
        let request = match Request::parse(&mut line.iter()) {
            Ok(r) => r.into_owned(),
            Err(e) => return Ok(Step::Reply(parse_error(e))),
        };
        Ok(match request {
            Request::Ehlo { host } => {
                self.greeted = true;
                self.transaction = None;
                Step::Reply(self.ehlo(&host))
            }
            Request::Helo { host } => {
                self.greeted = true;
                self.transaction = None;
                Step::Reply(Reply::with(
                    250,
                    "",
                    format!("{} greets {}", self.shared.hostname, printable(&host)),
                ))
            }
            Request::Lhlo { .. } => Step::Reply(Reply::new(500, "5.5.1", "LHLO is for LMTP")),
            Request::StartTls => self.starttls(),
            Request::Auth {
                mechanism,
                initial_response,
            } => Step::Reply(self.auth(mechanism, &initial_response, reader, out).await?),
            Request::Mail { from } => Step::Reply(self.mail(from)),
            Request::Rcpt { to } => Step::Reply(self.rcpt(&to.address)),
            Request::Data => Step::Reply(self.data(reader, out).await?),
            Request::Rset => {
                self.transaction = None;
                Step::Reply(reply::OK)
            }
            Request::Noop { .. } => Step::Reply(reply::OK),
            Request::Quit => Step::Quit(Reply::new(221, "2.0.0", "bye")),
            Request::Vrfy { .. } => Step::Reply(Reply::new(
                252,
                "2.5.0",
                "cannot VRFY; send some mail and it will be tried",
            )),
            Request::Expn { .. } => Step::Reply(Reply::new(502, "5.5.1", "EXPN not available")),
            Request::Help { .. } => Step::Reply(Reply::new(
                214,
                "2.0.0",
                "see the relay's documentation (cli/RELAY.md)",
            )),
            Request::Bdat { .. }
            | Request::Etrn { .. }
            | Request::Atrn { .. }
            | Request::Burl { .. } => {
                Step::Reply(Reply::new(502, "5.5.1", "command not implemented"))
            }
        })
    }

    fn ehlo(&self, host: &str) -> Reply {
        let s = &self.shared;
        let mut lines = vec![
            format!("{} greets {}", s.hostname, printable(host)),
            format!("SIZE {}", s.limits.max_message_bytes),
            "PIPELINING".to_owned(),
            "8BITMIME".to_owned(),
            "SMTPUTF8".to_owned(),
            "ENHANCEDSTATUSCODES".to_owned(),
        ];
        if self.listener.mode == ListenerMode::Starttls && !self.tls {
            lines.push("STARTTLS".to_owned());
        }
        if self.auth_allowed() {
            lines.push("AUTH PLAIN LOGIN".to_owned());
        }
        Reply::with(250, "", lines.join("\n"))
    }

    /// AUTH needs TLS, except on a listener that allows plain AUTH, and
    /// there only from a listed network.
    fn auth_allowed(&self) -> bool {
        self.tls
            || (self.listener.allow_plain_auth
                && self.shared.access.network(self.peer.ip()).is_some())
    }

    fn starttls(&self) -> Step {
        if self.tls {
            return Step::Reply(Reply::new(503, "5.5.1", "TLS is already on"));
        }
        if self.listener.mode != ListenerMode::Starttls || self.shared.certificates.is_none() {
            return Step::Reply(Reply::new(502, "5.5.1", "STARTTLS not offered here"));
        }
        Step::StartTls
    }

    async fn auth<S>(
        &mut self,
        mechanism: u64,
        initial: &str,
        reader: &mut BufReader<S>,
        out: &mut Output,
    ) -> std::io::Result<Reply>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        if !self.greeted || self.user.is_some() || self.transaction.is_some() {
            return Ok(reply::BAD_SEQUENCE);
        }
        if !self.auth_allowed() {
            return Ok(reply::ENCRYPTION_REQUIRED);
        }
        let ip = self.peer.ip();
        if self.shared.lockout.is_locked(ip) {
            return Ok(reply::AUTH_LOCKED);
        }
        let initial = (!initial.is_empty()).then_some(initial);
        let credentials = match mechanism {
            smtp_proto::AUTH_PLAIN => {
                let response = match initial {
                    Some(r) => Zeroizing::new(r.as_bytes().to_vec()),
                    None => match self.challenge("", reader, out).await? {
                        Ok(r) => r,
                        Err(reply) => return Ok(reply),
                    },
                };
                plain_credentials(&response)
            }
            smtp_proto::AUTH_LOGIN => {
                let user = match initial {
                    Some(r) => Zeroizing::new(r.as_bytes().to_vec()),
                    None => match self.challenge("VXNlcm5hbWU6", reader, out).await? {
                        Ok(r) => r,
                        Err(reply) => return Ok(reply),
                    },
                };
                let password = match self.challenge("UGFzc3dvcmQ6", reader, out).await? {
                    Ok(r) => r,
                    Err(reply) => return Ok(reply),
                };
                match (decode(&user), decode(&password)) {
                    (Some(u), Some(p)) => String::from_utf8(u.to_vec()).ok().map(|u| (u, p)),
                    _ => None,
                }
            }
            _ => {
                return Ok(Reply::new(
                    504,
                    "5.5.4",
                    "unrecognized authentication type: use PLAIN or LOGIN",
                ));
            }
        };
        let Some((username, password)) = credentials else {
            return Ok(Reply::new(501, "5.5.2", "cannot decode the AUTH response"));
        };
        let access = self.shared.access.clone();
        let checked = tokio::task::spawn_blocking(move || access.login(&username, &password))
            .await
            .ok()
            .flatten();
        Ok(match checked {
            Some(grant) => {
                self.shared.lockout.succeeded(ip);
                self.user = Some(grant);
                reply::AUTH_OK
            }
            None => {
                let locked = self.shared.lockout.failed(ip);
                self.shared.metrics.auth_failed(locked);
                reply::AUTH_FAILED
            }
        })
    }

    /// Sends a 334 challenge and reads the client's answer. `Err` holds the
    /// reply that ends the exchange (cancelled, too long, gone).
    async fn challenge<S>(
        &mut self,
        challenge: &str,
        reader: &mut BufReader<S>,
        out: &mut Output,
    ) -> std::io::Result<Result<Zeroizing<Vec<u8>>, Reply>>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        Reply::with(334, "", challenge.to_owned()).write_to(&mut out.0);
        flush(reader, out, self.shared.limits.command_timeout()).await?;
        let mut line = Zeroizing::new(Vec::new());
        let read = timeout(
            self.shared.limits.command_timeout(),
            read_line(reader, &mut line, MAX_AUTH_LINE),
        )
        .await;
        Ok(match read {
            Err(_) => Err(reply::TIMEOUT),
            Ok(Err(e)) => return Err(e),
            Ok(Ok(Line::Closed)) => Err(Reply::new(501, "5.5.2", "connection closed")),
            Ok(Ok(Line::TooLong)) => Err(reply::LINE_TOO_LONG),
            Ok(Ok(Line::Complete)) => {
                let text = trim_line_end(&line);
                if text == b"*" {
                    Err(Reply::new(501, "5.0.0", "authentication cancelled"))
                } else {
                    Ok(Zeroizing::new(text.to_vec()))
                }
            }
        })
    }

    fn mail(&mut self, from: smtp_proto::MailFrom<String>) -> Reply {
        if !self.greeted {
            return Reply::new(503, "5.5.1", "send EHLO first");
        }
        if self.transaction.is_some() {
            return Reply::new(503, "5.5.1", "nested MAIL command");
        }
        let grant = match self
            .user
            .clone()
            .or_else(|| self.shared.access.network(self.peer.ip()).cloned())
        {
            Some(g) => g,
            None if self.listener.mode == ListenerMode::Starttls && !self.tls => {
                return reply::STARTTLS_FIRST;
            }
            None => return reply::AUTH_REQUIRED,
        };
        if from.flags & smtp_proto::MAIL_BODY_BINARYMIME != 0 {
            return Reply::new(555, "5.5.4", "BODY=BINARYMIME is not supported");
        }
        let max = self.shared.limits.max_message_bytes;
        if from.size > max {
            return Reply::with(
                552,
                "5.3.4",
                format!("message size exceeds the maximum of {max} bytes"),
            );
        }
        let address = from.address.trim().to_owned();
        if address.is_empty() {
            return Reply::new(
                550,
                "5.7.1",
                "a null sender cannot be sent through Microsoft Graph: name the mailbox",
            );
        }
        if !grant.may_send_as.allows(&address) {
            return Reply::with(
                550,
                "5.7.1",
                format!(
                    "{} may not send as <{}>",
                    grant.principal,
                    printable(&address)
                ),
            );
        }
        self.transaction = Some(Transaction {
            grant,
            mail_from: address,
            recipients: Vec::new(),
        });
        Reply::new(250, "2.1.0", "sender OK")
    }

    fn rcpt(&mut self, address: &str) -> Reply {
        let max = self.shared.limits.max_recipients;
        let Some(t) = self.transaction.as_mut() else {
            return Reply::new(503, "5.5.1", "send MAIL first");
        };
        if t.recipients.len() >= max {
            return Reply::with(452, "4.5.3", format!("too many recipients (at most {max})"));
        }
        if let Err(e) = crate::submission::check_recipient(address) {
            return Reply::with(
                501,
                "5.1.3",
                format!("bad recipient address: {}", e.message()),
            );
        }
        t.recipients.push(address.to_owned());
        Reply::new(250, "2.1.5", "recipient OK")
    }

    async fn data<S>(
        &mut self,
        reader: &mut BufReader<S>,
        out: &mut Output,
    ) -> std::io::Result<Reply>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        match &self.transaction {
            None => return Ok(Reply::new(503, "5.5.1", "send MAIL first")),
            Some(t) if t.recipients.is_empty() => {
                return Ok(Reply::new(554, "5.5.1", "no valid recipients"));
            }
            Some(_) => {}
        }
        Reply::new(354, "", "end data with <CR><LF>.<CR><LF>").write_to(&mut out.0);
        flush(reader, out, self.shared.limits.command_timeout()).await?;
        let body = crate::data::read_data(reader, &self.shared.limits).await?;
        let Some(transaction) = self.transaction.take() else {
            return Ok(reply::BAD_SEQUENCE);
        };
        let submission = Submission {
            client: self.peer,
            grant: transaction.grant,
            mail_from: transaction.mail_from,
            recipients: transaction.recipients,
        };
        match body {
            crate::data::Data::Complete(bytes) => Ok(submission.accept(&self.shared, bytes).await),
            crate::data::Data::Refused(reply) => {
                submission.refused(&self.shared, &reply);
                Ok(reply)
            }
            crate::data::Data::Abort(reply) => {
                submission.refused(&self.shared, &reply);
                let wait = self.shared.limits.command_timeout();
                Err(crate::data::abort(reader, out, reply, wait).await)
            }
        }
    }
}

enum Step {
    Reply(Reply),
    Quit(Reply),
    StartTls,
}

/// `MAIL FROM: a@b` and `RCPT TO: a@b`, as some printers and old scripts
/// write them, read as `MAIL FROM:<a@b>`: RFC 5321 wants the brackets, but
/// Postfix and Exchange accept the bare address by default
/// (`strict_rfc821_envelopes = no`), and the devices cannot be changed.
fn bracketed(line: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let verb = [&b"MAIL FROM:"[..], b"RCPT TO:"]
        .into_iter()
        .find(|v| line.len() > v.len() && line[..v.len()].eq_ignore_ascii_case(v));
    let Some(verb) = verb else {
        return line.into();
    };
    let rest = &line[verb.len()..];
    let start = rest.iter().take_while(|b| **b == b' ').count();
    let address = &rest[start..];
    let end = address
        .iter()
        .position(|b| matches!(b, b' ' | b'\r' | b'\n'))
        .unwrap_or(address.len());
    if end == 0 || address[0] == b'<' {
        return line.into();
    }
    let mut fixed = Vec::with_capacity(line.len() + 2);
    fixed.extend_from_slice(&line[..verb.len()]);
    fixed.push(b'<');
    fixed.extend_from_slice(&address[..end]);
    fixed.push(b'>');
    fixed.extend_from_slice(&address[end..]);
    fixed.into()
}

/// Sends the replies waiting in `out`. A client that pipelines and never
/// reads would otherwise hold its session (and a connection slot) for
/// ever, so a write gets as long as a read of a command, then the session
/// ends.
pub(crate) async fn flush<S: AsyncRead + AsyncWrite + Unpin>(
    reader: &mut BufReader<S>,
    out: &mut Output,
    wait: Duration,
) -> std::io::Result<()> {
    if out.0.is_empty() {
        return Ok(());
    }
    let stream = reader.get_mut();
    let write = async {
        stream.write_all(&out.0).await?;
        stream.flush().await
    };
    timeout(wait, write).await.map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the client did not read its replies",
        )
    })??;
    out.0.clear();
    Ok(())
}

fn transpose(
    r: Result<std::io::Result<Line>, tokio::time::error::Elapsed>,
) -> std::io::Result<Result<Line, tokio::time::error::Elapsed>> {
    match r {
        Ok(Ok(line)) => Ok(Ok(line)),
        Ok(Err(e)) => Err(e),
        Err(elapsed) => Ok(Err(elapsed)),
    }
}

fn parse_error(e: ParseError) -> Reply {
    match e {
        ParseError::UnknownCommand => Reply::new(500, "5.5.1", "command unrecognized"),
        ParseError::InvalidSenderAddress => Reply::new(501, "5.1.7", "bad sender address syntax"),
        ParseError::InvalidRecipientAddress => {
            Reply::new(501, "5.1.3", "bad recipient address syntax")
        }
        ParseError::SyntaxError { syntax } => {
            Reply::with(501, "5.5.4", format!("syntax: {syntax}"))
        }
        ParseError::InvalidParameter { param } => {
            Reply::with(501, "5.5.4", format!("invalid parameter {param}"))
        }
        ParseError::UnsupportedParameter { param } => Reply::with(
            555,
            "5.5.4",
            format!("unsupported parameter {}", printable(&param)),
        ),
        ParseError::ResponseTooLong => reply::LINE_TOO_LONG,
        ParseError::NeedsMoreData { .. } | ParseError::InvalidResponse { .. } => {
            Reply::new(500, "5.5.2", "syntax error")
        }
    }
}

/// A bare CR inside a command could smuggle a header or a second command
/// past a filter that splits on CR; a NUL ends C strings early.
fn has_bare_cr_or_nul(line: &[u8]) -> bool {
    let body = trim_line_end(line);
    body.iter().any(|&b| b == b'\r' || b == 0)
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn decode(text: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    STANDARD.decode(text).ok().map(Zeroizing::new)
}

/// RFC 4616: `authzid NUL authcid NUL password`; an authzid, when given,
/// must name the same user (the relay does not log in as someone else).
fn plain_credentials(response: &[u8]) -> Option<(String, Zeroizing<Vec<u8>>)> {
    let decoded = decode(response)?;
    let mut parts = decoded.splitn(3, |&b| b == 0);
    let authz = parts.next()?;
    let user = parts.next()?;
    let password = parts.next()?;
    if !authz.is_empty() && authz != user {
        return None;
    }
    let user = String::from_utf8(user.to_vec()).ok()?;
    Some((user, Zeroizing::new(password.to_vec())))
}

pub(crate) fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(256).collect()
}
