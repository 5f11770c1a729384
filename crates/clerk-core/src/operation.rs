//! The contract between typed requests and the tower stack.

use http::Method;

use crate::{ApiVersion, BaseUrl, Error};

/// An HTTP request as it travels through the stack.
pub type ClerkRequest = http::Request<crate::Body>;
/// An HTTP response as it travels through the stack.
pub type ClerkResponse = http::Response<crate::Body>;

/// One operation of the Backend API: how to build its HTTP request and how to read
/// its HTTP response. Sans-IO: nothing here touches the network.
///
/// Every request type of [`crate::users`] implements it; the client drives any
/// `Operation` through its tower stack.
pub trait Operation {
    /// What a successful call returns.
    type Output;

    /// What the stack's layers need to know about the call.
    fn info(&self) -> OperationInfo;

    /// Builds the HTTP request against `base`. The request carries
    /// [`OperationInfo`] in its extensions. Fails on input that cannot be sent
    /// (an empty id, a body that cannot be encoded).
    fn build_request(&self, base: &BaseUrl) -> Result<ClerkRequest, Error>;

    /// Reads the HTTP response: the typed output on success, the error otherwise.
    fn parse_response(&self, response: ClerkResponse) -> Result<Self::Output, Error>;

    /// Refuses a request that API `version` does not accept, with an
    /// invalid-request error saying what to use instead: an operation that
    /// version does not have ([`ApiVersion::check_operation`]), or a body field it
    /// rejects (metadata on `UpdateUser` under 2026-05-12). The client calls it
    /// before [`build_request`](Self::build_request) with the version it sends.
    fn check_api_version(&self, version: ApiVersion) -> Result<(), Error> {
        version.check_operation(self.info().operation_id)
    }

    /// What the call returns when the answer was an error for which
    /// [`Error::is_applied_earlier`] holds: a resend found the thing gone after an
    /// earlier attempt, whose answer was lost, removed it. The deletes that return
    /// a [`DeletedObject`](crate::DeletedObject) give the object that answer would
    /// have carried ([`DeletedObject::removed_earlier`](crate::DeletedObject::removed_earlier));
    /// by default, and for the trusted-device revoke (whose answer, the device,
    /// is lost), `None`: the error stands. The client calls it.
    fn output_if_applied_earlier(&self) -> Option<Self::Output> {
        None
    }
}

/// Whether a request may be sent again after a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RetryClass {
    /// Sending it twice has the same effect as once (reads, deletes, updates, bans,
    /// locks, bulk bans): retried after any retryable failure.
    Idempotent,
    /// Sending it twice can do something twice: `POST /users` creates a second user,
    /// `verify_password` counts a second attempt toward lockout, `verify_totp`
    /// consumes a backup code. Retried only when the first attempt provably did
    /// nothing ([`Applied::No`](crate::Applied::No): no connection, or a 429).
    NotIdempotent,
}

/// Description of a call, attached to each request's extensions so layers can
/// classify it without parsing URLs: the operation id, the path template, how to
/// retry it, and the user a per-user rate limit applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OperationInfo {
    /// The spec's operationId, such as `GetUser` or `CreateUser`.
    pub operation_id: &'static str,
    /// The path template relative to the API prefix, such as `/users/{user_id}`.
    /// Safe to log: it holds no ids.
    pub path_template: &'static str,
    /// How the retry layer may treat the request.
    pub retry_class: RetryClass,
    /// The user id for operations Clerk limits per user (`PATCH /users/{user_id}`,
    /// `PATCH` and `PUT /users/{user_id}/metadata`: 10 requests per 10 s per user).
    pub per_user_limit_key: Option<String>,
}

impl OperationInfo {
    /// Info for a known operation.
    pub fn new(
        operation_id: &'static str,
        path_template: &'static str,
        retry_class: RetryClass,
    ) -> Self {
        Self {
            operation_id,
            path_template,
            retry_class,
            per_user_limit_key: None,
        }
    }

    /// Sets the per-user limit key.
    #[must_use]
    pub fn with_per_user_limit_key(mut self, user_id: impl Into<String>) -> Self {
        self.per_user_limit_key = Some(user_id.into());
        self
    }

    /// Whether the call removes one thing named by an id ([`removes_one_by_id`]).
    pub fn removes_one_by_id(&self) -> bool {
        removes_one_by_id(self.operation_id)
    }

