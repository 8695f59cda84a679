//! Bearer token checks at the Graph endpoints: present, well-formed, signed
//! by this emulator, within its lifetime, for Graph, from a known tenant,
//! and not revoked.

use std::sync::Arc;

use axum::http::{HeaderMap, header};

use uuid::Uuid;

use crate::identity::GRAPH_RESOURCES;
use crate::state::{Shared, lock};
use crate::tokens::{AccessTokenClaims, STS_ISSUER_PREFIX, TokenProblem};

/// Who is calling, from a valid token.
pub(crate) struct Caller {
    pub claims: Arc<AccessTokenClaims>,
    pub tenant_id: Uuid,
    pub app_id: Uuid,
}

impl Caller {
    pub fn roles(&self) -> &[String] {
        self.claims.roles.as_deref().unwrap_or(&[])
    }
}

/// Returns the caller, or the message of the 401.
pub(crate) fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<Caller, &'static str> {
    const EMPTY: &str = "Access token is empty.";
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(EMPTY)?
        .to_str()
        .map_err(|_| "CompactToken parsing failed with error code: 80049217")?
        .trim();
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(EMPTY);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(EMPTY);
    }
    if !token.contains('.') {
        return Err("IDX14100: JWT is not well formed, there are no dots (.).");
    }
    let now = shared.clock.now_utc().unix_timestamp();
    let claims = shared
        .signer
        .verify(token, now)
        .map_err(|problem| match problem {
            TokenProblem::Malformed => "CompactToken parsing failed with error code: 80049217",
            TokenProblem::BadSignature => "Access token validation failure. Invalid signature.",
            TokenProblem::Expired => "Lifetime validation failed, the token is expired.",
            TokenProblem::NotYetValid => "Access token has expired or is not yet valid.",
        })?;
    if !GRAPH_RESOURCES
        .iter()
        .any(|r| r.eq_ignore_ascii_case(&claims.aud))
    {
        return Err("Access token validation failure. Invalid audience.");
    }
    let (Ok(tenant_id), Ok(app_id)) =
        (Uuid::parse_str(&claims.tid), Uuid::parse_str(&claims.appid))
    else {
        return Err("CompactToken parsing failed with error code: 80049217");
    };
    if shared.directory.tenant_by_id(tenant_id).is_none() || !issued_for(&claims.iss, tenant_id) {
        return Err("Access token validation failure. Invalid issuer.");
    }
    if lock(&shared.tokens).is_revoked(&claims.uti) {
        return Err("Access token validation failure. The token has been revoked.");
    }
    Ok(Caller {
        claims,
        tenant_id,
        app_id,
    })
}

/// Whether `iss` is exactly [`sts_issuer`] of the tenant, in lower case
/// (asked on every request, so without building it).
fn issued_for(iss: &str, tenant_id: Uuid) -> bool {
    let mut tenant = Uuid::encode_buffer();
    let tenant = tenant_id.hyphenated().encode_lower(&mut tenant);
    iss.strip_prefix(STS_ISSUER_PREFIX)
        .and_then(|rest| rest.strip_suffix('/'))
        == Some(tenant)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::sts_issuer;

    #[test]
    fn the_issuer_must_be_the_tenants_exactly() {
        let tenant = Uuid::parse_str("4c2e0a8b-6d1f-4e3a-9b5c-7d9f1b3e5a20").unwrap();
        let other = Uuid::parse_str("00000000-0000-4000-8000-0000000000aa").unwrap();
        assert!(issued_for(&sts_issuer(tenant), tenant));
        let refused = [
            sts_issuer(other),
            sts_issuer(tenant.to_string().to_uppercase()),
            sts_issuer(tenant).trim_end_matches('/').to_owned(),
            format!("{}x", sts_issuer(tenant)),
            format!("https://login.microsoftonline.com/{tenant}/v2.0"),
            String::new(),
        ];
        for iss in refused {
            assert!(!issued_for(&iss, tenant), "{iss} was taken");
        }
    }
}
