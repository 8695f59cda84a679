//! Access tokens: RS256-signed JWTs shaped like Entra's v1.0 app-only Graph
//! tokens (docs/graph-mail-protocol.md §3), and their verification at the Graph endpoints.
//!
//! The signing key is RSA-2048, generated at start, published at the JWKS
//! endpoints with a self-signed certificate (`x5c`) whose SHA-1 thumbprint is
//! both `kid` and `x5t`, as Entra does.

use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, PublicKeyComponents};
use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::Error;
use crate::state::lock;

/// Where Entra's v1 issuer names a tenant: app tokens carry
/// `https://sts.windows.net/{tenant}/` as `iss`.
pub(crate) const STS_ISSUER_PREFIX: &str = "https://sts.windows.net/";

/// The v1 issuer of `tenant` (an id, or discovery's `{tenantid}` placeholder).
pub(crate) fn sts_issuer(tenant: impl std::fmt::Display) -> String {
    format!("{STS_ISSUER_PREFIX}{tenant}/")
}

/// The claims of an app-only access token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// The resource: `https://graph.microsoft.com`, a national cloud's Graph,
    /// or Graph's app id when the scope named it that way.
    pub aud: String,
    /// `https://sts.windows.net/{tid}/`.
    pub iss: String,
    /// Issued at (Unix seconds; backdated 5 minutes as Entra does).
    pub iat: i64,
    /// Not before (= `iat`).
    pub nbf: i64,
    /// Expiry (Unix seconds): now + the token lifetime.
    pub exp: i64,
    /// The app's display name.
    pub app_displayname: String,
    /// The client id.
    pub appid: String,
    /// `"1"`: the client authenticated with a secret; `"2"`: with a certificate.
    pub appidacr: String,
    /// Identity provider (the issuer, for app tokens).
    pub idp: String,
    /// `"app"`.
    pub idtyp: String,
    /// Object id of the app's service principal.
    pub oid: String,
    /// Consented application permissions; absent when there are none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// Same as `oid`.
    pub sub: String,
    /// Tenant id.
    pub tid: String,
    /// Unique token id (revocation uses it).
    pub uti: String,
    /// `"1.0"`.
    pub ver: String,
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenProblem {
    /// Not three base64url parts with JSON inside.
    Malformed,
    /// Signed by another key or not at all.
    BadSignature,
    Expired,
    NotYetValid,
}

/// The token signing key and its published forms.
pub(crate) struct TokenSigner {
    key: RsaKeyPair,
    public: ParsedPublicKey,
    kid: String,
    n: String,
    e: String,
    x5c: String,
    verified: VerifiedTokens,
}

/// How many distinct tokens [`VerifiedTokens`] remembers. A client holds
/// one token per app and scope for an hour, so a test run needs a handful;
/// past this the expired ones go, then all (they are checked again).
const VERIFIED_TOKENS_KEPT: usize = 1024;

/// Tokens whose signature this signer already checked, with their claims.
/// An RSA signature check per request was the emulator's largest cost under
/// load, and a client sends the same token for an hour. Only the signature
/// check and the claims' parsing are remembered: the lifetime is checked on
/// every request against the emulator's clock, and audience, issuer and
/// revocation by the caller as before, so a cached token is refused exactly
/// when a fresh one would be.
///
/// They are found by their signature (the compact token's last part, a
/// quarter of its length: hashing the whole token was the next largest
/// cost), and the whole token is compared before its claims are taken, so
/// a token that differs from a remembered one in any byte takes the full
/// check.
struct VerifiedTokens {
    by_signature: Mutex<HashMap<Box<str>, Verified>>,
}

struct Verified {
    token: Box<str>,
    claims: Arc<AccessTokenClaims>,
}

impl VerifiedTokens {
    fn new() -> Self {
        VerifiedTokens {
            by_signature: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, token: &str) -> Option<Arc<AccessTokenClaims>> {
        let map = lock(&self.by_signature);
        let verified = map.get(signature_part(token))?;
        (*verified.token == *token).then(|| verified.claims.clone())
    }

    fn insert(&self, token: &str, claims: Arc<AccessTokenClaims>, now: i64) {
        let mut map = lock(&self.by_signature);
        if map.len() >= VERIFIED_TOKENS_KEPT {
            map.retain(|_, verified| verified.claims.exp > now);
            if map.len() >= VERIFIED_TOKENS_KEPT {
                map.clear();
            }
        }
        let verified = Verified {
            token: token.into(),
            claims,
        };
        map.insert(signature_part(token).into(), verified);
    }
}

/// What a signing key is for: the access tokens the emulator issues as
/// Entra, or the tokens its own OIDC issuer mints as a workload's platform
/// would. They never share a key, so neither kind passes for the other.
#[derive(Clone, Copy)]
pub(crate) enum KeyPurpose {
    AccessTokens,
    OidcIssuer,
}

/// One RSA key per process and purpose: making a 2048-bit key is the
/// slowest part of starting an emulator, and test suites start dozens.
/// Emulators in one process therefore sign with the same key (each still
/// has its own certificate around it); a real tenant never shares one.
fn shared_rsa_key(purpose: KeyPurpose) -> Result<&'static [u8], Error> {
    static ACCESS: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    static OIDC: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let slot = match purpose {
        KeyPurpose::AccessTokens => &ACCESS,
        KeyPurpose::OidcIssuer => &OIDC,
    };
    if let Some(key) = slot.get() {
        return Ok(key);
    }
    let fresh = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        .map_err(|e| Error::Crypto(format!("token signing key: {e}")))?;
    Ok(slot.get_or_init(|| fresh.serialize_der()))
}

