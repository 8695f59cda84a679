//! The JSON forms of errors, diagnoses and verifications: one shape for the
//! CLI's `--json`, the C library's strings and any binding that wants a
//! plain object, so no face invents its own field names.

use serde_json::{Value, json};

use crate::config::Config;
use crate::diagnose::Diagnosis;
use crate::error::Error;
use crate::verify::Verification;

impl Error {
    /// `{"ok": false, "kind", "message", "field", "code", "request_id",
    /// "status", "hint", "retry_after_secs"}`.
    pub fn to_json(&self) -> Value {
        json!({
            "ok": false,
            "kind": self.kind().name(),
            "message": self.message(),
            "field": self.field(),
            "code": self.code(),
            "request_id": self.request_id(),
            "status": self.status(),
            "hint": self.hint(),
            "retry_after_secs": self.retry_after().map(|d| d.as_secs_f64()),
        })
    }
}

impl Config {
    /// The public settings: never the secret or the private key.
    pub fn to_json(&self) -> Value {
        json!({
            "tenant_id": self.tenant_id(),
            "client_id": self.client_id(),
            "credential": self.credential_kind(),
            "cloud": self.cloud().name(),
            "authority_host": self.authority_host(),
            "graph_endpoint": self.graph_endpoint(),
            "token_url": self.token_url(),
            "scope": self.scope(),
            "allowed_senders": self.allowed_senders().entries(),
            "large_messages": self.large_messages(),
            "default_sender": self.default_sender(),
        })
    }
}

impl Diagnosis {
    /// Every field, with `findings` as `[{severity, id, message, hint}]`.
    pub fn to_json(&self) -> Value {
        json!({
            "ok": self.ok(),
            "tenant_id": self.tenant_id,
            "client_id": self.client_id,
            "credential": self.credential,
            "credential_reason": self.credential_reason,
            "cloud": self.cloud,
            "token_url": self.token_url,
            "graph_endpoint": self.graph_endpoint,
            "scope": self.scope,
            "proxy": self.proxy,
            "large_messages": self.large_messages,
            "no_proxy": self.no_proxy,
            "token_acquired": self.token_acquired,
            "token_tenant": self.token_tenant,
            "app_display_name": self.app_display_name,
            "roles": self.roles,
            "token_lifetime_secs": self.token_lifetime.map(|d| d.as_secs()),
            "clock_skew_secs": self.clock_skew_secs,
            "error": self.error.as_ref().map(Error::to_json),
            "findings": self.findings.iter().map(|f| json!({
                "severity": f.severity.name(),
                "id": f.id,
                "message": f.message,
                "hint": f.hint,
            })).collect::<Vec<_>>(),
        })
    }
}

impl Verification {
    /// `{"holds", "round", "rows": [{sender, expected, observed, passed, code,
    /// request_id, detail}]}`.
    pub fn to_json(&self) -> Value {
        json!({
            "holds": self.holds(),
            "round": self.round,
            "rows": self.rows.iter().map(|r| json!({
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
}
