//! Mail addresses: the recipient type and the checks an address must pass
//! before it is put in a request.

use crate::error::{Error, Result};

/// A recipient: an address and, optionally, the name shown for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    /// `someone@example.com`
    pub address: String,
    /// `Someone Example`, shown by mail clients.
    pub name: Option<String>,
}

impl Address {
    /// An address without a display name.
    pub fn new(address: impl Into<String>) -> Self {
        Address {
            address: address.into(),
            name: None,
        }
    }

    /// An address with a display name.
    pub fn with_name(name: impl Into<String>, address: impl Into<String>) -> Self {
        Address {
            address: address.into(),
            name: Some(name.into()),
        }
    }

    pub(crate) fn validate(&self, field: &str) -> Result<()> {
        check_address(&format!("{field}.address"), &self.address)?;
        if let Some(name) = &self.name {
            check_single_line(&format!("{field}.name"), name)?;
            if name.chars().count() > MAX_NAME_CHARS {
                return Err(Error::invalid(
                    &format!("{field}.name"),
                    format!("is longer than {MAX_NAME_CHARS} characters"),
                ));
            }
        }
        Ok(())
    }
}

/// Parses `someone@example.com` or `Someone <someone@example.com>`, the forms
/// people type on a command line. The result is not checked yet: sending
/// validates it.
impl std::str::FromStr for Address {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        match (s.rfind('<'), s.ends_with('>')) {
            (Some(open), true) => {
                let name = s[..open].trim().trim_matches('"').trim();
                let address = s[open + 1..s.len() - 1].trim();
                Ok(if name.is_empty() {
                    Address::new(address)
                } else {
                    Address::with_name(name, address)
                })
            }
            (None, false) => Ok(Address::new(s)),
            _ => Err(Error::invalid(
                "address",
                format!(
                    "'{}' is neither name@example.com nor Name <name@example.com>",
                    printable(s)
                ),
            )),
        }
    }
}

impl From<&str> for Address {
    fn from(address: &str) -> Self {
        Address::new(address)
    }
}

impl From<String> for Address {
    fn from(address: String) -> Self {
        Address::new(address)
    }
}

/// `(name, address)`, the order people write them in.
impl<N: Into<String>, A: Into<String>> From<(N, A)> for Address {
    fn from((name, address): (N, A)) -> Self {
        Address::with_name(name, address)
    }
}

const MAX_ADDRESS_CHARS: usize = 254;
const MAX_LOCAL_CHARS: usize = 64;
const MAX_NAME_CHARS: usize = 256;

/// Checks an SMTP address (`local@domain`), the form Exchange Online accepts.
/// Non-ASCII letters are allowed, because Exchange Online accepts
/// internationalised addresses.
pub(crate) fn check_address(field: &str, address: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::invalid(
            field,
            format!("'{}' is not a mail address: {why}", printable(address)),
        ))
    };
    if address.is_empty() {
        return Err(Error::invalid(
            field,
            "is empty: give a mail address such as name@example.com",
        ));
    }
    if address.chars().count() > MAX_ADDRESS_CHARS {
        return bad("longer than 254 characters");
    }
    let Some((local, domain)) = address.rsplit_once('@') else {
        return bad("it has no '@'");
    };
    if local.is_empty() || local.chars().count() > MAX_LOCAL_CHARS {
        return bad("the part before '@' must have 1 to 64 characters");
    }
    let local_char_ok = |c: char| {
        c.is_alphanumeric()
            || "!#$%&'*+-/=?^_`{|}~.".contains(c)
            || !c.is_ascii() && !c.is_control() && !c.is_whitespace()
    };
    if !local.chars().all(local_char_ok) {
        return bad(
            "the part before '@' holds a character that is not allowed (spaces, quotes, '<', '>', ',', ';', '@' and control characters are not)",
        );
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return bad("dots in the part before '@' cannot lead, trail or repeat");
    }
    check_domain(domain).or_else(|why| bad(&why))
}

fn check_domain(domain: &str) -> std::result::Result<(), String> {
    if domain.is_empty() {
        return Err("the domain after '@' is empty".into());
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err("the domain needs at least one dot (example.com)".into());
    }
    for label in labels {
        let ok_chars = label.chars().all(|c| c.is_alphanumeric() || c == '-');
        if label.is_empty() || label.chars().count() > 63 || !ok_chars {
            return Err(format!("'{label}' is not a valid domain label"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!(
                "domain label '{label}' cannot start or end with '-'"
            ));
        }
    }
    Ok(())
}

/// Refuses CR, LF and other control characters in anything that ends up in a
/// header, so no one can inject a header line.
pub(crate) fn check_single_line(field: &str, value: &str) -> Result<()> {
    if let Some(c) = value.chars().find(|c| c.is_control() && *c != '\t') {
        let what = match c {
            '\r' => "a carriage return (CR)".to_string(),
            '\n' => "a line feed (LF)".to_string(),
            other => format!("the control character U+{:04X}", other as u32),
        };
        return Err(Error::invalid(
            field,
            format!("contains {what}; it must be a single line"),
        ));
    }
    Ok(())
}

/// An object id GUID (`7f3c2a9e-4b1d-4e8a-9c6f-2d5e8b1a0c37`), which Graph
/// accepts in place of a user principal name.
pub(crate) fn is_guid(s: &str) -> bool {
    uuid::Uuid::try_parse(s).is_ok() && s.len() == 36
}

/// Shows a value in an error without its control characters, so a hostile
/// value cannot forge lines in a log.
pub(crate) fn printable(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(80)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if s.chars().count() > 80 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_and_international_addresses() {
        for a in [
            "erp@contoso.test",
            "first.last+tag@sub.example.co.uk",
            "o'brien@example.com",
            "jürgen@bücher.de",
        ] {
            check_address("to", a).unwrap_or_else(|e| panic!("{a}: {e}"));
        }
    }

    #[test]
    fn refuses_what_exchange_would_and_names_the_field() {
        for a in [
            "",
            "plainaddress",
            "@example.com",
            "a@",
            "a@localhost",
            "a b@example.com",
            "a..b@example.com",
            ".a@example.com",
            "a@-example.com",
            "a@exa_mple.com",
            "\"Name\" <a@example.com>",
            "a@example.com\r\nBcc: x@evil.test",
        ] {
            let e = check_address("to[0].address", a).unwrap_err();
            assert_eq!(e.field(), Some("to[0].address"), "{a}");
            assert!(e.message().starts_with("to[0].address"), "{a}");
        }
    }

    #[test]
    fn parses_the_forms_people_type() {
        assert_eq!(
            "a@example.com".parse::<Address>().unwrap(),
            Address::new("a@example.com")
        );
        assert_eq!(
            "\"Alice A.\" <a@example.com>".parse::<Address>().unwrap(),
            Address::with_name("Alice A.", "a@example.com")
        );
        assert_eq!(
            "<a@example.com>".parse::<Address>().unwrap(),
            Address::new("a@example.com")
        );
        assert!("Alice <a@example.com".parse::<Address>().is_err());
    }

    #[test]
    fn single_line_refuses_cr_and_lf() {
        let e = check_single_line("subject", "Invoice\r\nBcc: all@x.test").unwrap_err();
        assert!(e.message().contains("carriage return"));
        check_single_line("subject", "Invoice\t42").unwrap();
    }

    #[test]
    fn printable_strips_control_characters() {
        assert_eq!(printable("a\r\nb"), "a??b");
    }
}
