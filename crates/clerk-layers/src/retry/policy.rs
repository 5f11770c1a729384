//! The retry policy: classify, check idempotency, pick a delay, respect the budget.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use clerk_core::{Applied, AppliedEarlier, Body, Error, OperationInfo, RetryClass, retry_after};
use http::{Request, Response, StatusCode};
use tower::retry::Policy;
use tower::retry::budget::{Budget, TpsBudget};

use super::{DelaySchedule, ExponentialJitter};

/// Default number of attempts per call, the first one included.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 4;
/// Default cap on one computed delay.
pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(10);
/// Default longest `Retry-After` the policy waits for; a longer one fails fast.
pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// A retry budget shared by every clone of a policy: retries may add at most a
/// fraction of the call rate (plus a small floor), so an outage does not
/// multiply the load on Clerk. Wraps tower's `TpsBudget` in an `Arc`.
#[derive(Clone)]
pub struct RetryBudget {
    budget: Arc<TpsBudget>,
}

impl RetryBudget {
    /// Over the last `ttl` (1 s to 60 s), allow `retry_percent` retries per call
    /// (0.2 = one retry per five calls; up to 1000) plus `min_per_sec` retries per
    /// second regardless of traffic.
    pub fn new(ttl: Duration, min_per_sec: u32, retry_percent: f32) -> Result<Self, Error> {
        if !(Duration::from_secs(1)..=Duration::from_secs(60)).contains(&ttl) {
            return Err(Error::invalid_request(
                "retry budget ttl must be between 1 s and 60 s",
            ));
        }
        if !(0.0..=1000.0).contains(&retry_percent) {
            return Err(Error::invalid_request(
                "retry budget percentage must be between 0 and 1000",
            ));
        }
        if min_per_sec >= i32::MAX as u32 {
            return Err(Error::invalid_request("retry budget floor is too large"));
        }
        Ok(Self {
            budget: Arc::new(TpsBudget::new(ttl, min_per_sec, retry_percent)),
        })
    }

    fn deposit(&self) {
        self.budget.deposit();
    }

    fn withdraw(&self) -> bool {
        self.budget.withdraw()
    }
}

impl Default for RetryBudget {
    /// 20 % of the calls over 10 s, plus 10 retries per second.
    fn default() -> Self {
        Self {
            budget: Arc::new(TpsBudget::new(Duration::from_secs(10), 10, 0.2)),
        }
    }
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RetryBudget").field(&self.budget).finish()
    }
}

/// What went wrong with an attempt, for the retry decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failure {
    /// Provably not sent: no connection was made.
    NotSent,
    /// Refused by the rate limit (429).
    RateLimited,
    /// May have been applied: reset after sending, a timeout, a 500/502/503/504.
    Ambiguous,
}

/// The retry policy for Clerk requests, for [`Retry`](super::Retry) (through
/// [`RetryLayer`](super::RetryLayer)) or `tower::retry::Retry`. See the
/// [module docs](super) for the rules.
///
/// Per-call state (the attempt count, the schedule, whether an earlier attempt may
/// have been applied) lives in the copy tower makes for each call; the
/// [`RetryBudget`] is shared by all copies.
#[derive(Clone, Debug)]
pub struct RetryPolicy<D = ExponentialJitter> {
    max_attempts: u32,
    max_delay: Duration,
    max_retry_after: Duration,
    budget: RetryBudget,
    schedule: D,
    attempts: u32,
    /// [`Applied::Maybe`] once an attempt of this call may have been applied.
    earlier: Applied,
    /// The extensions of the request kept for a retry, when they were only its
    /// [`OperationInfo`] (a typed operation's): kept on their own, because a copy
    /// of an extension map costs three allocations, and put back by
    /// [`Policy::retry`] before the copy is looked at or resent.
    kept_info: Option<OperationInfo>,
}

