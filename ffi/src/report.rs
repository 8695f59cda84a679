//! JSON of the core's diagnose and verify results and of a mailer's public
//! settings, for C programs that log them or show them to a person.
//!
//! CORE-GAP: the core has no serialized form of `Diagnosis`, `Verification`
//! or the public part of `Config`; the shapes below mirror the core's field
//! names one to one (snake case, durations in seconds) and should move into
//! the core so every binding and the CLI print the same JSON.

use gm_core::{Config, Diagnosis, Error, Verification};
use serde_json::{Value, json};

pub(crate) fn error(e: &Error) -> Value {
    json!({
        "kind": e.kind().name(),
        "message": e.message(),
        "field": e.field(),
        "code": e.code(),
        "request_id": e.request_id(),
        "status": e.status(),
        "hint": e.hint(),
        "retry_after_secs": e.retry_after().map(|d| d.as_secs_f64()),
    })
}

pub(crate) fn diagnosis(d: &Diagnosis) -> Value {
    json!({
        "ok": d.ok(),
        "tenant_id": d.tenant_id,
        "client_id": d.client_id,
        "credential": d.credential,
        "cloud": d.cloud,
        "token_url": d.token_url,
        "graph_endpoint": d.graph_endpoint,
        "scope": d.scope,
        "proxy": d.proxy,
        "no_proxy": d.no_proxy,
        "token_acquired": d.token_acquired,
        "token_tenant": d.token_tenant,
        "app_display_name": d.app_display_name,
        "roles": d.roles,
        "token_lifetime_secs": d.token_lifetime.map(|t| t.as_secs()),
        "clock_skew_secs": d.clock_skew_secs,
        "error": d.error.as_ref().map(error),
        "findings": d.findings.iter().map(|f| json!({
            "severity": f.severity.name(),
            "id": f.id,
            "message": f.message,
            "hint": f.hint,
        })).collect::<Vec<_>>(),
    })
}

pub(crate) fn verification(v: &Verification) -> Value {
    json!({
        "holds": v.holds(),
        "round": v.round,
        "rows": v.rows.iter().map(|r| json!({
            "sender": r.sender,
            "expected": r.expected.name(),
            "observed": r.observed.name(),
            "passed": r.passed(),
            "code": r.code,
            "request_id": r.request_id,
            "detail": r.detail,
        })).collect::<Vec<_>>(),
    })
}

/// The public settings: never the secret or the private key.
pub(crate) fn config(c: &Config) -> Value {
    json!({
        "tenant_id": c.tenant_id(),
        "client_id": c.client_id(),
        "credential": c.credential_kind(),
        "cloud": c.cloud().name(),
        "authority_host": c.authority_host(),
        "graph_endpoint": c.graph_endpoint(),
        "token_url": c.token_url(),
        "scope": c.scope(),
        // CORE-GAP: SenderPolicy has no accessor for its entries; describe()
        // gives them as one comma-separated string.
        "allowed_senders": c.allowed_senders().describe(),
    })
}
