//! One attachment through a Graph upload session: the session is created on
//! the draft, then the file goes up in chunks with `Content-Range`, read from
//! its source one chunk at a time. Re-sending a chunk cannot send mail, so a
//! failed chunk is retried, from where the service says it stands
//! (`nextExpectedRanges`).
//!
//! The upload URL is pre-authenticated (it carries its own token), so it is
//! treated as a secret: never logged, never in an error, and it gets no
//! Authorization header.

use bytes::Bytes;
use reqwest::header::{CONTENT_RANGE, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde::Deserialize;

use crate::client::{Body, GraphClient};
use crate::error::{Error, ErrorKind, Result};
use crate::graph_error::graph_error;
use crate::http;
use crate::loopback;
use crate::message::Attachment;
use crate::message_limits::UPLOAD_CHUNK_BYTES;
use crate::offload;
use crate::retry::{Attempts, retry_after};
use crate::secret::Secret;
use crate::wire;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Session {
    #[serde(default)]
    upload_url: String,
    #[serde(default)]
    next_expected_ranges: Vec<String>,
}

/// Uploads `attachment` onto the draft at `draft` (`/messages/{id}`),
/// calling `report` with the bytes the service holds after each chunk.
pub(crate) async fn upload(
    client: &GraphClient,
    sender: &str,
    draft: &str,
    attachment: &Attachment,
    report: &mut (dyn FnMut(u64) + Send),
) -> Result<()> {
    let created = client
        .request(
            Method::POST,
            sender,
            &format!("{draft}/attachments/createUploadSession"),
            Body::json(wire::upload_session_body(attachment)?),
            false,
        )
        .await?;
    let session: Session = serde_json::from_slice(&created.body).map_err(|_| no_session())?;
    let url = checked_url(session.upload_url)?;
    let total = attachment.size();
    let mut offset = next_offset(&session.next_expected_ranges).unwrap_or(0);
    let mut retries = Attempts::new(&client.config.retry);
    loop {
        let len = (total.saturating_sub(offset)).min(UPLOAD_CHUNK_BYTES as u64) as usize;
        let content = attachment.content.clone();
        let chunk = offload::read(move || content.read_at(offset, len)).await?;
        let outcome = {
            let _slot = client.limiter.acquire(sender).await;
            put(client, &url, chunk, offset, total).await
        };
        match outcome {
            Chunk::Complete => {
                report(total);
                tracing::debug!(sender, name = %attachment.name, total, "attachment uploaded");
                return Ok(());
            }
            Chunk::Accepted(next) => {
                offset = next.unwrap_or(offset + len as u64);
                retries.restart();
                report(offset.min(total));
            }
            Chunk::Failed { error, resume_at } => {
                let what = format!("upload chunk at byte {offset} failed; resuming");
                if let Err(error) = retries.wait_after(error, &what).await {
                    return Err(retries.gave_up(error, retries.failed()));
                }
                let resume_at = match resume_at {
                    Some(at) => Some(at),
                    None => status(client, &url).await,
                };
                offset = resume_at.unwrap_or(offset);
            }
            Chunk::Final(error) => return Err(error),
        }
        if offset > total {
            return Err(Error::new(
                ErrorKind::Service,
                format!("the upload session asked for byte {offset} of a {total}-byte file"),
            ));
        }
    }
}

enum Chunk {
    /// The chunk was taken; the service expects the next one here.
    Accepted(Option<u64>),
    /// The last chunk was taken: the attachment is on the draft.
    Complete,
    /// Worth another try, from `resume_at` if the service said.
    Failed {
        error: Error,
        resume_at: Option<u64>,
    },
    Final(Error),
}

async fn put(client: &GraphClient, url: &Secret, chunk: Bytes, offset: u64, total: u64) -> Chunk {
    let end = offset + chunk.len() as u64 - 1;
    let sent = client
        .connections
        .first()
        .put(url.expose())
        .header(CONTENT_RANGE, format!("bytes {offset}-{end}/{total}"))
        .header(CONTENT_TYPE, "application/octet-stream")
        .body(chunk)
        .send()
        .await;
    let response = match sent {
        Ok(r) => r,
        Err(e) => {
            let e = e.without_url();
            if http::is_untrusted_certificate(&e) {
                return Chunk::Final(http::certificate_error("the upload session's host", &e));
            }
            return Chunk::Failed {
                error: Error::new(
                    ErrorKind::Transient,
                    format!("an upload chunk failed: {}", http::describe(&e)),
                ),
                resume_at: None,
            };
        }
    };
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap_or_default();
    if status == StatusCode::CREATED {
        return Chunk::Complete;
    }
    if status.is_success() {
        return Chunk::Accepted(parse_ranges(&body));
    }
    let error = graph_error(status, &headers, &body)
        .with_retry_after(retry_after(&headers))
        .with_note(&format!("uploading bytes {offset}-{end} of {total}"));
    match status.as_u16() {
        // Out of step with the service: it says where it stands.
        416 => Chunk::Failed {
            resume_at: parse_ranges(&body),
            error,
        },
        429 | 500 | 502 | 503 | 504 => Chunk::Failed {
            error: transient(error),
            resume_at: None,
        },
        404 => Chunk::Final(
            error
                .with_kind(ErrorKind::Service)
                .with_note("the upload session is gone (expired or cancelled)")
                .with_hint("upload sessions last a limited time: send the message again"),
        ),
        _ => Chunk::Final(error),
    }
}

/// Where the session stands, asked after a chunk whose answer never came.
async fn status(client: &GraphClient, url: &Secret) -> Option<u64> {
    let response = client
        .connections
        .first()
        .get(url.expose())
        .send()
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    parse_ranges(&response.bytes().await.ok()?)
}

fn parse_ranges(body: &[u8]) -> Option<u64> {
    // Graph's createUploadSession answers camelCase; the upload host is
    // Outlook's and answers PascalCase (`NextExpectedRanges`).
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Ranges {
        #[serde(default, alias = "NextExpectedRanges")]
        next_expected_ranges: Vec<String>,
    }
    let ranges: Ranges = serde_json::from_slice(body).ok()?;
    next_offset(&ranges.next_expected_ranges)
}

/// The start of the first expected range: Outlook answers `"{start}"`,
/// OneDrive-style sessions `"{start}-"` or `"{start}-{end}"`.
fn next_offset(ranges: &[String]) -> Option<u64> {
    let first = ranges.first()?;
    first.split('-').next()?.trim().parse().ok()
}

/// A chunk is safe to send again, so a server error here is passing, not
/// ambiguous as it would be for `sendMail`.
fn transient(error: Error) -> Error {
    if error.kind() == ErrorKind::AmbiguousDelivery {
        return error.with_kind(ErrorKind::Transient);
    }
    error
}

fn no_session() -> Error {
    Error::new(
        ErrorKind::Service,
        "Graph answered createUploadSession without an upload URL",
    )
}

/// The upload URL must be HTTPS (plain HTTP only to a loopback address, the
/// emulator): it carries its own credential.
fn checked_url(url: String) -> Result<Secret> {
    let parsed = url::Url::parse(&url).map_err(|_| no_session())?;
    if !loopback::transport_allowed(&parsed) {
        return Err(Error::new(
            ErrorKind::Service,
            "Graph gave an upload URL that is not HTTPS; refusing to send the attachment over it",
        ));
    }
    Ok(Secret::new(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_in_outlook_and_onedrive_forms() {
        assert_eq!(next_offset(&["0-".into()]), Some(0));
        assert_eq!(next_offset(&["3932160".into()]), Some(3_932_160));
        assert_eq!(next_offset(&["10-20".into(), "30-".into()]), Some(10));
        assert_eq!(next_offset(&[]), None);
        assert_eq!(
            parse_ranges(br#"{"expirationDateTime":"x","nextExpectedRanges":["42"]}"#),
            Some(42)
        );
        assert_eq!(
            parse_ranges(br#"{"ExpirationDateTime":"x","NextExpectedRanges":["42"]}"#),
            Some(42)
        );
    }

    #[test]
    fn upload_urls_must_be_https_except_on_loopback() {
        assert!(checked_url("https://outlook.office.com/api/v2.0/x?authtoken=a".into()).is_ok());
        assert!(checked_url("http://127.0.0.1:9/upload?authtoken=a".into()).is_ok());
        assert!(checked_url("http://outlook.example.com/upload?authtoken=a".into()).is_err());
        let e = checked_url("ftp://x/y?authtoken=secret".into()).unwrap_err();
        assert!(!e.message().contains("secret"));
    }
}
