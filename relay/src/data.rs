//! The DATA phase: reads the message up to the lone dot, undoing dot
//! stuffing (RFC 5321 4.5.2), and refuses what would be unsafe to pass on
//! while still reading to the end, so the client hears a reply for the
//! message and the session stays in step.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, BufReader};
use tokio::time::timeout;

use crate::config::LimitsConfig;
use crate::lines::{Line, has_bare_lf, read_line};
use crate::reply::{self, Reply};

pub enum Data {
    /// The message, with CRLF line ends and the dots unstuffed.
    Complete(Vec<u8>),
    /// Read to the end but refused; the session goes on.
    Refused(Reply),
    /// The session cannot go on (timeout).
    Abort(Reply),
}

pub async fn read_data<S: AsyncRead + Unpin>(
    reader: &mut BufReader<S>,
    limits: &LimitsConfig,
) -> std::io::Result<Data> {
    let max = limits.max_message_bytes;
    let mut message = Vec::with_capacity(16 * 1024);
    let mut line = Vec::with_capacity(limits.max_line_bytes);
    let mut size = 0usize;
    let mut refusal: Option<Reply> = None;
    // The "." of CRLF "." CRLF must follow a CRLF; the 354 counts as one.
    let mut after_crlf = true;
    loop {
        let read = match timeout(
            limits.data_timeout(),
            read_line(reader, &mut line, limits.max_line_bytes),
        )
        .await
        {
            Err(_) => return Ok(Data::Abort(reply::TIMEOUT)),
            Ok(read) => read?,
        };
        match read {
            Line::Closed => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the client closed the connection during DATA",
                ));
            }
            Line::TooLong => {
                after_crlf = !has_bare_lf(&line);
                refusal.get_or_insert_with(|| {
                    Reply::with(
                        554,
                        "5.6.0",
                        format!(
                            "a line is longer than {} octets (RFC 5321 4.5.3.1.6); nothing was accepted",
                            limits.max_line_bytes
                        ),
                    )
                });
                continue;
            }
            Line::Complete => {}
        }
        // Only CRLF.CRLF ends the data: a client (or a smuggler) whose
        // "<LF>.<LF>" or "<LF>.<CR><LF>" ended it here but not at the next
        // hop, or the other way round, could slip a second message past
        // the checks. A line ended by a bare LF is content, taken as if it
        // ended in CRLF (as Postfix does by default), so scripts that write
        // "\n" still get their mail through.
        if after_crlf && line == b".\r\n" {
            break;
        }
        after_crlf = !has_bare_lf(&line);
        if !after_crlf {
            line.pop();
            line.extend_from_slice(b"\r\n");
        }
        let content = line.strip_prefix(b".").unwrap_or(&line);
        if content.contains(&0) {
            refusal.get_or_insert(Reply::new(
                554,
                "5.6.0",
                "the message holds NUL bytes; nothing was accepted",
            ));
        }
        size += content.len();
        if size > max {
            refusal.get_or_insert_with(|| {
                Reply::with(
                    552,
                    "5.3.4",
                    format!(
                        "message size exceeds the maximum of {max} bytes; nothing was accepted"
                    ),
                )
            });
        }
        if refusal.is_none() {
            message.extend_from_slice(content);
        }
    }
    Ok(match refusal {
        Some(reply) => Data::Refused(reply),
        None => Data::Complete(message),
    })
}

/// Sends the last reply of a session that cannot go on, and ends it.
pub async fn abort<S: AsyncRead + AsyncWrite + Unpin>(
    reader: &mut BufReader<S>,
    out: &mut super::session::Output,
    reply: Reply,
    wait: Duration,
) -> std::io::Error {
    reply.write_to(&mut out.0);
    let _ = super::session::flush(reader, out, wait).await;
    std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "session ended")
}
