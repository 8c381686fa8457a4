//! The demo's generated bodies: byte `i` is `i mod 251`, streamed without building them.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use sha2::{Digest, Sha256};

/// The pattern's period: a prime, so it never lines up with segment or buffer sizes.
const PERIOD: usize = 251;
/// Largest frame a body yields.
const CHUNK: usize = 64 * 1024;

/// Enough of the pattern that a `CHUNK` starting at any phase is one slice of it.
static CYCLE: LazyLock<Bytes> =
    LazyLock::new(|| (0..CHUNK + PERIOD).map(|i| (i % PERIOD) as u8).collect());

/// The `len` pattern bytes starting at `offset`, for `len <= CHUNK`: a slice, no copy.
fn slice(offset: u64, len: usize) -> Bytes {
    let phase = (offset % PERIOD as u64) as usize;
    CYCLE.slice(phase..phase + len)
}

/// A body of `len` pattern bytes, yielded in chunks with an exact size (so hyper sends
/// `Content-Length`).
#[derive(Debug, Clone)]
pub struct PatternBody {
    sent: u64,
    len: u64,
}

impl PatternBody {
    pub fn new(len: u64) -> PatternBody {
        PatternBody { sent: 0, len }
    }
}

impl Body for PatternBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let left = self.len - self.sent;
        if left == 0 {
            return Poll::Ready(None);
        }
        let n = left.min(CHUNK as u64) as usize;
        let data = slice(self.sent, n);
        self.sent += n as u64;
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.sent == self.len
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len - self.sent)
    }
}

/// SHA-256 of `repeats` copies of the `len`-byte pattern, as hex.
pub fn pattern_sha256(len: u64, repeats: u32) -> String {
    let mut hasher = Sha256::new();
    for _ in 0..repeats {
        let mut offset = 0;
        while offset < len {
            let n = (len - offset).min(CHUNK as u64) as usize;
            hasher.update(slice(offset, n));
            offset += n as u64;
        }
    }
    hex(&hasher.finalize())
}

/// Lowercase hex of a digest.
pub fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn body_is_the_pattern_in_order() {
        let len = 3 * CHUNK as u64 + 7;
        let body = PatternBody::new(len).collect().await.unwrap().to_bytes();
        assert_eq!(body.len() as u64, len);
        assert!(
            body.iter()
                .enumerate()
                .all(|(i, &b)| b == (i % PERIOD) as u8)
        );
        assert_eq!(pattern_sha256(len, 1), hex(&Sha256::digest(&body)));
    }

    #[test]
    fn hash_of_repeats_is_the_hash_of_the_concatenation() {
        let one: Vec<u8> = (0..1000).map(|i| (i % PERIOD) as u8).collect();
        let twice = [one.clone(), one].concat();
        assert_eq!(pattern_sha256(1000, 2), hex(&Sha256::digest(&twice)));
        // The empty body's hash is the well-known one.
        assert!(pattern_sha256(0, 1).starts_with("e3b0c442"));
    }
}
