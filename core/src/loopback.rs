//! The one exception to "HTTPS only": plain HTTP to a loopback address, which
//! the local emulator uses. Every URL graphmailer will send a credential to
//! (the identity platform, Graph, an upload session) is checked here, so the
//! rule has one home.

use url::{Host, Url};

/// True for `localhost` and loopback IP addresses.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// True when a credential may travel to `url`: HTTPS, or plain HTTP that
/// never leaves this machine.
pub(crate) fn transport_allowed(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => is_loopback(url),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_and_http_only_on_loopback() {
        let allowed = |u: &str| transport_allowed(&Url::parse(u).unwrap());
        assert!(allowed("https://graph.microsoft.com"));
        assert!(allowed("http://127.0.0.1:8080"));
        assert!(allowed("http://[::1]:8080"));
        assert!(allowed("http://LOCALHOST:1"));
        assert!(!allowed("http://graph.example.com"));
        assert!(!allowed("http://10.0.0.1"));
        assert!(!allowed("ftp://127.0.0.1"));
    }
}
