//! Retries that are safe for Clerk: the right failures, only when resending
//! cannot duplicate a write, with bounded delays and a shared budget.
//!
//! [`RetryLayer`] builds [`Retry`] services with a [`RetryPolicy`]: tower's retry
//! loop (its policies work unchanged), except that the inner service is cloned
//! only when a call is actually retried, not on every call.
//!
//! # What is retried
//!
//! | failure | idempotent call | `POST /users` (create) |
//! |---|---|---|
//! | 429 | retried | retried (Clerk refused it: nothing was created) |
//! | connect error (no connection was made) | retried | retried (nothing was sent) |
//! | 500, 502, 503, 504 | retried | **not retried**: `Err`, [`Error::is_outcome_unknown`] |
//! | reset after sending, other transport error | retried | **not retried**: `Err`, outcome unknown |
//! | per-attempt timeout | retried | **not retried**: `Err`, outcome unknown |
//! | any other status (2xx, 3xx, other 4xx, 501, …) | returned as is | returned as is |
//! | decode, body too large, invalid request | returned as is | returned as is |
//!
//! # A delete whose answer was lost
//!
//! A `DELETE /users/{user_id}` applied by the server whose answer is lost (reset,
//! timeout, 502 from a proxy) is retried, and the resend gets `404`. For the
//! operations that remove one thing by id ([`OperationInfo::removes_one_by_id`]:
//! the user, passkey, web3 wallet and external account deletes, the trusted-device
//! revoke), a `404` to a resend after an attempt that may have been applied means
//! the earlier attempt did it ([`Applied::of_resend`]). The policy returns that
//! `404` as it came (it does not invent a body the server never sent) with
//! [`AppliedEarlier`] in its extensions, or marks a `404` error
//! [`Error::into_applied_earlier`]; [`Error::from_response`] of it has
//! [`Error::is_applied_earlier`]. `clerk-tower`'s `Clerk` turns it into the
//! [`DeletedObject`] the lost answer would have been, marked
//! [`DeletedObject::applied_earlier`]. A `404` to a first attempt, or after
//! attempts that provably did nothing (a connect error, a 429), is a plain
//! not-found.
//!
//! Whether a call is idempotent comes from [`OperationInfo::retry_class`]
//! (`RetryClass::NotIdempotent` for `POST /users`; reads, deletes, updates,
//! ban/unban/lock/unlock, verifications and bulk ban/unban are idempotent); a
//! request without it is classified by method and path. After an ambiguous
//! failure of a create, the policy turns the result into an `Err` marked
//! outcome-unknown (a 5xx response becomes [`Error::from_response`] of it), so the
//! caller looks the user up (by `external_id` or e-mail) instead of creating a
//! duplicate.
//!
//! # Delays
//!
//! `Retry-After` when the server sent one; a `Retry-After` above
//! [`RetryPolicy::with_max_retry_after`] (30 s by default) stops at once with
//! [`Error::rate_limited`] carrying the wait ([`Error::retry_after`]). Otherwise
//! the [`DelaySchedule`] (exponential with jitter, [`ExponentialJitter`] on the
//! `backoff` crate by default, [`TowerBackoff`] on tower's own backoff as the
//! alternative) capped by [`RetryPolicy::with_max_delay`] (10 s). Sleeps use
//! `tokio::time`, so paused-time tests control them. Each wait for a server's
//! `Retry-After` is logged as an `INFO` event of target `clerk_layers::retry`
//! (fields `operation`, `status`, `retry_after_s`, `attempt`): the call stalls
//! for as long as the server said, and the log says why.
//!
//! The `backoff` crate is flagged unmaintained (RUSTSEC-2025-0012; its dependency
//! `instant` is RUSTSEC-2024-0384). It is used only to compute delays, behind
//! [`DelaySchedule`]; switch to [`TowerBackoff`] with
//! [`RetryPolicy::with_schedule`] for a dependency tree without it.
//!
//! # Bounds
//!
//! At most [`RetryPolicy::with_max_attempts`] attempts (4 by default, the first
//! included), and a [`RetryBudget`] shared by every clone (tower's `TpsBudget`:
//! by default retries may add 20 % to the call rate plus 10 per second), so an
//! outage does not multiply the load.
//!
//! Where it goes, and why: [the default stack](crate#the-default-stack).
//! Request bodies are [`clerk_core::Body`] (or any `Clone` body): a retry
//! resends the same bytes.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use clerk_core::{Body, Error};
//! use clerk_layers::retry::{RetryLayer, RetryPolicy};
//! use http::{Request, Response, StatusCode};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Error> {
//! let calls = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
//! let counter = calls.clone();
//! let service = ServiceBuilder::new()
//!     .layer(RetryLayer::new(RetryPolicy::new().with_max_delay(Duration::from_millis(5))))
//!     .service(service_fn(move |_req: Request<Body>| {
//!         let first = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
//!         async move {
//!             let status = if first { StatusCode::BAD_GATEWAY } else { StatusCode::OK };
//!             let mut response = Response::new(Body::empty());
//!             *response.status_mut() = status;
//!             Ok::<_, Error>(response)
//!         }
//!     }));
//!
//! let request = Request::get("http://127.0.0.1/v1/users/user_1").body(Body::empty()).unwrap();
//! let response = service.oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
//! # Ok(())
//! # }
//! ```
//!
//! [`OperationInfo::retry_class`]: clerk_core::OperationInfo::retry_class
//! [`OperationInfo::removes_one_by_id`]: clerk_core::OperationInfo::removes_one_by_id
//! [`Applied::of_resend`]: clerk_core::Applied::of_resend
//! [`AppliedEarlier`]: clerk_core::AppliedEarlier
//! [`Error::into_applied_earlier`]: clerk_core::Error::into_applied_earlier
//! [`Error::is_applied_earlier`]: clerk_core::Error::is_applied_earlier
//! [`DeletedObject`]: clerk_core::DeletedObject
//! [`DeletedObject::applied_earlier`]: clerk_core::DeletedObject::applied_earlier
//! [`Error::is_outcome_unknown`]: clerk_core::Error::is_outcome_unknown
//! [`Error::from_response`]: clerk_core::Error::from_response
//! [`Error::rate_limited`]: clerk_core::Error::rate_limited
//! [`Error::retry_after`]: clerk_core::Error::retry_after

mod policy;
mod schedule;
mod service;

pub use policy::{
    DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_DELAY, DEFAULT_MAX_RETRY_AFTER, RetryBudget, RetryPolicy,
};
pub use schedule::{DelaySchedule, ExponentialJitter, TowerBackoff};
pub use service::{ResponseFuture, Retry};

use tower_layer::Layer;

/// Retries requests according to a [`RetryPolicy`]: builds [`Retry`] services.
/// See the [module docs](self).
#[derive(Clone, Debug)]
pub struct RetryLayer<D = ExponentialJitter> {
    policy: RetryPolicy<D>,
}

impl<D: DelaySchedule> RetryLayer<D> {
    /// A layer retrying with `policy` (its budget is shared by every service built).
    pub fn new(policy: RetryPolicy<D>) -> Self {
        Self { policy }
    }

    /// The policy.
    pub fn policy(&self) -> &RetryPolicy<D> {
        &self.policy
    }
}

impl<S: Clone, D: DelaySchedule> Layer<S> for RetryLayer<D> {
    type Service = Retry<RetryPolicy<D>, S>;

    fn layer(&self, inner: S) -> Self::Service {
        Retry::new(self.policy.clone(), inner)
    }
}
