//! The Microsoft identity platform's side: the v2.0 token endpoint for the
//! client-credentials grant, and the discovery documents MSAL and Azure
//! Identity read before they ask for a token (docs/graph-mail-protocol.md §1-§3, §12);
//! federated credentials and the emulator's own OIDC issuer that mints
//! the tokens they trust.

mod aad_error;
mod client_assertion;
mod compact_jwt;
mod discovery;
mod federated_assertion;
mod managed_identity;
mod oidc_issuer;
mod token_endpoint;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::state::Shared;

pub(crate) use aad_error::{AadContext, AadError};
pub(crate) use managed_identity::router as managed_identity_router;
pub(crate) use oidc_issuer::OidcIssuer;
pub use oidc_issuer::{FederatedToken, FederatedTokenRequest};
pub(crate) use token_endpoint::GRAPH_RESOURCES;

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/{tenant}/oauth2/v2.0/token",
            post(token_endpoint::token_v2),
        )
        .route("/{tenant}/oauth2/token", post(token_endpoint::token_v1))
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(discovery::openid_configuration_v2),
        )
        .route(
            "/{tenant}/.well-known/openid-configuration",
            get(discovery::openid_configuration_v1),
        )
        .route(
            "/{tenant}/discovery/instance",
            get(discovery::instance_discovery),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(discovery::keys_v2))
        .route("/{tenant}/discovery/keys", get(discovery::keys_v1))
        .route(
            "/_emulator/oidc/.well-known/openid-configuration",
            get(oidc_issuer::configuration),
        )
        .route("/_emulator/oidc/keys", get(oidc_issuer::keys))
        .route("/_emulator/oidc/token", post(oidc_issuer::mint))
}
