//! A TOML config file: its keys are the settings' file keys, its values
//! become the text the environment would give.

use std::collections::BTreeMap;
use std::path::Path;

use crate::certificate::has_unprotected_key;
use crate::error::{Error, Result};
use crate::private_file::{ensure_private, ensure_unchangeable};

use super::settings::{CERTIFICATE_PATH, SETTINGS, SettingType};

pub(super) fn parse_file(text: &str, path: &Path) -> Result<BTreeMap<String, String>> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        Error::config(
            "config file",
            format!("'{}' is not valid TOML: {}", path.display(), e.message()),
        )
    })?;
    let mut values = BTreeMap::new();
    for (key, value) in table {
        if !SETTINGS.iter().any(|s| s.key == key) {
            let known: Vec<&str> = SETTINGS.iter().map(|s| s.key).collect();
            return Err(Error::config(
                "config file",
                format!(
                    "unknown key '{key}' in '{}'; known keys: {}",
                    path.display(),
                    known.join(", ")
                ),
            ));
        }
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| Error::config(&key, "must be a list of strings"))?
                .join(","),
            _ => {
                return Err(Error::config(
                    &key,
                    "must be a string, a number, true or false, or a list of strings",
                ));
            }
        };
        values.insert(key, text);
    }
    Ok(values)
}

/// Refuses a file that others can change (it says where credentials go),
/// one that others can read when it holds a secret (an outbox URL with a
/// database password counts), or one naming a certificate whose key has no
/// password (then that key file must be private too). Secrets left to the
/// environment need no more of the file than that it cannot be changed.
pub(super) fn refuse_exposed_secrets(values: &BTreeMap<String, String>, path: &Path) -> Result<()> {
    ensure_unchangeable(path, "config file")?;
    let mut secrets: Vec<&str> = SETTINGS
        .iter()
        .filter(|s| s.kind == SettingType::Secret)
        .filter(|s| values.get(s.key).is_some_and(|v| !v.is_empty()))
        .map(|s| s.key)
        .collect();
    if values.get("outbox").is_some_and(|u| holds_password(u)) {
        secrets.push("outbox (its database password)");
    }
    if !secrets.is_empty() {
        ensure_private(path, "config file", &secrets.join(" and "))?;
    }
    let certificate = SETTINGS
        .iter()
        .find(|s| s.env == CERTIFICATE_PATH)
        .and_then(|s| values.get(s.key))
        .filter(|p| !p.is_empty())
        .map(Path::new);
    if let Some(certificate) = certificate {
        if has_unprotected_key(certificate) {
            ensure_private(
                certificate,
                CERTIFICATE_PATH,
                "a private key without a password",
            )?;
        }
    }
    Ok(())
}

/// Whether a database URL carries a password: `user:password@` or a
/// `password=` parameter.
fn holds_password(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| {
        u.password().is_some_and(|p| !p.is_empty())
            || u.query_pairs()
                .any(|(k, v)| k == "password" && !v.is_empty())
    })
}
