//! Looks for a sent mail in the sender's Sent Items by its
//! `internetMessageId`: how the outbox learns whether an ambiguous send went
//! out. Needs the `Mail.ReadBasic.All` application permission (or
//! `Mail.Read`); without it Graph answers 403, which the caller takes as
//! "cannot check".

use reqwest::Method;
use serde::Deserialize;

use crate::client::Body;
use crate::error::{Error, ErrorKind, Result};
use crate::mailer::Mailer;

/// A copy found in Sent Items.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SentCopy {
    /// Graph's id of the copy.
    pub id: String,
    pub sent_at: Option<String>,
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    value: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    #[serde(default)]
    id: String,
    #[serde(default, rename = "sentDateTime")]
    sent_at: Option<String>,
}

/// The copy of the mail with this `Message-ID` in `sender`'s Sent Items, if
/// it is there yet.
pub(crate) async fn find(
    mailer: &Mailer,
    sender: &str,
    internet_message_id: &str,
) -> Result<Option<SentCopy>> {
    // OData quotes a quote by doubling it; the id is then URL-encoded whole
    // (its angle brackets must not reach the query raw).
    let filter = format!(
        "internetMessageId eq '{}'",
        internet_message_id.replace('\'', "''")
    );
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("$filter", &filter)
        .append_pair("$select", "id,internetMessageId,sentDateTime")
        .append_pair("$top", "1")
        .finish();
    let path = format!("/mailFolders('sentitems')/messages?{query}");
    let answer = mailer
        .client
        .request(Method::GET, sender, &path, Body::empty(), false)
        .await?;
    let page: Page = serde_json::from_slice(&answer.body).map_err(|e| {
        Error::new(
            ErrorKind::Service,
            format!("Graph's list of Sent Items could not be read: {e}"),
        )
    })?;
    Ok(page.value.into_iter().next().map(|item| SentCopy {
        id: item.id,
        sent_at: item.sent_at,
    }))
}
