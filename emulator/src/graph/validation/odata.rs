//! The OData reading layer: property names (any case), JSON types, enums,
//! booleans in both OData forms, base64. Its refusals are `RequestBodyRead`,
//! as Graph's OData reader answers before Exchange sees the message.

use serde_json::{Map, Value};

use super::*;

/// How a message property is typed, for the OData reading layer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Bool,
    ItemBody,
    Recipient,
    Recipients,
    Importance,
    Attachments,
    Headers,
    TextList,
    /// Read-only or rarely used properties: accepted, not checked.
    Any,
}

const MESSAGE_PROPERTIES: &[(&str, Kind)] = &[
    ("subject", Kind::Text),
    ("body", Kind::ItemBody),
    ("uniqueBody", Kind::ItemBody),
    ("toRecipients", Kind::Recipients),
    ("ccRecipients", Kind::Recipients),
    ("bccRecipients", Kind::Recipients),
    ("replyTo", Kind::Recipients),
    ("from", Kind::Recipient),
    ("sender", Kind::Recipient),
    ("importance", Kind::Importance),
    ("isDeliveryReceiptRequested", Kind::Bool),
    ("isReadReceiptRequested", Kind::Bool),
    ("isDraft", Kind::Bool),
    ("isRead", Kind::Bool),
    ("hasAttachments", Kind::Bool),
    ("attachments", Kind::Attachments),
    ("internetMessageHeaders", Kind::Headers),
    ("internetMessageId", Kind::Text),
    ("categories", Kind::TextList),
    ("id", Kind::Any),
    ("changeKey", Kind::Any),
    ("conversationId", Kind::Any),
    ("conversationIndex", Kind::Any),
    ("parentFolderId", Kind::Any),
    ("webLink", Kind::Any),
    ("bodyPreview", Kind::Any),
    ("createdDateTime", Kind::Any),
    ("lastModifiedDateTime", Kind::Any),
    ("receivedDateTime", Kind::Any),
    ("sentDateTime", Kind::Any),
    ("inferenceClassification", Kind::Any),
    ("flag", Kind::Any),
    ("extensions", Kind::Any),
    ("mentions", Kind::Any),
    ("singleValueExtendedProperties", Kind::Any),
    ("multiValueExtendedProperties", Kind::Any),
];

/// A message property's name as Graph spells it (names are read
/// case-insensitively), for answers that echo a message back.
pub(crate) fn canonical_message_property(key: &str) -> Option<&'static str> {
    MESSAGE_PROPERTIES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(key))
        .map(|(name, _)| *name)
}

/// The OData reading layer: names, JSON types, enums, base64.
pub(super) fn read_message(properties: &Map<String, Value>) -> Result<Option<String>, Invalid> {
    let mut seen: Vec<&str> = Vec::new();
    let mut from = None;
    for (key, value) in properties {
        if key.contains('@') {
            continue;
        }
        let Some((name, kind)) = MESSAGE_PROPERTIES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(key))
        else {
            return Err(unknown_property(key, "microsoft.graph.message"));
        };
        if seen.contains(name) {
            return Err(body_read(format!(
                "Multiple properties with the name '{key}' were found."
            )));
        }
        seen.push(name);
        match kind {
            Kind::Text => expect_text(name, value)?,
            Kind::Bool => {
                read_bool(value)?;
            }
            Kind::ItemBody => read_item_body(value)?,
            Kind::Recipient => {
                if !value.is_null() {
                    let address = read_recipient(value)?;
                    if *name == "from" {
                        from = address.map(|a| a.to_ascii_lowercase());
                    }
                }
            }
            Kind::Recipients => {
                for recipient in expect_collection(name, value, "microsoft.graph.recipient")? {
                    read_recipient(recipient)?;
                }
            }
            Kind::Importance => read_enum(
                value,
                &["low", "normal", "high"],
                "microsoft.graph.importance",
            )?,
            Kind::Attachments => {
                for attachment in expect_collection(name, value, "microsoft.graph.attachment")? {
                    read_attachment(attachment)?;
                }
            }
            Kind::Headers => {
                for header in
                    expect_collection(name, value, "microsoft.graph.internetMessageHeader")?
                {
                    read_header(header)?;
                }
            }
            Kind::TextList => {
                for item in expect_collection(name, value, "Edm.String")? {
                    expect_text(name, item)?;
                }
            }
            Kind::Any => {}
        }
    }
    Ok(from)
}

fn read_item_body(value: &Value) -> Result<(), Invalid> {
    if value.is_null() {
        return Ok(());
    }
    for (key, v) in expect_object(value)? {
        if key.contains('@') {
            continue;
        }
        if key.eq_ignore_ascii_case("contentType") {
            read_enum(v, &["text", "html"], "microsoft.graph.bodyType")?;
        } else if key.eq_ignore_ascii_case("content") {
            expect_text("content", v)?;
        } else {
            return Err(unknown_property(key, "microsoft.graph.itemBody"));
        }
    }
    Ok(())
}

/// Reads a recipient; returns its address if one is given.
fn read_recipient(value: &Value) -> Result<Option<&str>, Invalid> {
    let mut address = None;
    for (key, v) in expect_object(value)? {
        if key.contains('@') {
            continue;
        }
        if !key.eq_ignore_ascii_case("emailAddress") {
            return Err(unknown_property(key, "microsoft.graph.recipient"));
        }
        if v.is_null() {
            continue;
        }
        for (k, inner) in expect_object(v)? {
            if k.contains('@') {
                continue;
            }
            if k.eq_ignore_ascii_case("address") {
                expect_text("address", inner)?;
                address = inner.as_str();
            } else if k.eq_ignore_ascii_case("name") {
                expect_text("name", inner)?;
            } else {
                return Err(unknown_property(k, "microsoft.graph.emailAddress"));
            }
        }
    }
    Ok(address)
}

