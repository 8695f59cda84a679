//! Reading request bodies with a size cap, without buffering what is over it.

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;

/// The outcome of reading a request body.
pub(crate) enum BodyRead {
    Complete(Bytes),
    /// Over the limit. The rest was read and thrown away (up to a hard cap),
    /// so the client sees our answer instead of a reset while still writing.
    TooLarge,
    /// The client went away or sent a broken body.
    Failed,
}

/// Past this many bytes we stop draining and let the connection close.
const DRAIN_CAP: usize = 64 * 1024 * 1024;

pub(crate) async fn read_limited(body: Body, limit: usize) -> BodyRead {
    let mut stream = body.into_data_stream();
    // A body that comes in one chunk (most do) is kept as it came, uncopied.
    let mut first = Bytes::new();
    let mut rest = BytesMut::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return BodyRead::Failed;
        };
        seen = seen.saturating_add(chunk.len());
        if seen > DRAIN_CAP {
            return BodyRead::TooLarge;
        }
        if seen > limit {
            continue;
        }
        if seen == chunk.len() {
            first = chunk;
        } else {
            if rest.is_empty() {
                rest.extend_from_slice(&first);
            }
            rest.extend_from_slice(&chunk);
        }
    }
    if seen > limit {
        BodyRead::TooLarge
    } else if rest.is_empty() {
        BodyRead::Complete(first)
    } else {
        BodyRead::Complete(rest.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunked(chunks: &[&'static [u8]]) -> Body {
        let chunks: Vec<Result<Bytes, std::io::Error>> =
            chunks.iter().map(|c| Ok(Bytes::from_static(c))).collect();
        Body::from_stream(futures::stream::iter(chunks))
    }

    async fn read(chunks: &[&'static [u8]], limit: usize) -> Option<Vec<u8>> {
        match read_limited(chunked(chunks), limit).await {
            BodyRead::Complete(bytes) => Some(bytes.to_vec()),
            BodyRead::TooLarge => None,
            BodyRead::Failed => panic!("a well-formed body failed"),
        }
    }

    #[tokio::test]
    async fn chunks_are_read_whole_and_in_order() {
        assert_eq!(read(&[b"{\"a\":1}"], 100).await.unwrap(), b"{\"a\":1}");
        assert_eq!(read(&[b"ab", b"cd", b"e"], 100).await.unwrap(), b"abcde");
        assert_eq!(read(&[b"", b"ab", b"", b"c"], 100).await.unwrap(), b"abc");
        assert_eq!(read(&[b"ab", b""], 100).await.unwrap(), b"ab");
        assert_eq!(read(&[], 100).await.unwrap(), b"");
        assert_eq!(read(&[b"abc", b"de"], 5).await.unwrap(), b"abcde");
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused() {
        assert!(read(&[b"abc", b"def"], 5).await.is_none());
        assert!(read(&[b"abcdef"], 5).await.is_none());
    }
}