impl RetryPolicy {
    /// The default policy: 4 attempts, [`ExponentialJitter::default`] delays
    /// capped at 10 s, `Retry-After` honoured up to 30 s, the default budget.
    pub fn new() -> Self {
        Self {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            max_delay: DEFAULT_MAX_DELAY,
            max_retry_after: DEFAULT_MAX_RETRY_AFTER,
            budget: RetryBudget::default(),
            schedule: ExponentialJitter::default(),
            attempts: 0,
            earlier: Applied::No,
            kept_info: None,
        }
    }

    /// A policy that never retries (one attempt).
    pub fn never() -> Self {
        Self::new().with_max_attempts(1)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::new()
    }
}

impl<D: DelaySchedule> RetryPolicy<D> {
    /// Attempts per call, the first included (at least 1; 1 disables retries).
    #[must_use]
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Cap on each delay computed by the schedule.
    #[must_use]
    pub fn with_max_delay(mut self, max_delay: Duration) -> Self {
        self.max_delay = max_delay;
        self
    }

    /// Longest `Retry-After` to wait for. A 429 asking for longer stops retrying
    /// at once with an error whose [`Error::retry_after`] tells the wait.
    #[must_use]
    pub fn with_max_retry_after(mut self, max_retry_after: Duration) -> Self {
        self.max_retry_after = max_retry_after;
        self
    }

    /// The shared retry budget (clone one budget into several policies to share it).
    #[must_use]
    pub fn with_budget(mut self, budget: RetryBudget) -> Self {
        self.budget = budget;
        self
    }

    /// Another delay schedule.
    pub fn with_schedule<D2: DelaySchedule>(self, schedule: D2) -> RetryPolicy<D2> {
        RetryPolicy {
            max_attempts: self.max_attempts,
            max_delay: self.max_delay,
            max_retry_after: self.max_retry_after,
            budget: self.budget,
            schedule,
            attempts: 0,
            earlier: Applied::No,
            kept_info: None,
        }
    }

    /// Attempts per call.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The shared budget.
    pub fn budget(&self) -> &RetryBudget {
        &self.budget
    }
}

fn is_retryable_server_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 500 | 502 | 503 | 504)
}

/// What a failed attempt was, by the one rule of [`Applied`]; `None` when it is not
/// retried at all (a success, another 4xx, a decode error, a 501, …).
fn classify(result: &Result<Response<Body>, Error>) -> Option<(Failure, Option<Duration>)> {
    let (applied, status, failed_in_transit) = match result {
        Ok(response) => (
            Applied::of_status(response.status()),
            Some(response.status()),
            false,
        ),
        // Already judged by an inner retry layer.
        Err(err) if err.is_outcome_unknown() => return None,
        Err(err) => (
            err.applied(),
            err.status(),
            err.is_transport() || err.is_timeout(),
        ),
    };
    let failure = match applied {
        _ if status == Some(StatusCode::TOO_MANY_REQUESTS) => Failure::RateLimited,
        Applied::No if matches!(result, Err(e) if e.is_connect()) => Failure::NotSent,
        Applied::No if matches!(result, Err(e) if e.is_rate_limited()) => Failure::RateLimited,
        Applied::Maybe if failed_in_transit || status.is_some_and(is_retryable_server_status) => {
            Failure::Ambiguous
        }
        _ => return None,
    };
    // Looked up only for a failure: a success is not searched for `Retry-After`.
    let wait = match result {
        Ok(response) => retry_after(response.headers()),
        Err(err) => err.retry_after(),
    };
    Some((failure, wait))
}

/// Marks a `404` to a resend that found the thing gone after an earlier attempt may
/// have removed it ([`Applied::of_resend`]): the response carries [`AppliedEarlier`],
/// an error [`Error::is_applied_earlier`].
fn mark_applied_earlier<B>(
    request: &Request<B>,
    earlier: Applied,
    result: &mut Result<Response<Body>, Error>,
) {
    let Some(status) = (match result {
        Ok(response) => Some(response.status()),
        Err(err) if err.is_not_found() => err.status(),
        Err(_) => None,
    }) else {
        return;
    };
    if status.is_success()
        || Applied::of_resend(&OperationInfo::of(request), earlier, status) != Applied::Yes
    {
        return;
    }
    match result {
        Ok(response) => {
            response.extensions_mut().insert(AppliedEarlier);
        }
        Err(err) => {
            let marked = std::mem::replace(err, Error::timeout(Duration::ZERO));
            *err = marked.into_applied_earlier();
        }
    }
}

