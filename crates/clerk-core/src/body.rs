//! The body type every request and response of the stack carries.

use std::convert::Infallible;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};

/// A fully buffered HTTP body.
///
/// Requests and responses of the Clerk stack are small JSON documents, so they are
/// kept in memory as [`Bytes`]: a retry resends the same body without copying it, and
/// the response can be decoded in one pass. `Body` implements [`http_body::Body`], so
/// any tower-http layer can wrap the stack.
///
/// `Debug` prints only the length: request bodies hold passwords and TOTP secrets.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Body {
    bytes: Bytes,
}

impl Body {
    /// An empty body.
    pub const fn empty() -> Self {
        Self {
            bytes: Bytes::new(),
        }
    }

    /// The bytes of the body.
    pub fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// Takes the bytes out of the body.
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the body has no bytes.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Body({} bytes)", self.bytes.len())
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Self { bytes }
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Self {
        Self {
            bytes: bytes.into(),
        }
    }
}

impl From<String> for Body {
    fn from(text: String) -> Self {
        Self { bytes: text.into() }
    }
}

impl From<&'static str> for Body {
    fn from(text: &'static str) -> Self {
        Self {
            bytes: Bytes::from_static(text.as_bytes()),
        }
    }
}

impl From<&'static [u8]> for Body {
    fn from(bytes: &'static [u8]) -> Self {
        Self {
            bytes: Bytes::from_static(bytes),
        }
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let bytes = std::mem::take(&mut self.get_mut().bytes);
        if bytes.is_empty() {
            Poll::Ready(None)
        } else {
            Poll::Ready(Some(Ok(Frame::data(bytes))))
        }
    }

    fn is_end_stream(&self) -> bool {
        self.bytes.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.bytes.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Body as _;

    #[test]
    fn yields_its_bytes_once_with_an_exact_size_hint() {
        let mut body = Body::from("{\"a\":1}");
        assert_eq!(body.size_hint().exact(), Some(7));
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let frame = match Pin::new(&mut body).poll_frame(&mut cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            other => panic!("expected a data frame, got {other:?}"),
        };
        assert_eq!(
            frame.into_data().ok(),
            Some(Bytes::from_static(b"{\"a\":1}"))
        );
        assert!(body.is_end_stream());
        assert!(matches!(
            Pin::new(&mut body).poll_frame(&mut cx),
            Poll::Ready(None)
        ));
    }

    #[test]
    fn debug_never_prints_content() {
        let body = Body::from("{\"password\":\"hunter22\"}");
        assert_eq!(format!("{body:?}"), "Body(23 bytes)");
    }
}
