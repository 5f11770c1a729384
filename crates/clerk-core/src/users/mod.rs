//! One request type per operation of the Users API.
//!
//! Each type holds the parameters of one call: constructors take the required
//! ones, `#[must_use]` builder methods (by value) the optional ones. All of them
//! implement [`Operation`](crate::Operation): `build_request` produces the exact
//! HTTP request (path segments percent-encoded, arrays as repeated query keys,
//! absent fields left out of JSON bodies) and `parse_response` the typed output or
//! the [`Error`](crate::Error).
//!
//! | type | endpoint | output |
//! |---|---|---|
//! | [`ListUsers`] | `GET /users` | `Vec<User>` |
//! | [`CreateUser`] | `POST /users` | [`User`](crate::User) |
//! | [`CountUsers`] | `GET /users/count` | [`TotalCount`](crate::TotalCount) |
//! | [`GetUser`] | `GET /users/{user_id}` | `User` |
//! | [`UpdateUser`] | `PATCH /users/{user_id}` | `User` |
//! | [`DeleteUser`] | `DELETE /users/{user_id}` | [`DeletedObject`](crate::DeletedObject) |
//! | [`BanUser`] | `POST /users/{user_id}/ban` | `User` |
//! | [`UnbanUser`] | `POST /users/{user_id}/unban` | `User` |
//! | [`BanUsers`] | `POST /users/ban` | `Vec<User>` |
//! | [`UnbanUsers`] | `POST /users/unban` | `Vec<User>` |
//! | [`LockUser`] | `POST /users/{user_id}/lock` | `User` |
//! | [`UnlockUser`] | `POST /users/{user_id}/unlock` | `User` |
//! | [`SetProfileImage`] | `POST /users/{user_id}/profile_image` | `User` |
//! | [`DeleteProfileImage`] | `DELETE /users/{user_id}/profile_image` | `User` |
//! | [`UpdateUserMetadata`] | `PATCH /users/{user_id}/metadata` | `User` |
//! | [`GetOAuthAccessTokens`] | `GET /users/{user_id}/oauth_access_tokens/{provider}` | [`OAuthAccessTokens`](crate::OAuthAccessTokens) |
//! | [`GetOrganizationMemberships`] | `GET /users/{user_id}/organization_memberships` | [`OrganizationMemberships`](crate::OrganizationMemberships) |
//! | [`GetOrganizationInvitations`] | `GET /users/{user_id}/organization_invitations` | [`OrganizationInvitations`](crate::OrganizationInvitations) |
//! | [`VerifyPassword`] | `POST /users/{user_id}/verify_password` | [`VerifyPasswordResponse`](crate::VerifyPasswordResponse) |
//! | [`VerifyTotp`] | `POST /users/{user_id}/verify_totp` | [`VerifyTotpResponse`](crate::VerifyTotpResponse) |
//! | [`DisableMfa`] | `DELETE /users/{user_id}/mfa` | [`UserIdResponse`](crate::UserIdResponse) |
//! | [`DeleteBackupCodes`] | `DELETE /users/{user_id}/backup_code` | `UserIdResponse` |
//! | [`DeletePasskey`] | `DELETE /users/{user_id}/passkeys/{passkey_identification_id}` | `DeletedObject` |
//! | [`DeleteWeb3Wallet`] | `DELETE /users/{user_id}/web3_wallets/{web3_wallet_identification_id}` | `DeletedObject` |
//! | [`DeleteTotp`] | `DELETE /users/{user_id}/totp` | `UserIdResponse` |
//! | [`DeleteExternalAccount`] | `DELETE /users/{user_id}/external_accounts/{external_account_id}` | `DeletedObject` |
//! | [`GetInstanceOrganizationMemberships`] | `GET /organization_memberships` | `OrganizationMemberships` |
//! | [`SetPasswordCompromised`] | `POST /users/{user_id}/password/set_compromised` (2025-11-10 on) | `User` |
//! | [`UnsetPasswordCompromised`] | `POST /users/{user_id}/password/unset_compromised` (2025-11-10 on) | `User` |
//! | [`RemovePassword`] | `POST /users/{user_id}/remove_password` | `User` |
//! | [`ReplaceUserMetadata`] | `PUT /users/{user_id}/metadata` | `User` |
//! | [`ReplaceEmailAddress`] | `PUT /users/{user_id}/email_address` | [`EmailAddress`](crate::EmailAddress) |
//! | [`ReplacePhoneNumber`] | `PUT /users/{user_id}/phone_number` | [`PhoneNumber`](crate::PhoneNumber) |
//! | [`ListTrustedDevices`] | `GET /users/{user_id}/trusted_devices` | [`TrustedDevices`](crate::TrustedDevices) |
//! | [`RevokeTrustedDevice`] | `DELETE /users/{user_id}/trusted_devices/{trusted_device_id}` | [`TrustedDevice`](crate::TrustedDevice) |
//! | [`GetBillingSubscription`] | `GET /users/{user_id}/billing/subscription` | [`CommerceSubscription`](crate::CommerceSubscription) |
//! | [`GetBillingCreditBalance`] | `GET /users/{user_id}/billing/credits` | [`CommerceCreditBalance`](crate::CommerceCreditBalance) |
//! | [`AdjustBillingCreditBalance`] | `POST /users/{user_id}/billing/credits` | [`CommerceCreditLedger`](crate::CommerceCreditLedger) |
//!
//! What an [`ApiVersion`](crate::ApiVersion) does not accept is refused by
//! [`Operation::check_api_version`](crate::Operation::check_api_version) before
//! anything is sent.

