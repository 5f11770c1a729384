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
//! | an error marked [`Error::is_applied_earlier`] (below) | [`Applied::Yes`] |
//!
//! # A resend that finds the thing gone
//!
//! An idempotent delete whose first attempt was applied but whose answer was lost
//! (a reset, a timeout, a 5xx from a proxy) is sent again and gets `404`: the
//! thing is gone because the first attempt removed it. [`Applied::of_resend`] is
//! the rule: for an operation that removes one thing by id
//! ([`OperationInfo::removes_one_by_id`]), a `404` to a resend after an attempt
//! that may have been applied is [`Applied::Yes`]. The retry layer, which alone
//! knows what the earlier attempts were, leaves [`AppliedEarlier`] on such a
//! response (or marks such an error); [`Error::from_response`] carries it into
//! [`Error::is_applied_earlier`]. A `404` to a first attempt, or to a resend after
//! attempts that provably did nothing (a connect error, a `429`), stays a plain
//! not-found error.
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

use crate::{Error, OperationInfo};

/// Response extension: this answer is a `404` to a resend, and an earlier attempt
/// of the same call, which removes one thing by id, may have been applied — so
/// the thing is gone because of this call ([`Applied::of_resend`]).
///
/// The retry layer inserts it; [`Error::from_response`] turns it into
/// [`Error::is_applied_earlier`]. A layer of your own that retries may insert it
/// too. It lives here, in clerk-core, so layers need not import each other.
///
/// ```
/// use clerk_core::{AppliedEarlier, Body, Error};
/// use http::{Response, StatusCode};
///
/// let mut response = Response::new(Body::empty());
/// *response.status_mut() = StatusCode::NOT_FOUND;
/// response.extensions_mut().insert(AppliedEarlier);
/// let err = Error::from_response(&response);
/// assert!(err.is_not_found() && err.is_applied_earlier());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AppliedEarlier;

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

    /// The rule for the answer `status` to a resend of the request `info`
    /// describes, after earlier attempts of the same call of which the most
    /// telling was `earlier` ([`Applied::Maybe`] or [`Applied::Yes`] if any of
    /// them may have been applied). A `404` to a resend of an operation that
    /// removes one thing by id ([`OperationInfo::removes_one_by_id`]) after an
    /// attempt that may have been applied is [`Applied::Yes`]: the earlier attempt
    /// removed it. Anything else is [`Applied::of_status`].
    ///
    /// ```
    /// use clerk_core::{Applied, OperationInfo};
    /// use http::{Method, StatusCode};
    ///
    /// let delete = OperationInfo::classify(&Method::DELETE, "/v1/users/user_1");
    /// let get = OperationInfo::classify(&Method::GET, "/v1/users/user_1");
    /// let gone = StatusCode::NOT_FOUND;
    /// assert_eq!(Applied::of_resend(&delete, Applied::Maybe, gone), Applied::Yes);
    /// assert_eq!(Applied::of_resend(&delete, Applied::No, gone), Applied::Refused);
    /// assert_eq!(Applied::of_resend(&get, Applied::Maybe, gone), Applied::Refused);
    /// ```
    pub fn of_resend(info: &OperationInfo, earlier: Applied, status: StatusCode) -> Self {
        if status == StatusCode::NOT_FOUND && earlier.may_have() && info.removes_one_by_id() {
            Self::Yes
        } else {
            Self::of_status(status)
        }
    }

    /// The rule for a failed call or attempt.
    pub fn of_error(err: &Error) -> Self {
        if err.is_applied_earlier() {
            Self::Yes
        } else if err.is_outcome_unknown() {
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
        assert_eq!(status(404).into_applied_earlier().applied(), Applied::Yes);
    }

    #[test]
    fn a_404_to_a_resend_is_done_only_for_removals_after_an_ambiguous_attempt() {
        use http::Method;
        let gone = StatusCode::NOT_FOUND;
        let removals = [
            (Method::DELETE, "/v1/users/user_1"),
            (Method::DELETE, "/v1/users/user_1/passkeys/idn_1"),
            (Method::DELETE, "/v1/users/user_1/web3_wallets/idn_2"),
            (Method::DELETE, "/v1/users/user_1/external_accounts/eac_3"),
            (Method::DELETE, "/v1/users/user_1/trusted_devices/td_4"),
        ];
        for (method, path) in removals {
            let info = OperationInfo::classify(&method, path);
            assert!(info.removes_one_by_id(), "{path}");
            for earlier in [Applied::Maybe, Applied::Yes] {
                assert_eq!(Applied::of_resend(&info, earlier, gone), Applied::Yes);
            }
            for earlier in [Applied::No, Applied::Refused] {
                assert_eq!(
                    Applied::of_resend(&info, earlier, gone),
                    Applied::Refused,
                    "{path} after {earlier:?}"
                );
            }
            // Only a 404 says "gone".
            assert_eq!(
                Applied::of_resend(&info, Applied::Maybe, StatusCode::UNPROCESSABLE_ENTITY),
                Applied::Refused
            );
        }
        // A 404 of these names the user, not what the call removes.
        for path in [
            "/v1/users/user_1/mfa",
            "/v1/users/user_1/totp",
            "/v1/users/user_1/backup_code",
            "/v1/users/user_1/profile_image",
        ] {
            let info = OperationInfo::classify(&Method::DELETE, path);
            assert!(!info.removes_one_by_id(), "{path}");
            assert_eq!(
                Applied::of_resend(&info, Applied::Maybe, gone),
                Applied::Refused
            );
        }
        for (method, path) in [
            (Method::GET, "/v1/users/user_1"),
            (Method::PATCH, "/v1/users/user_1"),
            (Method::POST, "/v1/users/user_1/ban"),
        ] {
            let info = OperationInfo::classify(&method, path);
            assert_eq!(
                Applied::of_resend(&info, Applied::Maybe, gone),
                Applied::Refused
            );
        }
    }
}
