//! SMTP replies: a code, an enhanced status code (RFC 3463) and a text.

use std::borrow::Cow;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub status: &'static str,
    pub text: Cow<'static, str>,
}

impl Reply {
    pub const fn new(code: u16, status: &'static str, text: &'static str) -> Reply {
        Reply {
            code,
            status,
            text: Cow::Borrowed(text),
        }
    }

    pub fn with(code: u16, status: &'static str, text: impl Into<String>) -> Reply {
        Reply {
            code,
            status,
            text: Cow::Owned(text.into()),
        }
    }

    /// The reply as sent: a line per `\n` in the text (`250-` before all
    /// but the last), control characters removed so no text taken from
    /// input can end a line early.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let lines: Vec<&str> = self.text.split('\n').collect();
        let last = lines.len() - 1;
        for (i, line) in lines.iter().enumerate() {
            let text: String = line.chars().filter(|c| !c.is_control()).collect();
            let sep = if i == last { ' ' } else { '-' };
            out.extend_from_slice(format!("{}{sep}", self.code).as_bytes());
            if !self.status.is_empty() {
                out.extend_from_slice(format!("{} ", self.status).as_bytes());
            }
            out.extend_from_slice(text.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }

    pub fn is_success(&self) -> bool {
        self.code < 400
    }
}

pub const OK: Reply = Reply::new(250, "2.0.0", "OK");
pub const BAD_SEQUENCE: Reply = Reply::new(503, "5.5.1", "bad sequence of commands");
pub const LINE_TOO_LONG: Reply = Reply::new(500, "5.5.2", "line too long");
pub const BARE_CR_OR_NUL: Reply = Reply::new(
    500,
    "5.5.2",
    "a command may not hold a bare CR or a NUL byte",
);
pub const TIMEOUT: Reply = Reply::new(421, "4.4.2", "timeout waiting for input; closing");
pub const SHUTTING_DOWN: Reply =
    Reply::new(421, "4.3.2", "the relay is shutting down; try again later");
pub const TOO_MANY_ERRORS: Reply = Reply::new(421, "4.7.0", "too many errors; closing");
pub const ENCRYPTION_REQUIRED: Reply = Reply::new(
    538,
    "5.7.11",
    "encryption required: send STARTTLS (or use the implicit-TLS port) before AUTH",
);
pub const STARTTLS_FIRST: Reply = Reply::new(530, "5.7.0", "must issue a STARTTLS command first");
pub const AUTH_REQUIRED: Reply = Reply::new(530, "5.7.0", "authentication required");
pub const AUTH_FAILED: Reply = Reply::new(535, "5.7.8", "authentication credentials invalid");
pub const AUTH_LOCKED: Reply = Reply::new(
    454,
    "4.7.0",
    "too many failed logins from this address; try again later",
);
pub const AUTH_OK: Reply = Reply::new(235, "2.7.0", "authentication succeeded");
