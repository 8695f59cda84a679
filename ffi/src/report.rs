//! JSON handed to C programs: the core's own forms (the same the CLI's
//! `--json` prints), so a C program logs exactly what the other faces show.

use gm_core::{Config, Diagnosis, Verification};
use serde_json::Value;

pub(crate) fn diagnosis(d: &Diagnosis) -> Value {
    d.to_json()
}

pub(crate) fn verification(v: &Verification) -> Value {
    v.to_json()
}

/// The public settings: never the secret or the private key.
pub(crate) fn config(c: &Config) -> Value {
    c.to_json()
}
