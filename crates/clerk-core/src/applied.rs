//! The one rule for "may this request have been applied by the server?".
//!
//! The retry layer (may it resend?), [`Clerk::execute`] (is a failed create
//! [`Error::is_outcome_unknown`]?) and the importer (look the record up, or create
//! it again?) all ask this question about a failed attempt; they ask it here.
//!
//! | what came back | [`Applied`] |
//! |---|---|
//! | no connection could be made; the client held the request back; the request could not be built | [`Applied::No`] |
//! | `429` | [`Applied::No`] |
//! | another `4xx` | [`Applied::Refused`] |
//! | a `2xx` whose body could not be decoded, or was not the object the operation returns | [`Applied::Yes`] |
//! | a reset or close after sending, a timeout, a body over the size cap, a `5xx`, any other status | [`Applied::Maybe`] |
//!
//! [`Clerk::execute`]: https://docs.rs/clerk-tower/latest/clerk_tower/struct.Clerk.html#method.execute
//!
//! ```
//! use clerk_core::{Applied, Error};
//! use http::StatusCode;
//!
//! assert_eq!(Applied::of_status(StatusCode::BAD_GATEWAY), Applied::Maybe);
//! assert_eq!(Applied::of_status(StatusCode::TOO_MANY_REQUESTS), Applied::No);
//! assert!(Error::timeout(std::time::Duration::from_secs(10)).applied().may_have());
//! assert!(!Error::connect("refused").applied().may_have());
//! ```

use http::StatusCode;

use crate::Error;

/// Whether the server may have applied a request that did not succeed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Applied {
    /// Provably not applied: nothing reached the server, or it refused the request
    /// before acting on it (`429`). Safe to send again.
    No,
    /// The server answered that it did not apply it (a `4xx` other than `429`):
    /// sending it again gets the same answer.
    Refused,
    /// It may have been applied: the answer was lost, late or a server error.
    Maybe,
    /// It was applied: a `2xx` came back, but its body was unreadable.
    Yes,
}

impl Applied {
    /// The rule for a response status.
    pub fn of_status(status: StatusCode) -> Self {
        if status.is_success() {
            Self::Yes
        } else if status == StatusCode::TOO_MANY_REQUESTS {
            Self::No
        } else if status.is_client_error() {
            Self::Refused
        } else {
            Self::Maybe
        }
    }

    /// The rule for a failed call or attempt.
    pub fn of_error(err: &Error) -> Self {
        if err.is_outcome_unknown() {
            Self::Maybe
        } else if err.is_connect() || err.is_invalid_request() || err.is_rate_limited() {
            Self::No
        } else if err.is_decode() {
            // Decode errors only come from success bodies.
            Self::Yes
        } else if err.is_status() {
            err.status().map_or(Self::Maybe, Self::of_status)
        } else {
            // Reset after sending, timeout, body over the cap.
            Self::Maybe
        }
    }

    /// [`Applied::Maybe`] or [`Applied::Yes`]: the server's state must be checked
    /// before a non-idempotent request is sent again.
    pub fn may_have(self) -> bool {
        matches!(self, Self::Maybe | Self::Yes)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn every_kind_of_failure_has_one_answer() {
        let headers = http::HeaderMap::new();
        let status = |s: u16| Error::from_parts(StatusCode::from_u16(s).unwrap(), &headers, b"");
        assert_eq!(Error::connect("refused").applied(), Applied::No);
        assert_eq!(
            Error::rate_limited(Duration::from_secs(9)).applied(),
            Applied::No
        );
        assert_eq!(Error::invalid_request("bad").applied(), Applied::No);
        assert_eq!(status(429).applied(), Applied::No);
        assert_eq!(status(422).applied(), Applied::Refused);
        assert_eq!(status(404).applied(), Applied::Refused);
        for s in [500, 501, 502, 503, 504, 599] {
            assert_eq!(status(s).applied(), Applied::Maybe, "{s}");
        }
        assert_eq!(Error::transport("reset").applied(), Applied::Maybe);
        assert_eq!(
            Error::timeout(Duration::from_secs(1)).applied(),
            Applied::Maybe
        );
        assert_eq!(Error::body_too_large(10).applied(), Applied::Maybe);
        assert_eq!(
            Error::decode("truncated", b"{\"id\":").applied(),
            Applied::Yes
        );
        assert_eq!(
            Error::connect("x").into_outcome_unknown().applied(),
            Applied::Maybe
        );
    }
}