impl TokenSigner {
    /// The key for access tokens.
    pub fn generate() -> Result<Self, Error> {
        Self::generate_for(KeyPurpose::AccessTokens)
    }

    pub fn generate_for(purpose: KeyPurpose) -> Result<Self, Error> {
        let crypto = |e: &dyn std::fmt::Display| Error::Crypto(format!("token signing key: {e}"));
        let rc_key = rcgen::KeyPair::try_from(shared_rsa_key(purpose)?).map_err(|e| crypto(&e))?;
        let key = RsaKeyPair::from_pkcs8(&rc_key.serialize_der()).map_err(|e| crypto(&e))?;
        let mut params =
            rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| crypto(&e))?;
        let name = match purpose {
            KeyPurpose::AccessTokens => "graphmailer emulator token signing",
            KeyPurpose::OidcIssuer => "graphmailer emulator OIDC issuer",
        };
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        // Emulators share the key but not the certificate: a random serial
        // gives each its own thumbprint (`kid`), so one emulator still
        // refuses another's tokens.
        let mut serial = rand::random::<[u8; 16]>();
        serial[0] &= 0x7f;
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(365);
        let cert = params.self_signed(&rc_key).map_err(|e| crypto(&e))?;
        let thumbprint =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, cert.der());
        let components =
            PublicKeyComponents::<Vec<u8>>::from(aws_lc_rs::signature::KeyPair::public_key(&key));
        let public = ParsedPublicKey::new(
            &RSA_PKCS1_2048_8192_SHA256,
            aws_lc_rs::signature::KeyPair::public_key(&key).as_ref(),
        )
        .map_err(|e| crypto(&e))?;
        Ok(TokenSigner {
            kid: URL_SAFE_NO_PAD.encode(thumbprint.as_ref()),
            n: URL_SAFE_NO_PAD.encode(&components.n),
            e: URL_SAFE_NO_PAD.encode(&components.e),
            x5c: STANDARD.encode(cert.der()),
            key,
            public,
            verified: VerifiedTokens::new(),
        })
    }

    /// Signs the claims into a compact JWT.
    pub fn issue(&self, claims: &AccessTokenClaims) -> Result<String, Error> {
        self.sign(claims)
    }

    /// Signs any claims into a compact RS256 JWT under this key's `kid`.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, Error> {
        let header = serde_json::json!({
            "typ": "JWT",
            "alg": "RS256",
            "x5t": self.kid,
            "kid": self.kid,
        });
        let signing_input = format!("{}.{}", json_b64(&header), json_b64(claims));
        let mut signature = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| Error::Crypto("signing a token failed".into()))?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }

    /// Checks the signature and lifetime; audience, issuer and revocation are
    /// the caller's business because they depend on the request. The
    /// signature check of a token seen before comes from [`VerifiedTokens`];
    /// the lifetime is checked anew each time.
    pub fn verify(&self, token: &str, now: i64) -> Result<Arc<AccessTokenClaims>, TokenProblem> {
        let claims = match self.verified.get(token) {
            Some(claims) => claims,
            None => {
                let claims = Arc::new(self.verify_signature(token)?);
                self.verified.insert(token, claims.clone(), now);
                claims
            }
        };
        check_lifetime(&claims, now)?;
        Ok(claims)
    }

    /// The claims of a well-formed token signed by this key, whatever its lifetime.
    fn verify_signature(&self, token: &str) -> Result<AccessTokenClaims, TokenProblem> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenProblem::Malformed);
        };
        let decode = |part: &str| {
            URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| TokenProblem::Malformed)
        };
        let header: serde_json::Value =
            serde_json::from_slice(&decode(header)?).map_err(|_| TokenProblem::Malformed)?;
        let payload_bytes = decode(payload)?;
        let signature = decode(signature)?;
        if header.get("alg").and_then(|v| v.as_str()) != Some("RS256")
            || header.get("kid").and_then(|v| v.as_str()) != Some(self.kid.as_str())
        {
            return Err(TokenProblem::BadSignature);
        }
        // The header and payload as signed: all before the last dot.
        let signed_len = token.len() - signature_part(token).len() - 1;
        self.public
            .verify_sig(&token.as_bytes()[..signed_len], &signature)
            .map_err(|_| TokenProblem::BadSignature)?;
        serde_json::from_slice(&payload_bytes).map_err(|_| TokenProblem::Malformed)
    }

    /// The key as a JWK, as Entra publishes it.
    pub fn jwk(&self, issuer: &str) -> serde_json::Value {
        serde_json::json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": self.n,
            "e": self.e,
            "x5c": [self.x5c],
            "issuer": issuer,
        })
    }
}

