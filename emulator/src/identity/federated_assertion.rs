//! Federated credentials (workload identity federation): a client assertion
//! that is not the app's own signed statement but a token from another
//! issuer, which the app trusts through a federated identity credential.
//!
//! Checks, in the order Entra's answers suggest: the app has federated
//! credentials at all (AADSTS70021); one of them names the token's issuer
//! (700211); the signature, against that issuer's keys (700027: the
//! emulator's own issuer from memory, others only from the credential's
//! inline `jwks`, since the emulator fetches nothing); `exp` and `nbf`
//! (700024, on the emulator's clock and without leeway, so a token is
//! refused the moment it expires); then the subject (700213, or 7002138
//! when it differs only in case) and the audience (700212). Issuer, subject
//! and audience compare case-sensitively, as Entra's do since 2025.

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::AadError;
use super::client_assertion::{check_times, invalid_client, malformed};
use super::compact_jwt::CompactJwt;
use crate::directory::{App, FederatedCredential};
use crate::state::Shared;

const DOCS: &str = "https://learn.microsoft.com/entra/workload-id/workload-identity-federation";
const CHECK: &str = "Check your federated identity credential Subject, Audience and Issuer against the presented assertion.";
const CASE: &str = "Please note that the matching is done using a case-sensitive comparison.";

/// Whether an assertion is a federated token rather than the app's own
/// certificate assertion: it has an `iss` that is not a GUID (an app's own
/// assertion names its client id; an issuer is a URL). An assertion whose
/// `iss` is another app's id, or that has none, stays a certificate
/// assertion and gets AADSTS700021 as before; so does a token that does not
/// parse, and the certificate checks name what is wrong.
pub(super) fn is_federated(assertion: &str) -> bool {
    CompactJwt::parse(assertion).is_ok_and(|jwt| {
        jwt.claim("iss")
            .is_some_and(|iss| uuid::Uuid::parse_str(iss).is_err())
    })
}

/// The specific mismatches are `invalid_client` (401) in Entra's recorded
/// answers; the older catch-all 70021 is `invalid_request` (400).
fn no_match(code: u32, description: String) -> AadError {
    let error = if code == 70021 {
        "invalid_request"
    } else {
        "invalid_client"
    };
    AadError::new(error, code, description)
}

/// Validates a federated assertion for `app`.
pub(super) fn check(shared: &Shared, app: &App, assertion: &str) -> Result<(), AadError> {
    let jwt = CompactJwt::parse(assertion).map_err(malformed)?;
    let issuer = jwt.claim("iss").unwrap_or_default();
    let subject = jwt.claim("sub").unwrap_or_default();
    let audiences = jwt.audiences();

    if app.federated_credentials.is_empty() {
        return Err(no_match(
            70021,
            format!(
                "No matching federated identity record found for presented assertion. Assertion Issuer: '{issuer}'. Assertion Subject: '{subject}'. Assertion Audience: '{}'. {DOCS}",
                audiences.join(",")
            ),
        ));
    }
    let by_issuer: Vec<&FederatedCredential> = app
        .federated_credentials
        .iter()
        .filter(|c| c.issuer == issuer)
        .collect();
    if by_issuer.is_empty() {
        return Err(no_match(
            700211,
            format!(
                "No matching federated identity record found for presented assertion issuer '{issuer}'. {CHECK} {DOCS}"
            ),
        ));
    }

    let jwks = if issuer == shared.oidc.url {
        shared.oidc.jwks()
    } else {
        by_issuer
            .iter()
            .find_map(|c| c.jwks.clone())
            .ok_or_else(|| {
                signature_error(
                    app,
                    &format!(
                        "The signing keys of issuer '{issuer}' could not be found; give the federated credential an inline jwks"
                    ),
                )
            })?
    };
    verify_signature(&jwt, &jwks).map_err(|reason| signature_error(app, reason))?;
    check_times(&jwt.claims, shared.clock.now_utc(), 0, 0)?;

    let by_subject: Vec<&FederatedCredential> = by_issuer
        .into_iter()
        .filter(|c| c.subject == subject)
        .collect();
    if by_subject.is_empty() {
        // Since 2025 Entra compares case-sensitively and names a subject
        // that differs only in case with its own code.
        let case_only = app
            .federated_credentials
            .iter()
            .any(|c| c.issuer == issuer && c.subject.eq_ignore_ascii_case(subject));
        return Err(if case_only {
            no_match(
                7002138,
                format!(
                    "No matching federated identity record found for presented assertion subject '{subject}'. {CASE} {CHECK} {DOCS}"
                ),
            )
        } else {
            no_match(
                700213,
                format!(
                    "No matching federated identity record found for presented assertion subject '{subject}'. {CHECK} {DOCS}"
                ),
            )
        });
    }
    let audience_ok = by_subject.iter().any(|c| {
        audiences
            .iter()
            .any(|aud| c.audiences.iter().any(|a| a == aud))
    });
    if !audience_ok {
        return Err(no_match(
            700212,
            format!(
                "No matching federated identity record found for presented assertion audience '{}'. {CHECK} {DOCS}",
                audiences.join(",")
            ),
        ));
    }
    Ok(())
}

fn signature_error(app: &App, reason: &str) -> AadError {
    invalid_client(
        700027,
        format!(
            "Client assertion failed signature validation. [Reason - {reason}.] App Id: {}.",
            app.client_id
        ),
    )
}

/// RS256 against the JWKS key named by `kid` (or its only key when the
/// token names none).
fn verify_signature(jwt: &CompactJwt<'_>, jwks: &Value) -> Result<(), &'static str> {
    if jwt.alg() != "RS256" {
        return Err("The signing algorithm is not supported; use RS256");
    }
    let keys: Vec<&Value> = jwks
        .get("keys")
        .and_then(Value::as_array)
        .map(|k| k.iter().collect())
        .unwrap_or_default();
    let kid = jwt.header.get("kid").and_then(Value::as_str);
    let key = match kid {
        Some(kid) => keys
            .iter()
            .find(|k| k.get("kid").and_then(Value::as_str) == Some(kid)),
        None if keys.len() == 1 => keys.first(),
        None => None,
    }
    .ok_or("The key was not found")?;
    let component = |name: &str| {
        key.get(name)
            .and_then(Value::as_str)
            .and_then(|v| URL_SAFE_NO_PAD.decode(v.trim_end_matches('=')).ok())
    };
    let (Some(n), Some(e)) = (component("n"), component("e")) else {
        return Err("The key is not an RSA key");
    };
    RsaPublicKeyComponents { n, e }
        .verify(
            &RSA_PKCS1_2048_8192_SHA256,
            jwt.signed.as_bytes(),
            &jwt.signature,
        )
        .map_err(|_| "The provided signature value did not match the expected signature value")
}
