//! Bounds on what one connection may hold: the time to read a request body
//! ([`ReadDeadline`]), and log lines that say what was cut or refused once per burst
//! ([`BurstLog`]) instead of once per connection. The connection cap itself is the accept
//! loop's semaphore in [`crate::server`].

use std::error::Error as StdError;
use std::fmt;
use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};

/// How long a burst of cut or refused connections is summarised in one log line.
const BURST: Duration = Duration::from_secs(10);

/// The error a body gives when its deadline passed; the connection service answers 408.
#[derive(Debug)]
pub(crate) struct BodyTimedOut;

impl fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("request body not received in time")
    }
}

impl StdError for BodyTimedOut {}

/// A request body that must arrive in full within `timeout` of the server starting to read
/// it. The clock starts at the first read, not at arrival: a request held on purpose
/// (`slow_apply`) has already been sent in full and must not be cut.
pub(crate) struct ReadDeadline {
    inner: Incoming,
    timeout: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    timed_out: Arc<AtomicBool>,
}

impl ReadDeadline {
    /// `timed_out` is set when the deadline cuts the body.
    pub(crate) fn new(inner: Incoming, timeout: Duration, timed_out: Arc<AtomicBool>) -> Self {
        Self {
            inner,
            timeout,
            sleep: None,
            timed_out,
        }
    }
}

impl Body for ReadDeadline {
    type Data = Bytes;
    type Error = Box<dyn StdError + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|r| r.map_err(Into::into)));
        }
        let timeout = this.timeout;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                this.timed_out.store(true, Ordering::Relaxed);
                Poll::Ready(Some(Err(Box::new(BodyTimedOut))))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Decides when a repeated event gets a log line: the first of a burst at once, then at most
/// one line per [`BURST`] saying how many happened since the last line.
#[derive(Debug, Default)]
pub(crate) struct BurstLog {
    state: Mutex<(Option<Instant>, u64)>,
}

impl BurstLog {
    /// Counts one event; `Some(n)` when a line should be written now, `n` events (this one
    /// included) since the last line.
    pub(crate) fn hit(&self, now: Instant) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (last, count) = &mut *state;
        *count += 1;
        match *last {
            Some(at) if now.saturating_duration_since(at) < BURST => None,
            _ => {
                *last = Some(now);
                Some(std::mem::take(count))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_gets_one_line_then_a_count() {
        let log = BurstLog::default();
        let t0 = Instant::now();
        assert_eq!(log.hit(t0), Some(1));
        for i in 1..1100 {
            assert_eq!(log.hit(t0 + Duration::from_millis(i)), None);
        }
        assert_eq!(log.hit(t0 + BURST), Some(1100));
        assert_eq!(log.hit(t0 + BURST + BURST), Some(1));
    }
}
