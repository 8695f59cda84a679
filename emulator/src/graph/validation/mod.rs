//! The sendMail JSON body, checked the way Graph does (docs/graph-mail-protocol.md §4, §7).
//!
//! Two layers, as in Graph: OData reading first (`odata`: unknown
//! properties, wrong JSON types, unparsable enums or base64:
//! `RequestBodyRead`), then Exchange's rules (`exchange`: header
//! collection, attachments, recipients, sizes). Property names match
//! case-insensitively, because the Graph SDKs send `Message` and
//! `SaveToSentItems`. The message is kept exactly as received. This module
//! holds the entry points that run both layers and what they share.

mod exchange;
mod odata;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use exchange::*;
use odata::*;

pub(crate) use exchange::{
    check_message_size, check_recipient_limit, check_recipients, message_size, recipient_count,
};
pub(crate) use odata::{canonical_message_property, read_bool};

/// A sendMail body that passed every check.
#[derive(Debug)]
pub(crate) struct SendMailBody<'a> {
    /// The `message` object's text, as received.
    pub message: &'a RawValue,
    /// The same object read, for the checks that follow (recipient limit, size).
    pub properties: Map<String, Value>,
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

/// Reads and checks a sendMail JSON body.
pub(crate) fn check_send_mail(body: &[u8]) -> Result<SendMailBody<'_>, Invalid> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(body_read("Empty Payload. JSON content expected."));
    }
    // The parameters are read as text first, so that the message is kept as
    // the text that came: a tree kept in the store cost more to build and
    // free than the checks it serves (see `message_json.rs`). In key order,
    // as a tree's object would give them.
    let parameters: BTreeMap<Cow<str>, &RawValue> =
        serde_json::from_slice(body).map_err(|_| unreadable(body))?;
    let read = |raw: &RawValue| -> Result<Value, Invalid> {
        serde_json::from_str(raw.get()).map_err(|_| unreadable(body))
    };
    let mut message = None;
    let mut save = None;
    for (key, value) in &parameters {
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
        if slot.replace(*value).is_some() {
            return Err(body_read(format!(
                "Multiple parameters with the name '{key}' were found in the request payload."
            )));
        }
    }
    let save_to_sent_items = match save.map(read).transpose()? {
        None => true,
        Some(Value::Null) => {
            return Err(body_read(
                "A null value was found for the parameter named 'SaveToSentItems', which has the expected type 'Edm.Boolean[Nullable=False]'.",
            ));
        }
        Some(value) => read_bool(&value)?.unwrap_or(true),
    };
    let missing =
        || invalid_request("The 'message' parameter is missing from the request payload.");
    let Some(text) = message else {
        return Err(missing());
    };
    let properties = match read(text)? {
        Value::Null => return Err(missing()),
        other => into_object(other)?,
    };
    let from = read_message(&properties)?;
    check_headers_and_attachments(&properties)?;
    check_recipients(&properties)?;
    Ok(SendMailBody {
        message: text,
        properties,
        save_to_sent_items,
        from,
    })
}

/// Why a body that is not a JSON object, or not JSON, was refused: read
/// whole as a tree, it says which (the reader's line and column, or the
/// node found), as Graph's reader would.
fn unreadable(body: &[u8]) -> Invalid {
    match serde_json::from_slice::<Value>(body) {
        Err(e) => invalid_json(&e),
        Ok(root) => match into_object(root) {
            Err(invalid) => invalid,
            // Read as a tree, yet not as text: not expected.
            Ok(_) => body_read("The request payload could not be read."),
        },
    }
}

fn invalid_json(error: &serde_json::Error) -> Invalid {
    body_read(format!(
        "Invalid JSON. A token was not recognized in the JSON content. (line {}, column {})",
        error.line(),
        error.column()
    ))
}

/// A draft (`POST /users/{id}/messages`): the body is the message itself.
/// Read and checked like sendMail's `message`, except that recipients are
/// resolved only when the draft is sent, so none (or unresolvable ones)
/// are fine here.
pub(crate) fn check_draft(body: &[u8]) -> Result<Map<String, Value>, Invalid> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(body_read("Empty Payload. JSON content expected."));
    }
    let root: Value = serde_json::from_slice(body).map_err(|e| invalid_json(&e))?;
    let properties = into_object(root)?;
    read_message(&properties)?;
    check_headers_and_attachments(&properties)?;
    Ok(properties)
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

