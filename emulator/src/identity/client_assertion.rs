//! Certificate credentials: the client assertion (RFC 7523 `private_key_jwt`)
//! that stands in for a secret (docs/graph-mail-protocol.md §2).
//!
//! Checks, in order: a JWT with a supported `alg` (RS256, PS256); a
//! registered certificate named by `x5t#S256` or `x5t`, valid today; the
//! signature; `iss` = `sub` = the client id; `aud` = this tenant's token
//! endpoint (v2 or v1) or its v2.0 issuer; `exp`, `nbf` and `iat` with five
//! minutes of clock skew, and the lifetime cap; then a `jti` not used before.
//!
//! AADSTS codes: 700027 for anything about the key or signature (what Entra
//! answers), 700024 for the time window, 700023 for the audience, 700021 for
//! an `iss` that is not the client id, 50048 for `sub` differing from `iss`,
//! 50027 (InvalidJwtToken) for a malformed JWT, a missing `jti` and a
//! replayed one. Entra's code for a replay is not documented; 50027 is the
//! emulator's choice.

use aws_lc_rs::signature::{
    ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256, VerificationAlgorithm,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::AadError;
use super::compact_jwt::CompactJwt;
use crate::certificates::Certificate;
use crate::defaults::ASSERTION_CLOCK_SKEW_SECS;
use crate::directory::{App, Tenant};
use crate::state::{Shared, lock};

/// The only `client_assertion_type` Entra accepts.
pub(super) const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

const DOCS: &str = "Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .";

pub(super) fn invalid_client(code: u32, description: impl Into<String>) -> AadError {
    AadError::new("invalid_client", code, description)
}

pub(super) fn malformed(reason: &str) -> AadError {
    invalid_client(
        50027,
        format!("JWT token is invalid or malformed. {reason}"),
    )
}

/// Validates the assertion for `app`, presented at `{origin}/{segment}/...`.
pub(super) fn check(
    shared: &Shared,
    tenant: &Tenant,
    segment: &str,
    app: &App,
    assertion: &str,
) -> Result<(), AadError> {
    let jwt = CompactJwt::parse(assertion).map_err(malformed)?;
    let (header, claims) = (&jwt.header, &jwt.claims);

    let algorithm: &'static dyn VerificationAlgorithm = match jwt.alg() {
        "RS256" => &RSA_PKCS1_2048_8192_SHA256,
        "PS256" => &RSA_PSS_2048_8192_SHA256,
        other => {
            return Err(invalid_client(
                700027,
                format!(
                    "Client assertion failed signature validation. [Reason - The signing algorithm '{other}' is not supported; use RS256 or PS256.] App Id: {}.",
                    app.client_id
                ),
            ));
        }
    };

    let certificate = find_certificate(shared, app, header)?;
    let thumbprint = certificate.thumbprint_hex();
    let found_key = format!(
        "Found key 'Start={}, End={}'",
        rfc3339(certificate.not_before),
        rfc3339(certificate.not_after)
    );
    let now = shared.clock.now_utc();
    if now < certificate.not_before || now > certificate.not_after {
        return Err(invalid_client(
            700027,
            format!(
                "Client assertion contains an invalid signature. [Reason - The key used is expired., Thumbprint of key used by client: '{thumbprint}', {found_key}]"
            ),
        ));
    }
    let verified = ParsedPublicKey::new(algorithm, certificate.public_key_der())
        .ok()
        .is_some_and(|key| {
            key.verify_sig(jwt.signed.as_bytes(), &jwt.signature)
                .is_ok()
        });
    if !verified {
        return Err(invalid_client(
            700027,
            format!(
                "Client assertion contains an invalid signature. [Reason - The provided signature value did not match the expected signature value., Thumbprint of key used by client: '{thumbprint}', {found_key}]"
            ),
        ));
    }

    check_identity(app, claims)?;
    check_audience(shared, tenant, segment, claims)?;
    let settings = shared.settings();
    let exp = check_times(
        claims,
        now,
        settings.max_assertion_lifetime_secs,
        ASSERTION_CLOCK_SKEW_SECS,
    )?;

    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .filter(|j| !j.trim().is_empty())
        .ok_or_else(|| malformed("The client assertion has no 'jti' claim."))?;
    if settings.reject_assertion_replay
        && !lock(&shared.assertions).first_use(
            &app.client_id.to_string(),
            jti,
            exp.saturating_add(ASSERTION_CLOCK_SKEW_SECS),
            now.unix_timestamp(),
        )
    {
        return Err(malformed(&format!(
            "The client assertion with jti '{jti}' has already been used; sign a new assertion (fresh jti) for every token request."
        )));
    }
    Ok(())
}

