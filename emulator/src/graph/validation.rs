//! The sendMail JSON body, checked the way Graph does (reference §4, §7).
//!
//! Two layers, as in Graph: OData reading first (unknown properties, wrong
//! JSON types, unparsable enums or base64: `RequestBodyRead`), then
//! Exchange's rules (header collection, attachments, recipients). Property
//! names match case-insensitively, because the Graph SDKs send `Message`
//! and `SaveToSentItems`. The message is kept exactly as received.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

use crate::directory::is_email_address;
use crate::drafts::encoded_size;

/// A sendMail body that passed every check.
#[derive(Debug)]
pub(crate) struct SendMailBody {
    /// The `message` object as received.
    pub message: Value,
    pub save_to_sent_items: bool,
    /// `from.emailAddress.address`, lowercase, if given.
    pub from: Option<String>,
}

/// Why the body was refused: always a 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invalid {
    pub code: &'static str,
    pub message: String,
}

fn body_read(message: impl Into<String>) -> Invalid {
    Invalid {
        code: "RequestBodyRead",
        message: message.into(),
    }
}

fn invalid_request(message: impl Into<String>) -> Invalid {
    Invalid {
        code: "ErrorInvalidRequest",
        message: message.into(),
    }
}

fn invalid_recipients(message: impl Into<String>) -> Invalid {
    Invalid {
        code: "ErrorInvalidRecipients",
        message: message.into(),
    }
}

fn header_collection(message: impl Into<String>) -> Invalid {
    Invalid {
        code: "InvalidInternetMessageHeaderCollection",
        message: message.into(),
    }
}

fn header_name(message: impl Into<String>) -> Invalid {
    Invalid {
        code: "InvalidInternetMessageHeader",
        message: message.into(),
    }
}

fn required_property_missing(message: impl Into<String>) -> Invalid {
    Invalid {
        code: "ErrorRequiredPropertyMissing",
        message: message.into(),
    }
}

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

/// Graph allows at most this many `internetMessageHeaders`.
const MAX_HEADERS: usize = 5;

