//! Bodies on both sides of the proxy, and the request replay buffer: a request body up to the limit is kept
//! so the request can be sent again with the proof of payment; a larger one streams through untouched.

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use http_body_util::{BodyExt, BodyStream, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Body, Frame, Incoming};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Every body Purser sends, to agents and to upstreams.
pub type ProxyBody = BoxBody<Bytes, BoxError>;

pub fn full(bytes: impl Into<Bytes>) -> ProxyBody {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed()
}

pub fn empty() -> ProxyBody {
    full(Bytes::new())
}

pub fn stream(body: Incoming) -> ProxyBody {
    body.map_err(|e| Box::new(e) as BoxError).boxed()
}

/// A request body as read for forwarding.
pub enum RequestBody {
    /// Kept whole: it can be sent again after paying.
    Replayable(Bytes),
    /// Larger than the buffer limit: sent once, as it arrives.
    Streaming(ProxyBody),
}

impl RequestBody {
    pub fn is_replayable(&self) -> bool {
        matches!(self, RequestBody::Replayable(_))
    }
}

/// Reads a request body into memory up to `limit` bytes; past that, the part read so far and the rest are
/// chained into one stream. A declared `Content-Length` over the limit skips buffering altogether.
pub async fn buffer(body: Incoming, limit: usize) -> Result<RequestBody, hyper::Error> {
    if body.size_hint().lower() as usize > limit {
        return Ok(RequestBody::Streaming(stream(body)));
    }
    let (head, rest) = read_bounded(body, limit).await?;
    Ok(match rest {
        None => RequestBody::Replayable(head),
        Some(rest) => RequestBody::Streaming(chain(head, rest)),
    })
}

/// Reads up to `limit` bytes. Returns what was read and, when the body is longer, the unread rest.
pub async fn read_bounded(mut body: Incoming, limit: usize) -> Result<(Bytes, Option<Incoming>), hyper::Error> {
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            buf.extend_from_slice(&data);
            if buf.len() > limit {
                return Ok((buf.freeze(), Some(body)));
            }
        }
    }
    Ok((buf.freeze(), None))
}

/// The bytes already read followed by the rest of the body, as one stream.
pub fn chain(head: Bytes, rest: Incoming) -> ProxyBody {
    let first = futures_util::stream::once(async move { Ok::<_, BoxError>(Frame::data(head)) });
    let tail = BodyStream::new(rest).map(|f| f.map_err(|e| Box::new(e) as BoxError));
    BodyExt::boxed(StreamBody::new(first.chain(tail)))
}