const FILE_ATTACHMENT: &str = "#microsoft.graph.fileAttachment";

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

#[cfg(test)]
mod tests {
    use super::*;

    /// What a body's check gives, owned: the message read back from its text.
    #[derive(Debug)]
    struct Checked {
        message: Value,
        save_to_sent_items: bool,
        from: Option<String>,
    }

    fn check_bytes(body: &[u8]) -> Result<Checked, Invalid> {
        check_send_mail(body).map(|checked| {
            let message: Value = serde_json::from_str(checked.message.get()).unwrap();
            assert_eq!(Value::Object(checked.properties), message);
            Checked {
                message,
                save_to_sent_items: checked.save_to_sent_items,
                from: checked.from,
            }
        })
    }

    fn check(json: Value) -> Result<Checked, Invalid> {
        check_bytes(json.to_string().as_bytes())
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
    fn the_body_parameters_are_read_then_the_message_taken_out_whole() {
        let message = serde_json::json!({ "subject": "Hi", "toRecipients": to("a@b.test") });
        // An unreadable body is `RequestBodyRead`; gives its message.
        let unreadable = |result: Result<Checked, Invalid>| {
            let error = result.unwrap_err();
            assert_eq!(error.code, "RequestBodyRead", "{error:?}");
            error.message
        };
        let not_object = unreadable(check_bytes(b"[]"));
        assert!(not_object.contains("'StartArray'"), "{not_object}");
        let unknown = unreadable(check(
            serde_json::json!({ "message": message, "colour": 1 }),
        ));
        assert!(unknown.contains("'colour'"), "{unknown}");
        let twice = unreadable(check(
            serde_json::json!({ "message": message, "Message": message }),
        ));
        assert!(twice.starts_with("Multiple parameters"), "{twice}");
        let null_save = unreadable(check(
            serde_json::json!({ "message": message, "saveToSentItems": null }),
        ));
        assert!(null_save.contains("'SaveToSentItems'"), "{null_save}");
        let null_message = check(serde_json::json!({ "message": null })).unwrap_err();
        assert_eq!(null_message.code, "ErrorInvalidRequest");
        // Annotations are skipped, and the message comes back exactly as sent.
        let ok = check(serde_json::json!({
            "@odata.context": "x", "Message": message, "saveToSentItems": false
        }))
        .unwrap();
        assert_eq!(ok.message, message);
        assert!(!ok.save_to_sent_items);
    }

    #[test]
    fn the_message_is_kept_as_its_text_and_an_unreadable_body_told_as_before() {
        let body = br#"{ "saveToSentItems" : false, "message" : {"subject":"caf\u00e9",  "toRecipients":[{"emailAddress":{"address":"a@b.test"}}]} }"#;
        let checked = check_send_mail(body).unwrap();
        assert_eq!(
            checked.message.get(),
            r#"{"subject":"caf\u00e9",  "toRecipients":[{"emailAddress":{"address":"a@b.test"}}]}"#
        );
        assert_eq!(checked.properties["subject"], "caf\u{e9}");
        assert!(!checked.save_to_sent_items);
        // Told exactly as reading the whole body as a tree tells it: where
        // the JSON breaks (a number too large for a double included, which
        // reading as text alone would let through), or what it is instead
        // of an object.
        let bodies: [&[u8]; 7] = [
            b"{not json",
            b"[]",
            br#""text""#,
            br#"{"message": {}} trailing"#,
            br#"{"message": {"subject": 1e400}}"#,
            br#"{"saveToSentItems": 1e999, "message": {}}"#,
            br#"{"message": {"subject": "\x"}}"#,
        ];
        for body in bodies {
            let told = check_send_mail(body).unwrap_err();
            let whole = match serde_json::from_slice::<Value>(body) {
                Err(e) => invalid_json(&e),
                Ok(root) => into_object(root).unwrap_err(),
            };
            assert_eq!(told, whole, "{}", String::from_utf8_lossy(body));
        }
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
