//! A stored message's JSON, kept as text.
//!
//! The store keeps up to `max_stored_messages` (10,000 by default) and, once
//! full, drops its oldest on every send. As a parsed tree each message was
//! dozens of small allocations, made on one thread and freed on another
//! thousands of sends later; as text it is one. A sendMail's `message` is
//! kept as the very text that came (no serialising on the way in); readers
//! get the tree, parsed on first use.

use std::fmt;
use std::ops::Deref;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

/// The message as JSON text; dereferences to the parsed [`Value`].
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageJson {
    text: Box<RawValue>,
    #[serde(skip)]
    parsed: OnceLock<Value>,
}

impl MessageJson {
    /// JSON text as received (already read as valid JSON).
    pub(crate) fn from_text(text: &RawValue) -> Self {
        MessageJson {
            text: text.to_owned(),
            parsed: OnceLock::new(),
        }
    }

    /// A message the emulator built (from MIME, from a draft).
    pub(crate) fn from_value(value: &Value) -> Self {
        MessageJson {
            // Writing a `Value` cannot fail (its keys are strings).
            text: serde_json::value::to_raw_value(value).unwrap_or_default(),
            parsed: OnceLock::new(),
        }
    }

    /// The JSON text.
    pub fn text(&self) -> &str {
        self.text.get()
    }
}

impl Deref for MessageJson {
    type Target = Value;

    fn deref(&self) -> &Value {
        // The text is valid JSON; only a number beyond f64 (which sendMail's
        // checks refuse) would not read back.
        self.parsed
            .get_or_init(|| serde_json::from_str(self.text.get()).unwrap_or(Value::Null))
    }
}

impl PartialEq for MessageJson {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl fmt::Debug for MessageJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_is_kept_as_it_came_and_read_as_a_tree() {
        let body =
            r#"{ "Subject" : "Hi",  "toRecipients": [{"emailAddress": {"address": "a@b.test"}}] }"#;
        let raw: &RawValue = serde_json::from_str(body).unwrap();
        let message = MessageJson::from_text(raw);
        assert_eq!(message.text(), body, "kept byte for byte");
        assert_eq!(message["Subject"], "Hi");
        assert_eq!(
            message["toRecipients"][0]["emailAddress"]["address"],
            "a@b.test"
        );
        // Written as the text, read back equal.
        let written = serde_json::to_string(&message).unwrap();
        assert_eq!(written, body);
        let read: MessageJson = serde_json::from_str(&written).unwrap();
        assert_eq!(read, message);
        let built = MessageJson::from_value(&serde_json::json!({ "Subject": "Hi" }));
        assert_eq!(built.text(), r#"{"Subject":"Hi"}"#);
        assert_ne!(built, message);
    }
}
