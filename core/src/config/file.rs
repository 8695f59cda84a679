//! A TOML config file: its keys are the settings' file keys, its values
//! become the text the environment would give.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Error, Result};

use super::settings::SETTINGS;

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