/// Marks the result as "may have been applied".
fn into_outcome_unknown(result: &mut Result<Response<Body>, Error>) {
    let err = match result {
        Ok(response) => Error::from_response(response),
        Err(err) => std::mem::replace(err, Error::timeout(Duration::ZERO)),
    };
    *result = Err(err.into_outcome_unknown());
}

impl<B, D> Policy<Request<B>, Response<Body>, Error> for RetryPolicy<D>
where
    B: Clone,
    D: DelaySchedule,
{
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        request: &mut Request<B>,
        result: &mut Result<Response<Body>, Error>,
    ) -> Option<Self::Future> {
        let classified = classify(result);
        if classified.is_some() || self.attempts > 0 {
            // The kept copy is looked at (or resent) from here on: complete it.
            if let Some(info) = self.kept_info.take() {
                request.extensions_mut().insert(info);
            }
        }
        let Some((failure, wait)) = classified else {
            if self.attempts > 0 {
                mark_applied_earlier(request, self.earlier, result);
            }
            return None;
        };
        if failure == Failure::Ambiguous {
            self.earlier = Applied::Maybe;
        }
        let safe = match failure {
            Failure::NotSent | Failure::RateLimited => true,
            Failure::Ambiguous => OperationInfo::of(request).retry_class == RetryClass::Idempotent,
        };
        if !safe {
            // A create that may have gone through: resending could duplicate the
            // user, so hand the caller an error that says so and let it reconcile.
            into_outcome_unknown(result);
            return None;
        }
        // A server's `Retry-After` (on a 429 or a 503) is honoured up to the cap;
        // above it the call stops at once and the error tells the wait.
        let delay = match wait {
            Some(wait) if wait > self.max_retry_after => {
                if failure == Failure::RateLimited {
                    *result = Err(Error::rate_limited(wait));
                } else if let Ok(response) = result {
                    *result = Err(Error::from_response(response));
                }
                return None;
            }
            Some(wait) => wait,
            None => self.schedule.next_delay().min(self.max_delay),
        };
        if self.attempts + 1 >= self.max_attempts || !self.budget.withdraw() {
            return None;
        }
        self.attempts += 1;
        let status = match result {
            Ok(response) => Some(response.status()),
            Err(err) => err.status(),
        };
        if let (Some(wait), Some(status)) = (wait.filter(|w| !w.is_zero()), status) {
            // The server asked for the pause: say so, since the call stalls for
            // as long as it said (up to the cap) and nothing else shows why.
            let operation = OperationInfo::of(request).operation_id;
            tracing::info!(
                target: "clerk_layers::retry",
                operation,
                status = status.as_u16(),
                retry_after_s = wait.as_secs_f64(),
                attempt = self.attempts + 1,
                "waiting {} s (Retry-After) before resending {operation}: Clerk answered {}",
                wait.as_secs_f64(),
                status.as_u16(),
            );
        }
        // The replaced response is dropped here: its body is bytes already read,
        // so the connection was released when the transport finished it.
        Some(tokio::time::sleep(delay))
    }

    fn clone_request(&mut self, request: &Request<B>) -> Option<Request<B>> {
        if self.max_attempts <= 1 {
            return None;
        }
        if self.attempts == 0 {
            // Only first attempts earn budget; retries spend it.
            self.budget.deposit();
        }
        let mut clone = Request::new(request.body().clone());
        *clone.method_mut() = request.method().clone();
        *clone.uri_mut() = request.uri().clone();
        *clone.version_mut() = request.version();
        if !request.headers().is_empty() {
            *clone.headers_mut() = request.headers().clone();
        }
        let extensions = request.extensions();
        self.kept_info = match extensions.get::<OperationInfo>() {
            Some(info) if extensions.len() == 1 => Some(info.clone()),
            _ => {
                *clone.extensions_mut() = extensions.clone();
                None
            }
        };
        Some(clone)
    }
}