pub(super) fn read_attachment(value: &Value) -> Result<(), Invalid> {
    for (key, v) in expect_object(value)? {
        if key.eq_ignore_ascii_case("@odata.type") {
            expect_text(key, v)?;
            continue;
        }
        if key.contains('@') {
            continue;
        }
        const KNOWN: &[&str] = &[
            "name",
            "contentBytes",
            "contentType",
            "isInline",
            "contentId",
            "contentLocation",
            "size",
            "id",
            "lastModifiedDateTime",
        ];
        if !KNOWN.iter().any(|k| k.eq_ignore_ascii_case(key)) {
            return Err(unknown_property(key, "microsoft.graph.fileAttachment"));
        }
        if key.eq_ignore_ascii_case("isInline") {
            read_bool(v)?;
        }
        if ["name", "contentType", "contentId", "contentBytes"]
            .iter()
            .any(|k| k.eq_ignore_ascii_case(key))
        {
            expect_text(key, v)?;
        }
        if key.eq_ignore_ascii_case("contentBytes")
            && let Some(text) = v.as_str()
            && decode_base64(text).is_none()
        {
            let shown: String = text.chars().take(24).collect();
            return Err(body_read(format!(
                "Cannot convert the literal '{shown}' to the expected type 'Edm.Binary'."
            )));
        }
    }
    Ok(())
}

fn read_header(value: &Value) -> Result<(), Invalid> {
    for (key, v) in expect_object(value)? {
        if key.contains('@') {
            continue;
        }
        if key.eq_ignore_ascii_case("name") || key.eq_ignore_ascii_case("value") {
            expect_text(key, v)?;
        } else {
            return Err(unknown_property(
                key,
                "microsoft.graph.internetMessageHeader",
            ));
        }
    }
    Ok(())
}

fn node_kind(value: &Value) -> &'static str {
    match value {
        Value::Object(_) => "StartObject",
        Value::Array(_) => "StartArray",
        _ => "PrimitiveValue",
    }
}

pub(super) fn expect_object(value: &Value) -> Result<&Map<String, Value>, Invalid> {
    value.as_object().ok_or_else(|| not_an_object(value))
}

/// [`expect_object`] for a value the caller owns and keeps.
pub(super) fn into_object(value: Value) -> Result<Map<String, Value>, Invalid> {
    match value {
        Value::Object(properties) => Ok(properties),
        other => Err(not_an_object(&other)),
    }
}

fn not_an_object(value: &Value) -> Invalid {
    body_read(format!(
        "An unexpected '{}' node was found when reading from the JSON reader. A 'StartObject' node was expected.",
        node_kind(value)
    ))
}

fn expect_collection<'a>(
    name: &str,
    value: &'a Value,
    item_type: &str,
) -> Result<&'a [Value], Invalid> {
    match value {
        Value::Array(items) => Ok(items),
        Value::Null => Err(body_read(format!(
            "A null value was found for the property named '{name}', which has the expected type 'Collection({item_type})[Nullable=False]'. The expected type 'Collection({item_type})[Nullable=False]' does not allow null values."
        ))),
        other => Err(body_read(format!(
            "An unexpected '{}' node was found when reading from the JSON reader. A 'StartArray' node was expected.",
            node_kind(other)
        ))),
    }
}

fn expect_text(name: &str, value: &Value) -> Result<(), Invalid> {
    match value {
        Value::String(_) | Value::Null => Ok(()),
        Value::Object(_) | Value::Array(_) => Err(body_read(format!(
            "An unexpected '{}' node was found for property named '{name}' when reading from the JSON reader. A 'PrimitiveValue' node was expected.",
            node_kind(value)
        ))),
        other => Err(cannot_convert(other, "Edm.String")),
    }
}

fn read_enum(value: &Value, allowed: &[&str], type_name: &str) -> Result<(), Invalid> {
    match value {
        Value::Null => Ok(()),
        Value::String(s) if allowed.iter().any(|a| a.eq_ignore_ascii_case(s)) => Ok(()),
        other => Err(body_read(format!(
            "Cannot convert the literal '{}' to the expected type '{type_name}'.",
            literal(other)
        ))),
    }
}

/// An OData boolean: JSON `true`/`false`, or the strings `"true"`/`"false"`,
/// which Graph's OData reader accepts too (Microsoft's own sendMail example
/// sends `"saveToSentItems": "false"`). `None` for null.
pub(crate) fn read_bool(value: &Value) -> Result<Option<bool>, Invalid> {
    match value {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Ok(Some(true)),
        Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Ok(Some(false)),
        other => Err(cannot_convert(other, "Edm.Boolean")),
    }
}

fn cannot_convert(value: &Value, type_name: &str) -> Invalid {
    body_read(format!(
        "Cannot convert the literal '{}' to the expected type '{type_name}'.",
        literal(value)
    ))
}

fn unknown_property(key: &str, type_name: &str) -> Invalid {
    body_read(format!(
        "The property '{key}' does not exist on type '{type_name}'. Make sure to only use property names that are defined by the type or mark the type as open type."
    ))
}

fn literal(value: &Value) -> String {
    match value {
        Value::String(s) => s.chars().take(40).collect(),
        other => other.to_string().chars().take(40).collect(),
    }
}