/// The registered certificate named by `x5t#S256` or `x5t` (either may match).
fn find_certificate(shared: &Shared, app: &App, header: &Value) -> Result<Certificate, AadError> {
    let named = |name: &str| {
        header
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let (s256, sha1) = (named("x5t#S256"), named("x5t"));
    if s256.is_none() && sha1.is_none() {
        return Err(invalid_client(
            700027,
            format!(
                "Client assertion failed signature validation. [Reason - The key was not found., The assertion's header has neither 'x5t' nor 'x5t#S256'.] App Id: {}.",
                app.client_id
            ),
        ));
    }
    shared
        .app_certificates(app)
        .into_iter()
        .find(|c| {
            s256.is_some_and(|t| c.matches(t, true)) || sha1.is_some_and(|t| c.matches(t, false))
        })
        .ok_or_else(|| {
            let thumbprint = sha1.or(s256).unwrap_or_default();
            // A digest shows as hex, as the portal lists keys; anything else as sent.
            let hex: String = URL_SAFE_NO_PAD
                .decode(thumbprint.trim_end_matches('='))
                .ok()
                .filter(|bytes| bytes.len() == 20 || bytes.len() == 32)
                .map(|bytes| bytes.iter().map(|b| format!("{b:02X}")).collect())
                .unwrap_or_else(|| thumbprint.to_owned());
            invalid_client(
                700027,
                format!(
                    "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{hex}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{}'. Review the documentation at https://docs.microsoft.com/en-us/graph/deployments if you are not using the global cloud.]",
                    app.client_id
                ),
            )
        })
}

/// `iss` must be the client id (700021), `sub` the same as `iss` (50048).
fn check_identity(app: &App, claims: &Value) -> Result<(), AadError> {
    let claim = |name: &str| claims.get(name).and_then(Value::as_str).map(str::trim);
    let is_client = |value: Option<&str>| {
        value
            .and_then(|v| uuid::Uuid::parse_str(v).ok())
            .is_some_and(|id| id == app.client_id)
    };
    if !is_client(claim("iss")) {
        return Err(invalid_client(
            700021,
            format!(
                "Client assertion application identifier doesn't match 'client_id' parameter. {DOCS}"
            ),
        ));
    }
    if claim("sub") != claim("iss") {
        return Err(invalid_client(
            50048,
            format!("Subject mismatches Issuer claim in the client assertion. {DOCS}"),
        ));
    }
    Ok(())
}

/// The audiences Entra takes for this tenant: the v2 and v1 token endpoints
/// and the v2.0 issuer, with the tenant named as in the request, by id or
/// by any of its domains.
fn check_audience(
    shared: &Shared,
    tenant: &Tenant,
    segment: &str,
    claims: &Value,
) -> Result<(), AadError> {
    let mut names = vec![segment.to_ascii_lowercase(), tenant.id.to_string()];
    names.extend(tenant.domains.iter().cloned());
    let origin = shared.origin.to_ascii_lowercase();
    let accepted = |aud: &str| {
        let aud = aud.trim().trim_end_matches('/').to_ascii_lowercase();
        let Some(rest) = aud.strip_prefix(&origin) else {
            return false;
        };
        names.iter().any(|name| {
            rest.strip_prefix('/')
                .and_then(|r| r.strip_prefix(name.as_str()))
                .is_some_and(|path| {
                    matches!(path, "/oauth2/v2.0/token" | "/oauth2/token" | "/v2.0")
                })
        })
    };
    let ok = match claims.get("aud") {
        Some(Value::String(aud)) => accepted(aud),
        Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).any(accepted),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(invalid_client(
            700023,
            format!("Client assertion audience claim does not match Realm issuer. {DOCS}"),
        ))
    }
}

