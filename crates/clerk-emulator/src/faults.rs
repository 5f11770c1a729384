//! Fault injection state: per-request probabilities, a scripted queue and added latency.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::config::{FaultKind, FaultSpec, Latency};

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Answer this 5xx status with a Clerk error body.
    ServerError(u16),
    Reset,
    LostResponse,
    /// Spurious 429 with this `Retry-After`.
    TooManyRequests(u64),
    /// Held this long, then applied (whether or not the client is still there).
    SlowApply(Duration),
    /// Applied, then a 2xx body cut in half (`true`) or replaced by HTML (`false`).
    BadBody {
        truncated: bool,
    },
    /// Not applied; a 200 with `{"object":"total_count",…}` instead.
    WrongObject,
}

/// Request extension set for a `slow_apply`: the handler waits this long after
/// the rate limiter admitted the request (so the limiter sees it on arrival, as
/// Clerk's does) and before it applies it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ApplyAfter(pub(crate) Duration);

/// What a misrouted proxy might answer a `wrong_object` with.
pub(crate) const WRONG_OBJECT_BODY: &str = r#"{"object":"total_count","total_count":3}"#;

/// What a proxy in front of the API might answer a `bad_body` with instead of the body.
pub(crate) const PROXY_HTML: &str = "<html><head><title>502 Bad Gateway</title></head><body>upstream sent an invalid response</body></html>";

/// The body of a `bad_body`: the first half of `body`, or the proxy page.
pub(crate) fn bad_body(body: &[u8], truncated: bool) -> Vec<u8> {
    if truncated {
        body[..body.len() / 2].to_vec()
    } else {
        PROXY_HTML.as_bytes().to_vec()
    }
}

impl Fault {
    pub(crate) fn kind(self) -> FaultKind {
        match self {
            Self::ServerError(_) => FaultKind::ServerError,
            Self::Reset => FaultKind::Reset,
            Self::LostResponse => FaultKind::LostResponse,
            Self::TooManyRequests(_) => FaultKind::TooManyRequests,
            Self::SlowApply(_) => FaultKind::SlowApply,
            Self::BadBody { .. } => FaultKind::BadBody,
            Self::WrongObject => FaultKind::WrongObject,
        }
    }
}

/// One entry of the scripted queue (`{"kind":"5xx","status":503}`). `kind: "none"` lets one
/// request through untouched; `operation` restricts the entry to one operationId;
/// `delay_ms` is a `slow_apply`'s delay; `body: "truncated" | "html"` picks a `bad_body`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Scripted {
    pub(crate) kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) retry_after: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) operation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) delay_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) body: Option<String>,
}

impl Scripted {
    /// Checks the entry; `Ok(None)` is a scripted pass-through. `slow_apply` without
    /// `delay_ms` waits `default_delay`.
    pub(crate) fn to_fault(&self, default_delay: Duration) -> Result<Option<Fault>, String> {
        if self.kind == "none" {
            return Ok(None);
        }
        let kind: FaultKind = self.kind.parse().map_err(|e| format!("{e}"))?;
        Ok(Some(match kind {
            FaultKind::ServerError => {
                let status = self.status.unwrap_or(503);
                if !(500..=599).contains(&status) {
                    return Err(format!("status {status} is not a 5xx status"));
                }
                Fault::ServerError(status)
            }
            FaultKind::Reset => Fault::Reset,
            FaultKind::LostResponse => Fault::LostResponse,
            FaultKind::TooManyRequests => Fault::TooManyRequests(self.retry_after.unwrap_or(1)),
            FaultKind::SlowApply => {
                Fault::SlowApply(self.delay_ms.map_or(default_delay, Duration::from_millis))
            }
            FaultKind::BadBody => match self.body.as_deref() {
                None | Some("truncated") => Fault::BadBody { truncated: true },
                Some("html") => Fault::BadBody { truncated: false },
                Some(other) => {
                    return Err(format!(
                        "body {other:?}: expected \"truncated\" or \"html\""
                    ));
                }
            },
            FaultKind::WrongObject => Fault::WrongObject,
            // FaultKind is non_exhaustive for users of the crate, not inside it.
        }))
    }
}

#[derive(Debug, Default)]
struct Inner {
    spec: FaultSpec,
    queue: VecDeque<Scripted>,
    latency: Option<Latency>,
}

#[derive(Debug, Default)]
pub(crate) struct FaultState {
    /// Fast path: nothing configured, no lock taken.
    active: AtomicBool,
    inner: Mutex<Inner>,
}

impl FaultState {
    pub(crate) fn new(spec: FaultSpec, latency: Option<Latency>) -> Self {
        let s = Self::default();
        s.update(|i| {
            i.spec = spec;
            i.latency = latency;
        });
        s
    }

    fn update(&self, f: impl FnOnce(&mut Inner)) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut inner);
        let active = !inner.spec.is_none() || !inner.queue.is_empty() || inner.latency.is_some();
        self.active.store(active, Ordering::Release);
    }

    pub(crate) fn set_spec(&self, spec: FaultSpec) {
        self.update(|i| i.spec = spec);
    }

    pub(crate) fn set_latency(&self, latency: Option<Latency>) {
        self.update(|i| i.latency = latency);
    }

    pub(crate) fn push(&self, entries: Vec<Scripted>) {
        self.update(|i| i.queue.extend(entries));
    }

    pub(crate) fn clear(&self) {
        self.update(|i| *i = Inner::default());
    }

    pub(crate) fn spec(&self) -> FaultSpec {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).spec
    }

    pub(crate) fn describe(&self) -> (FaultSpec, Vec<Scripted>, Option<Latency>) {
        let i = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        (i.spec, i.queue.iter().cloned().collect(), i.latency)
    }

    /// Decides the latency and fault of one request to `operation`.
    pub(crate) fn decide(&self, operation: Option<&str>) -> (Option<Duration>, Option<Fault>) {
        if !self.active.load(Ordering::Acquire) {
            return (None, None);
        }
        let mut rng = rand::rng();
        let mut fault = None;
        let mut latency = None;
        self.update(|i| {
            if let Some(l) = i.latency {
                let ms = rng.random_range(l.min.as_millis()..=l.max.as_millis());
                latency = Some(Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX)));
            }
            let pos = i
                .queue
                .iter()
                .position(|s| s.operation.is_none() || s.operation.as_deref() == operation);
            if let Some(entry) = pos.and_then(|p| i.queue.remove(p)) {
                // Entries were validated when queued.
                fault = entry.to_fault(i.spec.slow_apply_delay()).ok().flatten();
                return;
            }
            fault = match i.spec.pick(rng.random::<f64>()) {
                Some(FaultKind::ServerError) => {
                    Some(Fault::ServerError([500, 502, 503][rng.random_range(0..3)]))
                }
                Some(FaultKind::Reset) => Some(Fault::Reset),
                Some(FaultKind::LostResponse) => Some(Fault::LostResponse),
                Some(FaultKind::TooManyRequests) => {
                    Some(Fault::TooManyRequests(rng.random_range(1..=3)))
                }
                Some(FaultKind::SlowApply) => Some(Fault::SlowApply(i.spec.slow_apply_delay())),
                Some(FaultKind::BadBody) => Some(Fault::BadBody {
                    truncated: rng.random(),
                }),
                Some(FaultKind::WrongObject) => Some(Fault::WrongObject),
                _ => None,
            };
        });
        (latency, fault)
    }
}
