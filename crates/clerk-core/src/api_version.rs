//! [`ApiVersion`]: which dated version of the Backend API a request asks for.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// A dated version of Clerk's Backend API, sent as the `Clerk-API-Version` header.
///
/// Clerk serves each version's behaviour to the clients that ask for it, so the
/// version decides what a request may carry and which operations exist. What this
/// crate knows changes for the Users API:
///
/// | version | change |
/// |---|---|
/// | [`V2025_04_10`](Self::V2025_04_10) | the 36 Users operations of that spec |
/// | [`V2025_11_10`](Self::V2025_11_10) | adds `SetUserPasswordCompromised` and `UnsetUserPasswordCompromised` |
/// | [`V2026_05_12`](Self::V2026_05_12) | `PATCH /users/{user_id}` no longer takes `public_metadata`, `private_metadata` or `unsafe_metadata` |
///
/// The [default](Self::DEFAULT) is 2025-11-10: every operation exists under it and
/// `UpdateUser` still takes metadata, so nothing written for 2025-04-10 breaks;
/// 2026-05-12 is a choice (`ClerkBuilder::api_version`), since it refuses requests
/// that worked before.
///
/// ```
/// use clerk_core::ApiVersion;
///
/// let version: ApiVersion = "2026-05-12".parse()?;
/// assert_eq!(version, ApiVersion::V2026_05_12);
/// assert_eq!(ApiVersion::default().as_str(), "2025-11-10");
/// assert!(!version.accepts_metadata_on_user_update());
/// assert!("2024-13-01".parse::<ApiVersion>().is_err());
/// # Ok::<(), clerk_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ApiVersion {
    /// `2025-04-10`.
    V2025_04_10,
    /// `2025-11-10`: adds the password-compromised operations.
    #[default]
    V2025_11_10,
    /// `2026-05-12`: metadata only through the metadata endpoints.
    V2026_05_12,
}

impl ApiVersion {
    /// Every version this crate knows, oldest first.
    pub const ALL: [ApiVersion; 3] = [Self::V2025_04_10, Self::V2025_11_10, Self::V2026_05_12];
    /// The version sent unless another is chosen (see the type's docs for why).
    pub const DEFAULT: ApiVersion = Self::V2025_11_10;
    /// The newest version this crate knows.
    pub const LATEST: ApiVersion = Self::V2026_05_12;
    /// The header that carries it (lower case, as `http` spells header names).
    pub const HEADER: &'static str = "clerk-api-version";

    /// The date as Clerk spells it (`2025-11-10`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::V2025_04_10 => "2025-04-10",
            Self::V2025_11_10 => "2025-11-10",
            Self::V2026_05_12 => "2026-05-12",
        }
    }

    /// The first version that has the operation `operation_id` (`None` for the
    /// operations every version has, and for ids this crate does not know).
    pub fn introducing(operation_id: &str) -> Option<ApiVersion> {
        match operation_id {
            "SetUserPasswordCompromised" | "UnsetUserPasswordCompromised" => {
                Some(Self::V2025_11_10)
            }
            _ => None,
        }
    }

    /// Whether the operation `operation_id` exists in this version.
    pub fn has_operation(self, operation_id: &str) -> bool {
        Self::introducing(operation_id).is_none_or(|since| self >= since)
    }

    /// Whether `PATCH /users/{user_id}` takes `public_metadata`, `private_metadata`
    /// and `unsafe_metadata` (before 2026-05-12).
    pub fn accepts_metadata_on_user_update(self) -> bool {
        self < Self::V2026_05_12
    }

    /// Refuses an operation this version does not have, naming the version it needs.
    pub fn check_operation(self, operation_id: &str) -> Result<(), Error> {
        match Self::introducing(operation_id) {
            Some(since) if self < since => Err(Error::invalid_request(format!(
                "{operation_id} exists from Clerk API version {since} on; this request is for {self} (choose the version with ClerkBuilder::api_version)"
            ))),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ApiVersion {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == value.trim())
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                Error::invalid_request(format!(
                    "unknown Clerk API version {:?}; known: {}",
                    value.chars().take(40).collect::<String>(),
                    known.join(", ")
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_order_and_gate_operations() {
        for v in ApiVersion::ALL {
            assert_eq!(v.as_str().parse::<ApiVersion>().unwrap(), v);
            assert_eq!(v.to_string(), v.as_str());
        }
        assert!(ApiVersion::V2025_04_10 < ApiVersion::V2026_05_12);
        assert!(!ApiVersion::V2025_04_10.has_operation("SetUserPasswordCompromised"));
        assert!(ApiVersion::V2025_11_10.has_operation("UnsetUserPasswordCompromised"));
        assert!(ApiVersion::V2025_04_10.has_operation("GetUser"));
        let err = ApiVersion::V2025_04_10
            .check_operation("SetUserPasswordCompromised")
            .unwrap_err();
        assert!(err.is_invalid_request());
        assert!(err.to_string().contains("2025-11-10"), "{err}");
        assert!(ApiVersion::V2025_11_10.accepts_metadata_on_user_update());
        assert!(!ApiVersion::V2026_05_12.accepts_metadata_on_user_update());
        assert_eq!(ApiVersion::default(), ApiVersion::DEFAULT);
    }
}