mod billing;
mod bulk;
mod create;
mod fields;
mod list;
mod oauth;
mod organizations;
mod password;
mod profile_image;
mod replace;
mod simple;
mod update;
mod verify;

pub use billing::AdjustBillingCreditBalance;
pub use bulk::{BanUsers, UnbanUsers};
pub use create::CreateUser;
pub use fields::FieldKind;
pub use list::{CountUsers, ListUsers, SortDirection, UserFilter, UserOrderBy, UserOrderField};
pub use oauth::GetOAuthAccessTokens;
pub use organizations::{
    GetInstanceOrganizationMemberships, GetOrganizationInvitations, GetOrganizationMemberships,
    MembershipOrderBy, MembershipOrderField,
};
pub use password::{RemovePassword, SetPasswordCompromised};
pub use profile_image::SetProfileImage;
pub use replace::{ReplaceEmailAddress, ReplacePhoneNumber, ReplaceUserMetadata};
pub use simple::{
    BanUser, DeleteBackupCodes, DeleteExternalAccount, DeletePasskey, DeleteProfileImage,
    DeleteTotp, DeleteUser, DeleteWeb3Wallet, DisableMfa, GetBillingCreditBalance,
    GetBillingSubscription, GetUser, ListTrustedDevices, LockUser, RevokeTrustedDevice, UnbanUser,
    UnlockUser, UnsetPasswordCompromised,
};
pub use update::{UpdateUser, UpdateUserMetadata};
pub use verify::{VerifyPassword, VerifyTotp};

/// Formats Unix milliseconds as the RFC 3339 UTC string request bodies take
/// (`created_at`, `legal_accepted_at`).
///
/// ```
/// assert_eq!(
///     clerk_core::users::rfc3339_from_unix_ms(1_350_717_320_902),
///     "2012-10-20T07:15:20.902Z"
/// );
/// ```
pub fn rfc3339_from_unix_ms(ms: i64) -> String {
    crate::wire::rfc3339_from_unix_ms(ms)
}

/// Writes a redacted placeholder for a secret field in `Debug` output.
pub(crate) fn redacted<T>(value: &Option<T>) -> &'static str {
    if value.is_some() {
        "<redacted>"
    } else {
        "None"
    }
}
