//! One message of a mailbox: `GET .../messages/{id}` (its properties, with
//! `$select`), `.../attachments`, `.../attachments/{id}`,
//! `.../attachments/{id}/$value` (the bytes) and `.../$value` (MIME), each
//! also under `/mailFolders/{folder}`. Properties need a read role; bodies,
//! attachments and MIME need `Mail.Read` or `Mail.ReadWrite`, as on Graph.

use axum::Json;
use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::drafts::item_not_found;
use super::graph_error::GraphRequestIds;
use super::mail_folders::{BODY_ROLES, READ_ROLES, Reading, query_refused};
use super::mailbox_view::MailItem;
use super::message_mime::render;
use super::odata_query::Query;
use super::request::{Answer, GraphRequest};
use crate::drafts::Attachment;

/// What a route under `.../messages/{id}` asks for.
pub(super) enum Part<'a> {
    Properties,
    Mime,
    Attachments,
    Attachment(&'a str),
    AttachmentBytes(&'a str),
}

/// Where the message is: the mailbox, the folder the URL names, its id.
pub(super) struct Target<'a> {
    pub user_id: &'a str,
    pub folder: Option<&'a str>,
    pub message_id: &'a str,
}

pub(super) fn read(request: &GraphRequest, target: &Target<'_>, part: Part<'_>) -> Answer {
    let (shared, ids) = (&*request.shared, &request.ids);
    let roles = match part {
        Part::Properties => READ_ROLES,
        _ => BODY_ROLES,
    };
    let reading = Reading::open(request, target.user_id, target.folder, roles)?;
    let item = reading
        .items(shared)
        .into_iter()
        .find(|item| item.id == target.message_id)
        .ok_or_else(|| item_not_found(ids))?;
    let mailbox = &reading.access.mailbox.address;
    let message_context = format!(
        "{}/v1.0/$metadata#users('{mailbox}')/messages('{}')",
        shared.origin, item.id
    );
    let attachments = match part {
        Part::Properties => Vec::new(),
        _ => item.attachments(),
    };
    let answer = match part {
        Part::Properties => {
            let options =
                Query::parse(request.query()).map_err(|error| query_refused(error, ids))?;
            let mut resource = reading.visible(item.resource);
            resource.insert(
                "@odata.context".into(),
                json!(format!(
                    "{}/v1.0/$metadata#users('{mailbox}')/messages/$entity",
                    shared.origin
                )),
            );
            Json(options.project(resource)).into_response()
        }
        Part::Mime => {
            let mime = mime_of(&item, &attachments);
            with_content_type(mime.into_bytes(), "text/plain")
        }
        Part::Attachments => Json(json!({
            "@odata.context": format!("{message_context}/attachments"),
            "value": attachments.iter().map(|a| a.to_json()).collect::<Vec<Value>>(),
        }))
        .into_response(),
        Part::Attachment(wanted) => {
            let a = find_attachment(&attachments, wanted, ids)?;
            let mut answer = a.to_json();
            answer["@odata.context"] = json!(format!("{message_context}/attachments/$entity"));
            Json(answer).into_response()
        }
        Part::AttachmentBytes(wanted) => {
            let a = find_attachment(&attachments, wanted, ids)?;
            with_content_type(a.bytes.to_vec(), &a.content_type)
        }
    };
    Ok(answer)
}

fn find_attachment<'a>(
    attachments: &'a [Attachment],
    id: &str,
    ids: &GraphRequestIds,
) -> Result<&'a Attachment, Response> {
    attachments
        .iter()
        .find(|a| a.id == id)
        .ok_or_else(|| item_not_found(ids))
}

/// The MIME as received for a MIME send; otherwise the message written out.
fn mime_of(item: &MailItem, attachments: &[Attachment]) -> String {
    match &item.mime {
        Some(mime) => mime.clone(),
        None => render(&item.resource, attachments, &item.id),
    }
}

fn with_content_type(bytes: Vec<u8>, content_type: &str) -> Response {
    let value = HeaderValue::from_str(content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let mut response = Body::from(bytes).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, value);
    response
}