/// Reads and checks a sendMail JSON body.
pub(crate) fn check_send_mail(body: &[u8]) -> Result<SendMailBody, Invalid> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(body_read("Empty Payload. JSON content expected."));
    }
    let root: Value = serde_json::from_slice(body).map_err(|e| {
        body_read(format!(
            "Invalid JSON. A token was not recognized in the JSON content. (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let root = expect_object(&root)?;

    let mut message = None;
    let mut save = None;
    for (key, value) in root {
        if key.contains('@') {
            continue; // OData annotations
        }
        let slot = if key.eq_ignore_ascii_case("message") {
            &mut message
        } else if key.eq_ignore_ascii_case("saveToSentItems") {
            &mut save
        } else {
            return Err(body_read(format!(
                "The parameter '{key}' in the request payload is not a valid parameter for the operation 'sendMail'."
            )));
        };
        if slot.replace(value).is_some() {
            return Err(body_read(format!(
                "Multiple parameters with the name '{key}' were found in the request payload."
            )));
        }
    }
    let save_to_sent_items = match save {
        None => true,
        Some(Value::Null) => {
            return Err(body_read(
                "A null value was found for the parameter named 'SaveToSentItems', which has the expected type 'Edm.Boolean[Nullable=False]'.",
            ));
        }
        Some(value) => read_bool(value)?.unwrap_or(true),
    };
    let message = match message {
        None | Some(Value::Null) => {
            return Err(invalid_request(
                "The 'message' parameter is missing from the request payload.",
            ));
        }
        Some(m) => m,
    };
    let properties = expect_object(message)?;
    let from = read_message(properties)?;
    check_headers_and_attachments(properties)?;
    check_recipients(properties)?;
    Ok(SendMailBody {
        message: message.clone(),
        save_to_sent_items,
        from,
    })
}

/// A draft (`POST /users/{id}/messages`): the body is the message itself.
/// Read and checked like sendMail's `message`, except that recipients are
/// resolved only when the draft is sent, so none (or unresolvable ones)
/// are fine here.
pub(crate) fn check_draft(body: &[u8]) -> Result<Map<String, Value>, Invalid> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(body_read("Empty Payload. JSON content expected."));
    }
    let root: Value = serde_json::from_slice(body).map_err(|e| {
        body_read(format!(
            "Invalid JSON. A token was not recognized in the JSON content. (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let properties = expect_object(&root)?;
    read_message(properties)?;
    check_headers_and_attachments(properties)?;
    Ok(properties.clone())
}

/// A file attachment posted on its own (`POST .../attachments`).
pub(crate) fn check_file_attachment(value: &Value) -> Result<(), Invalid> {
    expect_object(value)?;
    read_attachment(value)?;
    check_attachment(value)
}

/// `from.emailAddress.address` of a message that passed [`read_message`], lowercase.
pub(crate) fn from_address(properties: &Map<String, Value>) -> Option<String> {
    get(properties, "from")?
        .as_object()
        .and_then(|f| get(f, "emailAddress"))
        .and_then(Value::as_object)
        .and_then(|e| get(e, "address"))
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
}

/// What counts against the tenant's maximum message size in a sendMail
/// message: the body's text plus every attachment as Exchange stores it,
/// base64-encoded (a third more than the file), so a 30 MB file does not
/// fit a 35 MB limit.
pub(crate) fn message_size(properties: &Map<String, Value>) -> u64 {
    let body = get(properties, "body")
        .and_then(Value::as_object)
        .and_then(|b| get(b, "content"))
        .and_then(Value::as_str)
        .map_or(0, str::len) as u64;
    let attachments = match get(properties, "attachments") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|a| get(a.as_object()?, "contentBytes")?.as_str())
            .filter_map(decode_base64)
            .map(|bytes| encoded_size(bytes.len() as u64))
            .sum(),
        _ => 0,
    };
    body + attachments
}

/// `ErrorMessageSizeExceeded` when `size` is over the tenant's maximum.
pub(crate) fn check_message_size(size: u64, limit: u64) -> Result<(), Invalid> {
    if size <= limit {
        return Ok(());
    }
    Err(Invalid {
        code: "ErrorMessageSizeExceeded",
        message: format!(
            "The message exceeds the maximum supported size of {limit} bytes ({} MB); it is {size} bytes (body plus attachments as encoded, base64 adding a third). Send smaller attachments or ask the administrator to raise the organization's maximum message size.",
            limit / (1024 * 1024)
        ),
    })
}

/// The OData reading layer: names, JSON types, enums, base64.
fn read_message(properties: &Map<String, Value>) -> Result<Option<String>, Invalid> {
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

/// Exchange's rules on headers and attachments, applied once the message
/// reads as a message.
fn check_headers_and_attachments(properties: &Map<String, Value>) -> Result<(), Invalid> {
    if let Some(Value::Array(headers)) = get(properties, "internetMessageHeaders") {
        if headers.len() > MAX_HEADERS {
            return Err(header_collection(
                "Maximum number of headers in one message should be less than or equal to 5.",
            ));
        }
        for header in headers {
            let name = header
                .as_object()
                .and_then(|h| get(h, "name"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let custom = name.len() > 2 && name.as_bytes()[..2].eq_ignore_ascii_case(b"x-");
            if !custom {
                return Err(header_name(format!(
                    "The internet message header name '{name}' should start with 'x-' or 'X-'."
                )));
            }
        }
    }
    if let Some(Value::Array(attachments)) = get(properties, "attachments") {
        for attachment in attachments {
            check_attachment(attachment)?;
        }
    }
    Ok(())
}

/// Exchange's recipient resolution at submission: every address valid and
/// at least one To, Cc or Bcc recipient.
pub(crate) fn check_recipients(properties: &Map<String, Value>) -> Result<(), Invalid> {
    let mut recipients = 0usize;
    for list in ["toRecipients", "ccRecipients", "bccRecipients", "replyTo"] {
        let Some(Value::Array(items)) = get(properties, list) else {
            continue;
        };
        for item in items {
            let address = item
                .as_object()
                .and_then(|r| get(r, "emailAddress"))
                .and_then(Value::as_object)
                .and_then(|e| get(e, "address"))
                .and_then(Value::as_str)
                .map(str::trim)
                .unwrap_or("");
            if !is_email_address(address) {
                return Err(invalid_recipients(format!(
                    "At least one recipient isn't valid., Recipient '{address}' isn't resolved. All recipients must be resolved before a message can be submitted."
                )));
            }
            if list != "replyTo" {
                recipients += 1;
            }
        }
    }
    if recipients == 0 {
        return Err(invalid_recipients(
            "At least one recipient isn't valid., A message can't be sent because it contains no recipients.",
        ));
    }
    Ok(())
}

/// To, Cc and Bcc recipients of a message (Reply-To does not count).
pub(crate) fn recipient_count(properties: &Map<String, Value>) -> usize {
    ["toRecipients", "ccRecipients", "bccRecipients"]
        .iter()
        .filter_map(|list| get(properties, list)?.as_array())
        .map(Vec::len)
        .sum()
}

/// Exchange Online's recipients-per-message limit (500 unless raised).
pub(crate) fn check_recipient_limit(count: usize, limit: u32) -> Result<(), Invalid> {
    if count <= limit as usize {
        return Ok(());
    }
    Err(Invalid {
        code: "ErrorRecipientLimitExceeded",
        message: format!(
            "The message has {count} recipients; the organization allows at most {limit} per message (RESOLVER.ADR.RecipLimit; too many recipients). Split the recipients over several messages."
        ),
    })
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

const FILE_ATTACHMENT: &str = "#microsoft.graph.fileAttachment";

fn read_attachment(value: &Value) -> Result<(), Invalid> {
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

fn check_attachment(value: &Value) -> Result<(), Invalid> {
    let Some(attachment) = value.as_object() else {
        return Ok(()); // read_attachment refused it already
    };
    let odata_type = get(attachment, "@odata.type").and_then(Value::as_str);
    match odata_type {
        None => {
            // An attachment is an abstract OData type: without the property
            // the reader cannot pick a concrete one.
            return Err(body_read(format!(
                "Cannot create an abstract class. The property '@odata.type' is missing on an attachment; a file attachment needs \"@odata.type\": \"{FILE_ATTACHMENT}\"."
            )));
        }
        Some(t)
            if !t
                .trim_start_matches('#')
                .eq_ignore_ascii_case(&FILE_ATTACHMENT[1..]) =>
        {
            return Err(invalid_request(format!(
                "The attachment type '{t}' is not supported here; use '{FILE_ATTACHMENT}'."
            )));
        }
        Some(_) => {}
    }
    let name = get(attachment, "name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if name.trim().is_empty() {
        return Err(invalid_request("The attachment's 'name' is required."));
    }
    if get(attachment, "contentBytes")
        .and_then(Value::as_str)
        .is_none()
    {
        return Err(required_property_missing(format!(
            "Required property 'contentBytes' is missing on the file attachment '{name}'."
        )));
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

/// Standard base64 as .NET reads it: whitespace ignored, padding required.
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(compact).ok()
}

/// A case-insensitive property lookup.
fn get<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn node_kind(value: &Value) -> &'static str {
    match value {
        Value::Object(_) => "StartObject",
        Value::Array(_) => "StartArray",
        _ => "PrimitiveValue",
    }
}

fn expect_object(value: &Value) -> Result<&Map<String, Value>, Invalid> {
    value.as_object().ok_or_else(|| {
        body_read(format!(
            "An unexpected '{}' node was found when reading from the JSON reader. A 'StartObject' node was expected.",
            node_kind(value)
        ))
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn check(json: Value) -> Result<SendMailBody, Invalid> {
        check_send_mail(json.to_string().as_bytes())
    }

    fn to(address: &str) -> Value {
        serde_json::json!([{ "emailAddress": { "address": address } }])
    }

    #[test]
    fn minimal_and_sdk_casing() {
        let ok =
            check(serde_json::json!({ "message": { "toRecipients": to("a@b.test") } })).unwrap();
        assert!(ok.save_to_sent_items);
        let sdk = check(serde_json::json!({
            "Message": { "Subject": "Hi", "ToRecipients": [{ "EmailAddress": { "Address": "a@b.test" } }],
                         "Body": { "ContentType": "HTML", "Content": "<p>x</p>" }, "Importance": "High" },
            "SaveToSentItems": false
        }))
        .unwrap();
        assert!(!sdk.save_to_sent_items);
        assert_eq!(sdk.message["Subject"], "Hi");
    }

    #[test]
    fn refusals() {
        let code = |v: Value| check(v).unwrap_err().code;
        assert_eq!(
            check_send_mail(b"{not json").unwrap_err().code,
            "RequestBodyRead"
        );
        assert_eq!(
            code(serde_json::json!({ "saveToSentItems": true })),
            "ErrorInvalidRequest"
        );
        assert_eq!(
            code(serde_json::json!({ "message": {} })),
            "ErrorInvalidRecipients"
        );
        assert_eq!(
            code(serde_json::json!({ "message": { "toRecipients": to("nobody") } })),
            "ErrorInvalidRecipients"
        );
        assert_eq!(
            code(
                serde_json::json!({ "message": { "toRecipients": to("a@b.test"), "recipients": [] } })
            ),
            "RequestBodyRead"
        );
        assert_eq!(
            code(
                serde_json::json!({ "message": { "toRecipients": to("a@b.test"), "ccRecipients": null } })
            ),
            "RequestBodyRead"
        );
        assert_eq!(
            code(
                serde_json::json!({ "message": { "toRecipients": to("a@b.test"), "body": { "contentType": "markdown" } } })
            ),
            "RequestBodyRead"
        );
        assert_eq!(
            code(
                serde_json::json!({ "message": { "toRecipients": to("a@b.test"), "importance": "urgent" } })
            ),
            "RequestBodyRead"
        );
        let headers: Vec<Value> = (0..6)
            .map(|i| serde_json::json!({ "name": format!("x-h{i}"), "value": "v" }))
            .collect();
        assert_eq!(
            code(
                serde_json::json!({ "message": { "toRecipients": to("a@b.test"), "internetMessageHeaders": headers } })
            ),
            "InvalidInternetMessageHeaderCollection"
        );
        assert_eq!(
            code(
                serde_json::json!({ "message": { "toRecipients": to("a@b.test"), "internetMessageHeaders": [{ "name": "Reply-To", "value": "v" }] } })
            ),
            "InvalidInternetMessageHeader"
        );
        assert_eq!(
            code(
                serde_json::json!({ "message": { "toRecipients": to("a@b.test"), "attachments": [{ "name": "a.txt", "contentBytes": "aGk=" }] } })
            ),
            "RequestBodyRead"
        );
        assert_eq!(
            code(
                serde_json::json!({ "message": { "toRecipients": to("a@b.test"), "attachments": [{ "@odata.type": FILE_ATTACHMENT, "name": "a.txt", "contentBytes": "not base64!" }] } })
            ),
            "RequestBodyRead"
        );
        assert!(check(serde_json::json!({ "message": { "toRecipients": to("a@b.test"), "attachments": [{ "@odata.type": FILE_ATTACHMENT, "name": "a.txt", "contentBytes": "aGk=" }] } })).is_ok());
    }

    #[test]
    fn drafts_need_no_recipients_and_sizes_count_decoded_bytes() {
        let draft = check_draft(br#"{"Subject": "x", "body": {"content": "12345"}}"#).unwrap();
        assert_eq!(message_size(&draft), 5);
        assert_eq!(
            check_recipients(&draft).unwrap_err().code,
            "ErrorInvalidRecipients"
        );
        assert_eq!(
            check_draft(br#"{"recipients": []}"#).unwrap_err().code,
            "RequestBodyRead"
        );
        let with_file = serde_json::json!({ "attachments": [{ "@odata.type": FILE_ATTACHMENT, "name": "a.bin", "contentBytes": "AAECAw==" }] });
        let props = check_draft(with_file.to_string().as_bytes()).unwrap();
        assert_eq!(message_size(&props), 8);
        assert!(check_message_size(4, 4).is_ok());
        assert_eq!(
            check_message_size(5, 4).unwrap_err().code,
            "ErrorMessageSizeExceeded"
        );
        assert!(check_file_attachment(&serde_json::json!({ "name": "a" })).is_err());
    }

    #[test]
    fn from_is_reported() {
        let body = check(serde_json::json!({ "message": { "toRecipients": to("a@b.test"), "from": { "emailAddress": { "address": "Billing@Contoso.test" } } } })).unwrap();
        assert_eq!(body.from.as_deref(), Some("billing@contoso.test"));
    }
}
