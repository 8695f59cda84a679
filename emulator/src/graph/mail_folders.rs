//! Listing a mailbox's messages: `GET /users/{id}/messages` (Inbox, Sent
//! Items and Drafts together) and `GET /users/{id}/mailFolders/{folder}/messages`
//! for `inbox`, `sentitems` and `drafts`, with the query options of
//! `odata_query.rs` and `@odata.nextLink` paging as Graph pages.
//!
//! As Graph: one of `Mail.ReadBasic.All`, `Mail.Read` or `Mail.ReadWrite`
//! (403 `ErrorAccessDenied` without), the access policy applies, and
//! `Mail.ReadBasic.All` alone gets no `body`, `bodyPreview` or
//! `uniqueBody`. A sent mail's copy appears only `sent_items_lag_ms` after
//! the send (Exchange saves it after transport), and not at all when the
//! send said `saveToSentItems: false`. This is also how a client checks
//! whether an ambiguous send went out.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::access::MailboxAccess;
use super::graph_error::{GraphRequestIds, graph_error};
use super::mailbox_view::{Folder, MailItem, mailbox_items};
use super::odata_query::{Query, QueryError};
use super::request::{Answer, GraphRequest};
use crate::state::Shared;

/// The application permissions that may read message properties, least first.
pub(super) const READ_ROLES: &[&str] = &["Mail.ReadBasic.All", "Mail.Read", "Mail.ReadWrite"];
/// The ones that may also read bodies, attachments and MIME.
pub(super) const BODY_ROLES: &[&str] = &["Mail.Read", "Mail.ReadWrite"];
/// Properties `Mail.ReadBasic.All` does not reach.
const BODY_PROPERTIES: &[&str] = &["body", "bodyPreview", "uniqueBody"];

/// A request's way into one mailbox's messages, after every check.
pub(super) struct Reading<'a> {
    pub access: MailboxAccess<'a>,
    /// The folder the URL names, if it names one.
    pub folder: Option<Folder>,
}

impl Reading<'_> {
    /// Token, role, mailbox, throttle, policy, then the folder.
    pub fn open<'a>(
        request: &'a GraphRequest,
        user_id: &str,
        folder: Option<&str>,
        roles: &[&str],
    ) -> Result<Reading<'a>, Response> {
        let ids = &request.ids;
        let access = request.open_mailbox(user_id, roles)?;
        access.check_policy(ids)?;
        let folder = match folder {
            None => None,
            Some(name) => Some(Folder::find(name, &access.mailbox.address).ok_or_else(|| {
                graph_error(
                    StatusCode::NOT_FOUND,
                    "ErrorItemNotFound",
                    &format!("The specified folder '{name}' could not be found in the store."),
                    ids,
                )
            })?),
        };
        Ok(Reading { access, folder })
    }

    /// The messages in the URL's folder (or the whole mailbox).
    pub fn items(&self, shared: &Shared) -> Vec<MailItem> {
        let mut items = mailbox_items(shared, &self.access.mailbox.address);
        if let Some(folder) = self.folder {
            items.retain(|item| item.folder == folder);
        }
        items
    }

    pub fn reads_bodies(&self) -> bool {
        self.access
            .caller
            .roles()
            .iter()
            .any(|r| BODY_ROLES.iter().any(|b| r.eq_ignore_ascii_case(b)))
    }

    /// The resource as this caller may see it.
    pub fn visible(&self, mut resource: Map<String, Value>) -> Map<String, Value> {
        if !self.reads_bodies() {
            for key in BODY_PROPERTIES {
                resource.remove(*key);
            }
        }
        resource
    }
}

pub(super) fn query_refused(error: QueryError, ids: &GraphRequestIds) -> Response {
    graph_error(StatusCode::BAD_REQUEST, error.code, &error.message, ids)
}

/// `GET .../messages`: one page, newest received first unless `$orderby`
/// says otherwise, with `@odata.nextLink` while more remain.
pub(super) fn list(request: &GraphRequest, user_id: &str, folder: Option<&str>) -> Answer {
    let (shared, ids) = (&*request.shared, &request.ids);
    let (path, query) = (request.uri.path(), request.query());
    let reading = Reading::open(request, user_id, folder, READ_ROLES)?;
    let options = Query::parse(query).map_err(|error| query_refused(error, ids))?;
    let mut matching: Vec<Value> = reading
        .items(shared)
        .into_iter()
        .map(|item| Value::Object(item.resource))
        .filter(|resource| options.matches(resource))
        .collect();
    options.sort(&mut matching);
    let total = matching.len();
    let value: Vec<Value> = matching
        .into_iter()
        .skip(options.skip)
        .take(options.top)
        .map(|resource| match resource {
            Value::Object(object) => options.project(reading.visible(object)),
            other => other,
        })
        .collect();
    let context = format!(
        "{}/v1.0/$metadata#users('{}')/messages",
        shared.origin, reading.access.mailbox.address
    );
    let mut answer = json!({ "@odata.context": context, "value": value });
    if options.count {
        answer["@odata.count"] = json!(total);
    }
    let next = options.skip.saturating_add(options.top);
    if next < total {
        answer["@odata.nextLink"] = json!(next_link(&shared.origin, path, query, next));
    }
    Ok((StatusCode::OK, Json(answer)).into_response())
}

/// The same request with `$skip` moved on.
fn next_link(origin: &str, path: &str, query: Option<&str>, skip: usize) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if !key.trim_start_matches('$').eq_ignore_ascii_case("skip") {
            serializer.append_pair(&key, &value);
        }
    }
    serializer.append_pair("$skip", &skip.to_string());
    // Graph writes `$` and spaces as `$` and `%20`; a `+` in a value is
    // `%2B` by now, and a `$` reads the same encoded or not.
    let query = serializer.finish().replace("%24", "$").replace('+', "%20");
    format!("{origin}{path}?{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_link_keeps_the_other_options_and_moves_skip() {
        let link = next_link(
            "http://e",
            "/v1.0/users/a@b/messages",
            Some("$top=2&$skip=2&$filter=subject%20eq%20'x'"),
            4,
        );
        assert_eq!(
            link,
            "http://e/v1.0/users/a@b/messages?$top=2&$filter=subject%20eq%20%27x%27&$skip=4"
        );
    }
}
