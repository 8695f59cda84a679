//! One record to the local syslog daemon, as mail logs expect of a sendmail:
//! RFC 3164 over the Unix datagram socket (`/dev/log`), facility mail.
//! Nothing is written when there is no such socket, and a failure to reach
//! it is ignored: the exit status and stderr already tell the caller.

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::Duration;

/// The socket, unless `GRAPHMAILER_SYSLOG_SOCKET` names another (for tests
/// and systems whose daemon listens elsewhere).
const DEFAULT_SOCKET: &str = "/dev/log";

/// The program name in each record.
pub const TAG: &str = "graphmailer-sendmail";

/// Facility `mail` (2), as sendmail, Postfix and Exim log.
const FACILITY_MAIL: u8 = 2;

#[derive(Clone, Copy, Debug)]
pub enum Severity {
    Err = 3,
    Info = 6,
}

/// `<PRI>graphmailer-sendmail[pid]: message`, with control characters in
/// the message turned into spaces so a record stays one line.
pub fn record(severity: Severity, message: &str) -> String {
    format!(
        "<{}>{TAG}[{}]: {}",
        FACILITY_MAIL * 8 + severity as u8,
        std::process::id(),
        one_line(message)
    )
}

/// Sends one record; does nothing if there is no syslog socket.
pub fn log(severity: Severity, message: &str) {
    let path = std::env::var_os("GRAPHMAILER_SYSLOG_SOCKET")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET));
    let Ok(socket) = UnixDatagram::unbound() else {
        return;
    };
    // A daemon that stops reading must not hang the program that mails.
    let _ = socket.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = socket.send_to(record(severity, message).as_bytes(), path);
}

/// The text with every control character (line breaks, tabs, escapes) made
/// a space, for stderr lines and syslog records that must stay one line.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_rfc3164_mail_facility_and_one_line() {
        let r = record(Severity::Err, "bad\r\nthing\x1b[31m");
        let pid = std::process::id();
        assert_eq!(
            r,
            format!("<19>graphmailer-sendmail[{pid}]: bad  thing [31m")
        );
        assert!(record(Severity::Info, "x").starts_with("<22>"));
    }
}