    /// Info of a request that did not come from a typed operation: recognises the
    /// 38 Users operations by method and path (the path may carry a prefix such as
    /// `/v1`), and treats anything else by method (`POST` is not idempotent).
    pub fn classify(method: &Method, path: &str) -> Self {
        let segments: Vec<&str> = path
            .split('?')
            .next()
            .unwrap_or("")
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        // Find where the API path starts, skipping any prefix such as /v1.
        let start = segments
            .iter()
            .position(|s| *s == "users" || *s == "organization_memberships")
            .unwrap_or(segments.len());
        let rest = &segments[start..];
        let idempotent = RetryClass::Idempotent;
        let m = method.as_str();
        let found = match (m, rest) {
            ("GET", ["users"]) => Some(("GetUserList", "/users", idempotent)),
            ("POST", ["users"]) => Some(("CreateUser", "/users", RetryClass::NotIdempotent)),
            ("GET", ["users", "count"]) => Some(("GetUsersCount", "/users/count", idempotent)),
            ("POST", ["users", "ban"]) => Some(("UsersBan", "/users/ban", idempotent)),
            ("POST", ["users", "unban"]) => Some(("UsersUnban", "/users/unban", idempotent)),
            ("GET", ["users", _]) => Some(("GetUser", "/users/{user_id}", idempotent)),
            ("PATCH", ["users", _]) => Some(("UpdateUser", "/users/{user_id}", idempotent)),
            ("DELETE", ["users", _]) => Some(("DeleteUser", "/users/{user_id}", idempotent)),
            ("POST", ["users", _, "ban"]) => Some(("BanUser", "/users/{user_id}/ban", idempotent)),
            ("POST", ["users", _, "unban"]) => {
                Some(("UnbanUser", "/users/{user_id}/unban", idempotent))
            }
            ("POST", ["users", _, "lock"]) => {
                Some(("LockUser", "/users/{user_id}/lock", idempotent))
            }
            ("POST", ["users", _, "unlock"]) => {
                Some(("UnlockUser", "/users/{user_id}/unlock", idempotent))
            }
            ("POST", ["users", _, "profile_image"]) => Some((
                "SetUserProfileImage",
                "/users/{user_id}/profile_image",
                idempotent,
            )),
            ("DELETE", ["users", _, "profile_image"]) => Some((
                "DeleteUserProfileImage",
                "/users/{user_id}/profile_image",
                idempotent,
            )),
            ("PATCH", ["users", _, "metadata"]) => Some((
                "UpdateUserMetadata",
                "/users/{user_id}/metadata",
                idempotent,
            )),
            ("GET", ["users", _, "oauth_access_tokens", _]) => Some((
                "GetOAuthAccessToken",
                "/users/{user_id}/oauth_access_tokens/{provider}",
                idempotent,
            )),
            ("GET", ["users", _, "organization_memberships"]) => Some((
                "UsersGetOrganizationMemberships",
                "/users/{user_id}/organization_memberships",
                idempotent,
            )),
            ("GET", ["users", _, "organization_invitations"]) => Some((
                "UsersGetOrganizationInvitations",
                "/users/{user_id}/organization_invitations",
                idempotent,
            )),
            ("POST", ["users", _, "verify_password"]) => Some((
                "VerifyPassword",
                "/users/{user_id}/verify_password",
                RetryClass::NotIdempotent,
            )),
            ("POST", ["users", _, "verify_totp"]) => Some((
                "VerifyTOTP",
                "/users/{user_id}/verify_totp",
                RetryClass::NotIdempotent,
            )),
            ("DELETE", ["users", _, "mfa"]) => {
                Some(("DisableMFA", "/users/{user_id}/mfa", idempotent))
            }
            ("DELETE", ["users", _, "backup_code"]) => Some((
                "DeleteBackupCode",
                "/users/{user_id}/backup_code",
                idempotent,
            )),
            ("DELETE", ["users", _, "passkeys", _]) => Some((
                "UserPasskeyDelete",
                "/users/{user_id}/passkeys/{passkey_identification_id}",
                idempotent,
            )),
            ("DELETE", ["users", _, "web3_wallets", _]) => Some((
                "UserWeb3WalletDelete",
                "/users/{user_id}/web3_wallets/{web3_wallet_identification_id}",
                idempotent,
            )),
            ("DELETE", ["users", _, "totp"]) => {
                Some(("DeleteTOTP", "/users/{user_id}/totp", idempotent))
            }
            ("DELETE", ["users", _, "external_accounts", _]) => Some((
                "DeleteExternalAccount",
                "/users/{user_id}/external_accounts/{external_account_id}",
                idempotent,
            )),
            ("PUT", ["users", _, "metadata"]) => Some((
                "ReplaceUserMetadata",
                "/users/{user_id}/metadata",
                idempotent,
            )),
            ("PUT", ["users", _, "email_address"]) => Some((
                "ReplaceUserEmailAddress",
                "/users/{user_id}/email_address",
                idempotent,
            )),
            ("PUT", ["users", _, "phone_number"]) => Some((
                "ReplaceUserPhoneNumber",
                "/users/{user_id}/phone_number",
                idempotent,
            )),
            ("POST", ["users", _, "password", "set_compromised"]) => Some((
                "SetUserPasswordCompromised",
                "/users/{user_id}/password/set_compromised",
                idempotent,
            )),
            ("POST", ["users", _, "password", "unset_compromised"]) => Some((
                "UnsetUserPasswordCompromised",
                "/users/{user_id}/password/unset_compromised",
                idempotent,
            )),
            ("POST", ["users", _, "remove_password"]) => Some((
                "RemoveUserPassword",
                "/users/{user_id}/remove_password",
                idempotent,
            )),
            ("GET", ["users", _, "trusted_devices"]) => Some((
                "ListUserTrustedDevices",
                "/users/{user_id}/trusted_devices",
                idempotent,
            )),
            ("DELETE", ["users", _, "trusted_devices", _]) => Some((
                "RevokeUserTrustedDevice",
                "/users/{user_id}/trusted_devices/{trusted_device_id}",
                idempotent,
            )),
            ("GET", ["users", _, "billing", "subscription"]) => Some((
                "GetUserBillingSubscription",
                "/users/{user_id}/billing/subscription",
                idempotent,
            )),
            ("GET", ["users", _, "billing", "credits"]) => Some((
                "GetUserBillingCreditBalance",
                "/users/{user_id}/billing/credits",
                idempotent,
            )),
            // Safe to resend: the body's idempotency_key makes Clerk apply it once.
            ("POST", ["users", _, "billing", "credits"]) => Some((
                "AdjustUserBillingCreditBalance",
                "/users/{user_id}/billing/credits",
                idempotent,
            )),
            ("GET", ["organization_memberships"]) => Some((
                "InstanceGetOrganizationMemberships",
                "/organization_memberships",
                idempotent,
            )),
            _ => None,
        };
        match found {
            Some((operation_id, path_template, retry_class)) => {
                let info = Self::new(operation_id, path_template, retry_class);
                if is_per_user_limited(operation_id) {
                    let user_id = percent_encoding::percent_decode_str(rest[1]).decode_utf8_lossy();
                    info.with_per_user_limit_key(user_id)
                } else {
                    info
                }
            }
            None => {
                let retry_class = if *method == Method::POST {
                    RetryClass::NotIdempotent
                } else {
                    RetryClass::Idempotent
                };
                Self::new("unknown", "unknown", retry_class)
            }
        }
    }

