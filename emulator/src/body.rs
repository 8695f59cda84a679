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
    let mut buffer = BytesMut::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return BodyRead::Failed;
        };
        seen = seen.saturating_add(chunk.len());
        if seen > DRAIN_CAP {
            return BodyRead::TooLarge;
        }
        if seen <= limit {
            buffer.extend_from_slice(&chunk);
        }
    }
    if seen > limit {
        BodyRead::TooLarge
    } else {
        BodyRead::Complete(buffer.freeze())
    }
}