fn check_lifetime(claims: &AccessTokenClaims, now: i64) -> Result<(), TokenProblem> {
    if claims.nbf > now {
        return Err(TokenProblem::NotYetValid);
    }
    if claims.exp <= now {
        return Err(TokenProblem::Expired);
    }
    Ok(())
}

/// Length of the signature part plus its dot, so the signed input is the rest.
/// The compact token's last part, its signature (empty without a dot).
fn signature_part(token: &str) -> &str {
    token
        .rsplit_once('.')
        .map_or("", |(_, signature)| signature)
}

/// base64url of a value's JSON (serializing these plain types cannot fail).
fn json_b64<T: Serialize>(value: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(now: i64) -> AccessTokenClaims {
        AccessTokenClaims {
            aud: "https://graph.microsoft.com".into(),
            iss: "https://sts.windows.net/t/".into(),
            iat: now - 300,
            nbf: now - 300,
            exp: now + 60,
            app_displayname: "x".into(),
            appid: "a".into(),
            appidacr: "1".into(),
            idp: "https://sts.windows.net/t/".into(),
            idtyp: "app".into(),
            oid: "o".into(),
            roles: None,
            sub: "o".into(),
            tid: "t".into(),
            uti: "u".into(),
            ver: "1.0".into(),
        }
    }

    #[test]
    fn sign_and_verify() {
        let signer = TokenSigner::generate().unwrap();
        let now = 1_800_000_000;
        let token = signer.issue(&claims(now)).unwrap();
        assert_eq!(*signer.verify(&token, now).unwrap(), claims(now));
        assert!(!token.split('.').nth(1).unwrap().contains("roles"));
        assert_eq!(signer.verify(&token, now + 60), Err(TokenProblem::Expired));
        assert_eq!(
            signer.verify(&token, now - 400),
            Err(TokenProblem::NotYetValid)
        );
        let mut tampered = token.clone();
        tampered.insert(token.find('.').unwrap() + 3, 'A');
        assert!(signer.verify(&tampered, now).is_err());
        assert_eq!(signer.verify("abc", now), Err(TokenProblem::Malformed));
        assert_eq!(signer.verify("a.b.c.d", now), Err(TokenProblem::Malformed));
        let other = TokenSigner::generate().unwrap();
        assert_eq!(other.verify(&token, now), Err(TokenProblem::BadSignature));
    }

    #[test]
    fn a_remembered_token_is_checked_as_strictly_as_a_new_one() {
        let signer = TokenSigner::generate().unwrap();
        let now = 1_800_000_000;
        let token = signer.issue(&claims(now)).unwrap();
        for _ in 0..2 {
            assert_eq!(*signer.verify(&token, now).unwrap(), claims(now));
        }
        // The lifetime is read again on every check, against the time given.
        assert_eq!(signer.verify(&token, now + 60), Err(TokenProblem::Expired));
        assert_eq!(
            signer.verify(&token, now - 400),
            Err(TokenProblem::NotYetValid)
        );
        // A token differing in one byte of its signature is not the remembered one.
        // Inside the signature, not its last character, whose low bits must be zero.
        let at = token.len() - 10;
        let mut forged = token.clone();
        let changed = if &token[at..=at] == "A" { "B" } else { "A" };
        forged.replace_range(at..=at, changed);
        assert_eq!(signer.verify(&forged, now), Err(TokenProblem::BadSignature));
        // Nor does another emulator's signer take it because this one did.
        let other = TokenSigner::generate().unwrap();
        assert_eq!(other.verify(&token, now), Err(TokenProblem::BadSignature));
    }

    #[test]
    fn the_remembered_tokens_stay_bounded() {
        let signer = TokenSigner::generate().unwrap();
        let now = 1_800_000_000;
        let mut first = None;
        for n in 0..=VERIFIED_TOKENS_KEPT {
            let mut c = claims(now);
            c.uti = format!("u{n}");
            let token = signer.issue(&c).unwrap();
            signer.verify(&token, now).unwrap();
            first.get_or_insert(token);
        }
        assert!(lock(&signer.verified.by_signature).len() <= VERIFIED_TOKENS_KEPT);
        // A token forgotten is checked in full again, and still passes.
        assert!(signer.verify(&first.unwrap(), now).is_ok());
    }
}
