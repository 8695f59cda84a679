//! The exceptions to "HTTPS only": plain HTTP to a loopback address, which
//! the local emulator uses, and, for a managed identity's token endpoint
//! only, the link-local Instance Metadata Service, which Azure serves over
//! plain HTTP inside the host. Every URL graphmailer will send a credential
//! to (the identity platform, Graph, an upload session, a managed identity
//! endpoint) is checked here, so the rule has one home.

use std::net::Ipv4Addr;

use url::{Host, Url};

/// The Azure Instance Metadata Service's fixed address: link-local, answered
/// by the host the VM runs on, so the request never crosses a network.
pub(crate) const IMDS_ADDRESS: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);

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

/// True when a managed identity's token may be asked for at `url`: what
/// [`transport_allowed`] allows, and plain HTTP to the metadata service's
/// address, which is how Azure serves it (and nothing else link-local).
pub(crate) fn identity_transport_allowed(url: &Url) -> bool {
    transport_allowed(url)
        || (url.scheme() == "http" && url.host() == Some(Host::Ipv4(IMDS_ADDRESS)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_endpoints_may_also_be_the_metadata_service() {
        let allowed = |u: &str| identity_transport_allowed(&Url::parse(u).unwrap());
        assert!(allowed(
            "http://169.254.169.254/metadata/identity/oauth2/token"
        ));
        assert!(allowed("http://127.0.0.1:41741/MSI/token/"));
        assert!(allowed("https://identity.example.com"));
        assert!(!allowed("http://169.254.169.253"));
        assert!(!allowed("http://10.0.0.1"));
        // Only the identity endpoints: Graph or the token endpoint never.
        assert!(!transport_allowed(
            &Url::parse("http://169.254.169.254").unwrap()
        ));
    }

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
