//! What the layers leave in response extensions for the layers above them and
//! for you.
//!
//! Layers never import each other: one that wants to know what another did reads
//! the value it put on the response, the way tower-http's trace layer records
//! from the response. The values live here, in a module that is no layer, so a
//! stack can mix our layers with its own (a layer of yours may insert a
//! [`RateLimitWait`] and the trace layer records it).

use std::time::Duration;

/// How long a request waited in the rate limiter before it was sent (its user's
/// limit, the 429 cooldown and the instance quota). Inserted into the extensions
/// of every response that passed a [`RateLimit`](crate::rate_limit::RateLimit)
/// service; the trace layer records it as `rate_limit.wait_ms`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RateLimitWait(pub Duration);
