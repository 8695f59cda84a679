//! The checks each setting's value goes through, with errors that name the
//! setting and say what a valid value looks like.

use std::time::Duration;

use url::Url;

use crate::address::{is_guid, printable};
use crate::error::{Error, Result};
use crate::loopback;

pub(super) fn required(v: Option<String>, name: &str, what: &str) -> Result<String> {
    match v.map(|s| s.trim().to_owned()) {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(Error::config(name, format!("is not set: give {what}"))),
    }
}

pub(super) fn check_tenant(tenant: &str) -> Result<()> {
    let lower = tenant.to_ascii_lowercase();
    if matches!(lower.as_str(), "common" | "organizations" | "consumers") {
        return Err(Error::config(
            "AZURE_TENANT_ID",
            format!(
                "'{tenant}' cannot be used for app-only tokens: give the tenant's GUID or domain"
            ),
        ));
    }
    let domain_like = tenant.contains('.')
        && tenant
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if is_guid(tenant) || domain_like {
        Ok(())
    } else {
        Err(Error::config(
            "AZURE_TENANT_ID",
            format!(
                "'{}' is neither a tenant GUID nor a domain such as contoso.onmicrosoft.com",
                printable(tenant)
            ),
        ))
    }
}

/// An HTTPS origin, or plain HTTP to a loopback address (the emulator): never
/// a secret or a token in clear text over a network.
pub(super) fn endpoint(name: &str, value: &str) -> Result<Url> {
    let url = Url::parse(value.trim())
        .map_err(|e| Error::config(name, format!("'{}' is not a URL: {e}", printable(value))))?;
    let host = url
        .host_str()
        .unwrap_or("")
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    if host.is_empty() {
        return Err(Error::config(
            name,
            format!("'{}' has no host", printable(value)),
        ));
    }
    match url.scheme() {
        "https" => {}
        "http" => {
            if !loopback::transport_allowed(&url) {
                return Err(Error::config(
                    name,
                    format!(
                        "'{}' uses plain http: only https is allowed, except to a loopback address such as the local emulator",
                        printable(value)
                    ),
                ));
            }
        }
        other => {
            return Err(Error::config(
                name,
                format!("scheme '{other}' is not https"),
            ));
        }
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(Error::config(
            name,
            "must be an origin such as https://graph.microsoft.com, without query or credentials",
        ));
    }
    // People paste Graph's versioned base URL; the version is ours to add.
    let path = url.path().trim_end_matches('/');
    let path = path.strip_suffix("/v1.0").unwrap_or(path);
    let mut origin = url.clone();
    origin.set_path(if path.is_empty() { "/" } else { path });
    Ok(origin)
}

/// A managed identity endpoint: a full URL (App Service's has a path),
/// over HTTPS, plain HTTP on loopback, or the metadata service's address.
pub(super) fn identity_url(name: &str, value: &str) -> Result<Url> {
    let url = Url::parse(value.trim())
        .map_err(|e| Error::config(name, format!("'{}' is not a URL: {e}", printable(value))))?;
    if !loopback::identity_transport_allowed(&url) {
        return Err(Error::config(
            name,
            format!(
                "'{}' is not allowed: a managed identity endpoint must be https, plain http on a loopback address, or http://169.254.169.254",
                printable(value)
            ),
        ));
    }
    Ok(url)
}

pub(super) fn seconds(name: &str, v: &str) -> Result<Duration> {
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0 && *s < 86_400.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| {
            Error::config(
                name,
                format!("'{}' is not a number of seconds", printable(v)),
            )
        })
}

pub(super) fn flag(name: &str, v: &str) -> Result<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(Error::config(
            name,
            format!("'{}' is not true or false", printable(v)),
        )),
    }
}

pub(super) fn whole(name: &str, v: &str) -> Result<u32> {
    v.parse::<u32>()
        .map_err(|_| Error::config(name, format!("'{}' is not a whole number", printable(v))))
}

pub(super) fn positive(name: &str, d: Duration) -> Result<Duration> {
    if d.is_zero() {
        return Err(Error::config(name, "must be more than zero"));
    }
    Ok(d)
}

/// The outbox is a database URL; the outbox itself opens it.
pub(super) fn check_outbox(url: &str) -> Result<()> {
    let known = ["sqlite:", "postgres://", "postgresql://"];
    if known.iter().any(|p| url.starts_with(p)) {
        return Ok(());
    }
    // Only the scheme is shown: the rest may hold a database password.
    let scheme = url.split_once(':').map_or("(none)", |(scheme, _)| scheme);
    Err(Error::config(
        "GRAPHMAILER_OUTBOX",
        format!(
            "an outbox URL starts with sqlite: (sqlite:/var/spool/graphmailer/outbox.db) or postgres:// (postgres://user@host/db); this one's scheme is '{}'",
            printable(scheme)
        ),
    ))
}