/// `exp` in the future, `nbf` and `iat` not in the future (with `skew`
/// seconds of leeway), and the lifetime within the cap (0: none). Returns `exp`.
pub(super) fn check_times(
    claims: &Value,
    now: OffsetDateTime,
    max_lifetime: u64,
    skew: i64,
) -> Result<i64, AadError> {
    let seconds = |name: &str| {
        claims
            .get(name)
            .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
    };
    let (exp, nbf, iat) = (seconds("exp"), seconds("nbf"), seconds("iat"));
    let now_secs = now.unix_timestamp();
    let out_of_range = |extra: &str| {
        let instant = |secs: Option<i64>| {
            rfc3339(
                OffsetDateTime::from_unix_timestamp(secs.unwrap_or(0))
                    .unwrap_or(OffsetDateTime::UNIX_EPOCH),
            )
        };
        invalid_client(
            700024,
            format!(
                "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}.{extra} {DOCS}",
                rfc3339(now),
                instant(nbf),
                instant(exp)
            ),
        )
    };
    let exp = match exp {
        Some(exp) if exp + skew >= now_secs => exp,
        _ => return Err(out_of_range("")),
    };
    if nbf.is_some_and(|n| n - skew > now_secs) || iat.is_some_and(|i| i - skew > now_secs) {
        return Err(out_of_range(""));
    }
    if let Some(start) = nbf.or(iat)
        && max_lifetime > 0
        && exp.saturating_sub(start) > i64::try_from(max_lifetime).unwrap_or(i64::MAX)
    {
        return Err(out_of_range(&format!(
            " The assertion is valid for {} seconds; at most {max_lifetime} are accepted.",
            exp.saturating_sub(start)
        )));
    }
    Ok(exp)
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn time_window() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let t = now.unix_timestamp();
        let ok = json!({"nbf": t, "iat": t, "exp": t + 600});
        assert_eq!(
            check_times(&ok, now, 600, ASSERTION_CLOCK_SKEW_SECS).unwrap(),
            t + 600
        );
        let expired = json!({"nbf": t - 4000, "exp": t - 3600});
        assert_eq!(
            check_times(&expired, now, 0, ASSERTION_CLOCK_SKEW_SECS)
                .unwrap_err()
                .code,
            700024
        );
        let future = json!({"nbf": t + 3600, "exp": t + 4000});
        assert_eq!(
            check_times(&future, now, 600, ASSERTION_CLOCK_SKEW_SECS)
                .unwrap_err()
                .code,
            700024
        );
        let long = json!({"nbf": t, "exp": t + 3600});
        assert_eq!(
            check_times(&long, now, 600, ASSERTION_CLOCK_SKEW_SECS)
                .unwrap_err()
                .code,
            700024
        );
        assert!(check_times(&long, now, 0, ASSERTION_CLOCK_SKEW_SECS).is_ok());
        let skewed = json!({"nbf": t + 60, "exp": t + 600});
        assert!(check_times(&skewed, now, 600, ASSERTION_CLOCK_SKEW_SECS).is_ok());
        assert_eq!(
            check_times(&json!({}), now, 600, ASSERTION_CLOCK_SKEW_SECS)
                .unwrap_err()
                .code,
            700024
        );
    }
}