    /// The info attached to `request`, or [`OperationInfo::classify`] of its method and path.
    pub fn of<B>(request: &http::Request<B>) -> Self {
        request
            .extensions()
            .get::<Self>()
            .cloned()
            .unwrap_or_else(|| Self::classify(request.method(), request.uri().path()))
    }
}

/// Whether the operation removes one thing named by an id in its path, so that
/// after it succeeded the thing is gone and a second send answers `404`: the user
/// delete, the passkey, web3 wallet and external account deletes, and the trusted
/// device revoke. A `404` to a resend of one of these after an attempt that may
/// have been applied means it was ([`Applied::of_resend`](crate::Applied::of_resend)).
///
/// The MFA, TOTP, backup-code and profile-image deletes name only the user: a
/// second send succeeds (nothing left to remove), and their `404` means the user
/// is unknown, never that an earlier attempt worked.
pub fn removes_one_by_id(operation_id: &str) -> bool {
    matches!(
        operation_id,
        "DeleteUser"
            | "UserPasskeyDelete"
            | "UserWeb3WalletDelete"
            | "DeleteExternalAccount"
            | "RevokeUserTrustedDevice"
    )
}

/// Whether Clerk counts the operation toward the per-user update limit (10 per
/// 10 s per user): the user update and both metadata writes.
pub fn is_per_user_limited(operation_id: &str) -> bool {
    matches!(
        operation_id,
        "UpdateUser" | "UpdateUserMetadata" | "ReplaceUserMetadata"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_foreign_requests_by_method_and_path() {
        let get = OperationInfo::classify(&Method::GET, "/v1/users/user_1");
        assert_eq!(get.operation_id, "GetUser");
        assert_eq!(get.path_template, "/users/{user_id}");
        let create = OperationInfo::classify(&Method::POST, "/v1/users");
        assert_eq!(create.retry_class, RetryClass::NotIdempotent);
        let ban = OperationInfo::classify(&Method::POST, "/v1/users/ban");
        assert_eq!(ban.operation_id, "UsersBan");
        let patch = OperationInfo::classify(&Method::PATCH, "/v1/users/user%2F1/metadata");
        assert_eq!(patch.operation_id, "UpdateUserMetadata");
        assert_eq!(patch.per_user_limit_key.as_deref(), Some("user/1"));
        let put = OperationInfo::classify(&Method::PUT, "/v1/users/user_1/metadata");
        assert_eq!(put.operation_id, "ReplaceUserMetadata");
        assert_eq!(put.per_user_limit_key.as_deref(), Some("user_1"));
        let credits = OperationInfo::classify(&Method::POST, "/v1/users/user_1/billing/credits");
        assert_eq!(
            (credits.operation_id, credits.retry_class),
            ("AdjustUserBillingCreditBalance", RetryClass::Idempotent)
        );
        let compromised =
            OperationInfo::classify(&Method::POST, "/v1/users/u/password/set_compromised");
        assert_eq!(compromised.operation_id, "SetUserPasswordCompromised");
        assert_eq!(compromised.per_user_limit_key, None);
        let other = OperationInfo::classify(&Method::POST, "/v1/invitations");
        assert_eq!(
            (other.operation_id, other.retry_class),
            ("unknown", RetryClass::NotIdempotent)
        );
    }
}
