//! The JSON Graph's `sendMail` takes, written with serde so that no quote,
//! backslash or control character in a subject or body can break the request.

use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD;
use serde::{Serialize, Serializer};

use crate::address::Address;
use crate::error::{Error, Result};
use crate::limits::MAX_REQUEST_BYTES;
use crate::message::{BodyType, Message};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SendMailRequest<'a> {
    message: WireMessage<'a>,
    save_to_sent_items: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireMessage<'a> {
    subject: &'a str,
    body: WireBody<'a>,
    to_recipients: Vec<WireRecipient<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cc_recipients: Vec<WireRecipient<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    bcc_recipients: Vec<WireRecipient<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reply_to: Vec<WireRecipient<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    importance: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    internet_message_headers: Vec<WireHeader<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<WireAttachment<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireBody<'a> {
    content_type: &'static str,
    content: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireRecipient<'a> {
    email_address: WireEmail<'a>,
}

#[derive(Serialize)]
struct WireEmail<'a> {
    address: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

#[derive(Serialize)]
struct WireHeader<'a> {
    name: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireAttachment<'a> {
    #[serde(rename = "@odata.type")]
    odata_type: &'static str,
    name: &'a str,
    content_type: &'a str,
    #[serde(serialize_with = "base64_streamed")]
    content_bytes: &'a [u8],
    is_inline: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_id: Option<&'a str>,
}

/// Writes base64 straight into the JSON buffer instead of building a second
/// copy of every attachment as a `String` first.
fn base64_streamed<S: Serializer>(bytes: &&[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&Base64Display::new(bytes, &STANDARD))
}

fn recipients(list: &[Address]) -> Vec<WireRecipient<'_>> {
    list.iter()
        .map(|a| WireRecipient {
            email_address: WireEmail {
                address: &a.address,
                name: a.name.as_deref(),
            },
        })
        .collect()
}

/// The request body for `POST /users/{sender}/sendMail`, refused when it
/// exceeds Graph's 4 MB limit. The message must have been validated.
pub(crate) fn send_mail_body(message: &Message) -> Result<Vec<u8>> {
    let estimate = estimated_size(message);
    if estimate > MAX_REQUEST_BYTES {
        return Err(too_large(estimate));
    }
    let request = SendMailRequest {
        message: WireMessage {
            subject: &message.subject,
            body: WireBody {
                content_type: match message.body.content_type {
                    BodyType::Text => "text",
                    BodyType::Html => "html",
                },
                content: &message.body.content,
            },
            to_recipients: recipients(&message.to),
            cc_recipients: recipients(&message.cc),
            bcc_recipients: recipients(&message.bcc),
            reply_to: recipients(&message.reply_to),
            importance: message.importance.map(|i| i.as_str()),
            internet_message_headers: message
                .headers
                .iter()
                .map(|h| WireHeader {
                    name: &h.name,
                    value: &h.value,
                })
                .collect(),
            attachments: message
                .attachments
                .iter()
                .map(|a| WireAttachment {
                    odata_type: "#microsoft.graph.fileAttachment",
                    name: &a.name,
                    content_type: a.effective_content_type(),
                    content_bytes: &a.content,
                    is_inline: a.inline,
                    content_id: a.content_id.as_deref(),
                })
                .collect(),
        },
        save_to_sent_items: message.save_to_sent_items,
    };
    let mut body = Vec::with_capacity(estimate.min(MAX_REQUEST_BYTES) + 1024);
    serde_json::to_writer(&mut body, &request)
        .map_err(|e| Error::invalid("message", format!("cannot be written as JSON: {e}")))?;
    if body.len() > MAX_REQUEST_BYTES {
        return Err(too_large(body.len()));
    }
    Ok(body)
}

/// A lower bound of the request's size, so a 40 MB attachment is refused
/// without first encoding 53 MB of base64.
fn estimated_size(message: &Message) -> usize {
    let attachments: usize = message
        .attachments
        .iter()
        .map(|a| a.content.len().div_ceil(3) * 4)
        .sum();
    attachments + message.body.content.len() + message.subject.len()
}

fn too_large(size: usize) -> Error {
    Error::invalid(
        "attachments",
        format!(
            "the request would be {:.1} MB; Graph accepts at most 4 MB in one sendMail call (attachments grow by a third in base64)",
            size as f64 / (1024.0 * 1024.0)
        ),
    )
    .with_code("RequestEntityTooLarge")
    .with_hint(
        "keep attachments under about 3 MB in total; larger mail needs Graph's upload sessions, \
         which graphmailer does not offer yet",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Attachment, Importance};

    #[test]
    fn quotes_and_newlines_in_the_body_stay_inside_the_json() {
        let m = Message::new("erp@contoso.test")
            .to(("O'Brien \"Ops\"", "ops@example.com"))
            .subject("Invoice \"42\" \\ done")
            .html("<p>line1\nline2 \"quoted\" </p>")
            .importance(Importance::High)
            .header("x-invoice", "42")
            .attach(Attachment::from_bytes("logo.png", vec![0u8, 255, 10]).inline("logo"));
        let body = send_mail_body(&m).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["message"]["subject"], "Invoice \"42\" \\ done");
        assert_eq!(v["message"]["body"]["contentType"], "html");
        assert_eq!(
            v["message"]["toRecipients"][0]["emailAddress"]["name"],
            "O'Brien \"Ops\""
        );
        assert_eq!(v["message"]["importance"], "high");
        assert_eq!(v["message"]["attachments"][0]["contentBytes"], "AP8K");
        assert_eq!(v["message"]["attachments"][0]["contentType"], "image/png");
        assert_eq!(v["message"]["attachments"][0]["isInline"], true);
        assert_eq!(v["message"]["attachments"][0]["contentId"], "logo");
        assert_eq!(
            v["message"]["internetMessageHeaders"][0]["name"],
            "x-invoice"
        );
        assert_eq!(v["saveToSentItems"], true);
        assert!(v["message"].get("ccRecipients").is_none());
    }

    #[test]
    fn over_four_megabytes_is_refused_with_the_upload_session_hint() {
        let big = Attachment::from_bytes("big.bin", vec![0u8; 3_200_000]);
        let e = send_mail_body(
            &Message::new("erp@contoso.test")
                .to("a@example.com")
                .attach(big),
        )
        .unwrap_err();
        assert_eq!(e.field(), Some("attachments"));
        assert!(e.hint().unwrap().contains("upload sessions"));
        let fits = Attachment::from_bytes("ok.bin", vec![0u8; 2_900_000]);
        send_mail_body(
            &Message::new("erp@contoso.test")
                .to("a@example.com")
                .attach(fits),
        )
        .unwrap();
    }
}
