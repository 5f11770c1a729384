//! The operations whose only parameters are ids in the path.

use http::Method;

use crate::wire::{self, PathBuilder};
use crate::{
    BaseUrl, ClerkRequest, ClerkResponse, CommerceCreditBalance, CommerceSubscription,
    DeletedObject, Error, Operation, OperationInfo, RetryClass, TrustedDevice, TrustedDevices,
    User, UserIdResponse, models::ObjectType,
};

/// A request on `/users/{user_id}[/suffix]` with no query and no body.
macro_rules! user_op {
    (
        $(#[$doc:meta])*
        $name:ident: $method:ident $template:literal $(/ $suffix:literal)?,
        $op_id:literal -> $output:ty $(, gone: $gone:ident)?
    ) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name {
            user_id: String,
        }

        impl $name {
            /// The request for the user `user_id`.
            pub fn new(user_id: impl Into<String>) -> Self {
                Self { user_id: user_id.into() }
            }

            /// The user id.
            pub fn user_id(&self) -> &str {
                &self.user_id
            }
        }

        impl Operation for $name {
            type Output = $output;

            fn info(&self) -> OperationInfo {
                OperationInfo::new($op_id, $template, RetryClass::Idempotent)
            }

            fn build_request(&self, base: &BaseUrl) -> Result<ClerkRequest, Error> {
                let path = PathBuilder::new("users").id("user_id", &self.user_id)?;
                $(let path = path.lit($suffix);)?
                wire::request(Method::$method, base, &path.finish(), None, self.info())
            }

            fn parse_response(&self, response: ClerkResponse) -> Result<Self::Output, Error> {
                wire::parse_object(response)
            }

            $(fn output_if_applied_earlier(&self) -> Option<Self::Output> {
                Some(DeletedObject::removed_earlier(ObjectType::$gone, &self.user_id))
            })?
        }
    };
}

user_op! {
    /// `GET /users/{user_id}`: one user.
    ///
    /// Returns the [`User`]; an unknown id is an error for which
    /// [`Error::is_not_found`] holds.
    ///
    /// ```
    /// # use clerk_core::{users::GetUser, BaseUrl, Operation};
    /// let request = GetUser::new("user_1/ban").build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
    /// // The id stays one path segment: it can never reach another endpoint.
    /// assert_eq!(request.uri(), "https://api.clerk.com/v1/users/user_1%2Fban");
    /// # Ok::<(), clerk_core::Error>(())
    /// ```
    GetUser: GET "/users/{user_id}", "GetUser" -> User
}

user_op! {
    /// `DELETE /users/{user_id}`: deletes a user.
    ///
    /// Returns a [`DeletedObject`] (`object: "user"`). When the answer to the
    /// first attempt was lost and the resend found the user gone, the client
    /// returns [`DeletedObject::removed_earlier`] (see [`Error::is_applied_earlier`]).
    ///
    /// ```
    /// # use clerk_core::{users::DeleteUser, BaseUrl, Operation};
    /// let request = DeleteUser::new("user_1").build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
    /// assert_eq!((request.method().as_str(), request.uri().path()), ("DELETE", "/v1/users/user_1"));
    /// # Ok::<(), clerk_core::Error>(())
    /// ```
    DeleteUser: DELETE "/users/{user_id}", "DeleteUser" -> DeletedObject, gone: User
}

user_op! {
    /// `POST /users/{user_id}/ban`: bans a user, revoking their sessions and
    /// blocking sign-in. No body.
    ///
    /// Returns the [`User`] with `banned: true`. Plans without the feature answer 402.
    ///
    /// ```
    /// # use clerk_core::{users::BanUser, BaseUrl, Operation};
    /// let request = BanUser::new("user_1").build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
    /// assert_eq!(request.uri().path(), "/v1/users/user_1/ban");
    /// assert!(request.body().is_empty());
    /// # Ok::<(), clerk_core::Error>(())
    /// ```
    BanUser: POST "/users/{user_id}/ban" / "ban", "BanUser" -> User
}

user_op! {
    /// `POST /users/{user_id}/unban`: lifts a ban. No body.
    ///
    /// Returns the [`User`] with `banned: false`.
    ///
    /// ```
    /// # use clerk_core::{users::UnbanUser, BaseUrl, Operation};
    /// let request = UnbanUser::new("user_1").build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
    /// assert_eq!(request.uri().path(), "/v1/users/user_1/unban");
    /// # Ok::<(), clerk_core::Error>(())
    /// ```
    UnbanUser: POST "/users/{user_id}/unban" / "unban", "UnbanUser" -> User
}

user_op! {
    /// `POST /users/{user_id}/lock`: locks a user out of sign-in for the
    /// instance's lockout duration. No body.
    ///
    /// Returns the [`User`] with `locked: true`.
    ///
    /// ```
    /// # use clerk_core::{users::LockUser, BaseUrl, Operation};
    /// let request = LockUser::new("user_1").build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
    /// assert_eq!(request.uri().path(), "/v1/users/user_1/lock");
    /// # Ok::<(), clerk_core::Error>(())
    /// ```
    LockUser: POST "/users/{user_id}/lock" / "lock", "LockUser" -> User
}

user_op! {
    /// `POST /users/{user_id}/unlock`: lifts a lock. No body.
    ///
    /// Returns the [`User`] with `locked: false`.
    ///
    /// ```
    /// # use clerk_core::{users::UnlockUser, BaseUrl, Operation};
    /// let request = UnlockUser::new("user_1").build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
    /// assert_eq!(request.uri().path(), "/v1/users/user_1/unlock");
    /// # Ok::<(), clerk_core::Error>(())
    /// ```
    UnlockUser: POST "/users/{user_id}/unlock" / "unlock", "UnlockUser" -> User
}

user_op! {
    /// `DELETE /users/{user_id}/profile_image`: removes the profile image.
    ///
    /// Returns the updated [`User`].
    ///
    /// ```
    /// # use clerk_core::{users::DeleteProfileImage, BaseUrl, Operation};
    /// let request = DeleteProfileImage::new("user_1").build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
    /// assert_eq!(request.uri().path(), "/v1/users/user_1/profile_image");
    /// # Ok::<(), clerk_core::Error>(())
    /// ```
    DeleteProfileImage: DELETE "/users/{user_id}/profile_image" / "profile_image",
        "DeleteUserProfileImage" -> User
}

user_op! {
    /// `DELETE /users/{user_id}/mfa`: disables every MFA method of a user.
    ///
    /// Returns a [`UserIdResponse`].
    ///
    /// ```
    /// # use clerk_core::{users::DisableMfa, BaseUrl, Operation};
    /// let request = DisableMfa::new("user_1").build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
    /// assert_eq!(request.uri().path(), "/v1/users/user_1/mfa");
    /// # Ok::<(), clerk_core::Error>(())
    /// ```
    DisableMfa: DELETE "/users/{user_id}/mfa" / "mfa", "DisableMFA" -> UserIdResponse
}

user_op! {
    /// `DELETE /users/{user_id}/backup_code`: removes all backup codes of a user
    /// (the path is singular).
    ///
    /// Returns a [`UserIdResponse`].
    ///
    /// ```
    /// # use clerk_core::{users::DeleteBackupCodes, BaseUrl, Operation};
    /// let request = DeleteBackupCodes::new("user_1").build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
    /// assert_eq!(request.uri().path(), "/v1/users/user_1/backup_code");
    /// # Ok::<(), clerk_core::Error>(())
    /// ```
    DeleteBackupCodes: DELETE "/users/{user_id}/backup_code" / "backup_code",
        "DeleteBackupCode" -> UserIdResponse
}

user_op! {
    /// `DELETE /users/{user_id}/totp`: removes all TOTP authenticators of a user.
    ///
    /// Returns a [`UserIdResponse`].
    ///
    /// ```
    /// # use clerk_core::{users::DeleteTotp, BaseUrl, Operation};
    /// let request = DeleteTotp::new("user_1").build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
    /// assert_eq!(request.uri().path(), "/v1/users/user_1/totp");
    /// # Ok::<(), clerk_core::Error>(())
    /// ```
    DeleteTotp: DELETE "/users/{user_id}/totp" / "totp", "DeleteTOTP" -> UserIdResponse
}

user_op! {
    /// `POST /users/{user_id}/password/unset_compromised`: the user's password is
    /// no longer marked compromised, so sign-in stops asking for a reset (unless a
    /// reserved-email quarantine still requires one). No body. API version
    /// 2025-11-10 or later.
    ///
    /// Returns the [`User`].
    ///
    /// ```
    /// # use clerk_core::{users::UnsetPasswordCompromised, ApiVersion, BaseUrl, Operation};
    /// let op = UnsetPasswordCompromised::new("user_1");
    /// let request = op.build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
    /// assert_eq!(request.uri().path(), "/v1/users/user_1/password/unset_compromised");
    /// assert!(op.check_api_version(ApiVersion::V2025_04_10).is_err());
    /// # Ok::<(), clerk_core::Error>(())
    /// ```
    UnsetPasswordCompromised: POST "/users/{user_id}/password/unset_compromised"
        / "password/unset_compromised",
        "UnsetUserPasswordCompromised" -> User
}

user_op! {
    /// `GET /users/{user_id}/trusted_devices`: the active trusted devices of a user.
    ///
    /// Returns [`TrustedDevices`].
    ///
    /// ```
    /// # use clerk_core::{users::ListTrustedDevices, BaseUrl, Operation};
    /// let request = ListTrustedDevices::new("user_1").build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
    /// assert_eq!(request.uri().path(), "/v1/users/user_1/trusted_devices");
    /// # Ok::<(), clerk_core::Error>(())
    /// ```
    ListTrustedDevices: GET "/users/{user_id}/trusted_devices" / "trusted_devices",
        "ListUserTrustedDevices" -> TrustedDevices
}

user_op! {
    /// `GET /users/{user_id}/billing/subscription`: the user's billing
    /// subscription, with its plans, payer and next payment.
    ///
    /// Returns a [`CommerceSubscription`]; a user without one is a 404.
    ///
    /// ```
    /// # use clerk_core::{users::GetBillingSubscription, BaseUrl, Operation};
    /// let request = GetBillingSubscription::new("user_1").build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
    /// assert_eq!(request.uri().path(), "/v1/users/user_1/billing/subscription");
    /// # Ok::<(), clerk_core::Error>(())
    /// ```
    GetBillingSubscription: GET "/users/{user_id}/billing/subscription" / "billing/subscription",
        "GetUserBillingSubscription" -> CommerceSubscription
}

user_op! {
    /// `GET /users/{user_id}/billing/credits`: the user's credit balance.
    ///
    /// Returns a [`CommerceCreditBalance`] (`balance: None` when the user never had
    /// credits).
    ///
    /// ```
    /// # use clerk_core::{users::GetBillingCreditBalance, BaseUrl, Operation};
    /// let request = GetBillingCreditBalance::new("user_1").build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
    /// assert_eq!((request.method().as_str(), request.uri().path()), ("GET", "/v1/users/user_1/billing/credits"));
    /// # Ok::<(), clerk_core::Error>(())
    /// ```
    GetBillingCreditBalance: GET "/users/{user_id}/billing/credits" / "billing/credits",
        "GetUserBillingCreditBalance" -> CommerceCreditBalance
}

/// A request on `/users/{user_id}/{collection}/{id}` with no query and no body.
macro_rules! user_item_op {
    (
        $(#[$doc:meta])*
        $name:ident: $method:ident $template:literal,
        $collection:literal / $id_name:ident,
        $op_id:literal -> $output:ty $(, gone: $gone:ident)?
    ) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name {
            user_id: String,
            $id_name: String,
        }

        impl $name {
            /// The request for one item of the user `user_id`.
            pub fn new(user_id: impl Into<String>, $id_name: impl Into<String>) -> Self {
                Self { user_id: user_id.into(), $id_name: $id_name.into() }
            }

            /// The user id.
            pub fn user_id(&self) -> &str {
                &self.user_id
            }

            #[doc = concat!("The `", stringify!($id_name), "`.")]
            pub fn $id_name(&self) -> &str {
                &self.$id_name
            }
        }

        impl Operation for $name {
            type Output = $output;

            fn info(&self) -> OperationInfo {
                OperationInfo::new($op_id, $template, RetryClass::Idempotent)
            }

            fn build_request(&self, base: &BaseUrl) -> Result<ClerkRequest, Error> {
                let path = PathBuilder::new("users")
                    .id("user_id", &self.user_id)?
                    .lit($collection)
                    .id(stringify!($id_name), &self.$id_name)?
                    .finish();
                wire::request(Method::$method, base, &path, None, self.info())
            }

            fn parse_response(&self, response: ClerkResponse) -> Result<Self::Output, Error> {
                wire::parse_object(response)
            }

            $(fn output_if_applied_earlier(&self) -> Option<Self::Output> {
                Some(DeletedObject::removed_earlier(ObjectType::$gone, &self.$id_name))
            })?
        }
    };
}

user_item_op! {
    /// `DELETE /users/{user_id}/passkeys/{passkey_identification_id}`: removes a
    /// passkey (the id is the passkey's `idn_…` id). Clerk emails the user.
    ///
    /// Returns a [`DeletedObject`].
    ///
    /// ```
    /// # use clerk_core::{users::DeletePasskey, BaseUrl, Operation};
    /// let request = DeletePasskey::new("user_1", "idn_2")
    ///     .build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
    /// assert_eq!(request.uri().path(), "/v1/users/user_1/passkeys/idn_2");
    /// # Ok::<(), clerk_core::Error>(())
    /// ```
    DeletePasskey: DELETE "/users/{user_id}/passkeys/{passkey_identification_id}",
        "passkeys" / passkey_identification_id,
        "UserPasskeyDelete" -> DeletedObject, gone: Passkey
}

user_item_op! {
    /// `DELETE /users/{user_id}/web3_wallets/{web3_wallet_identification_id}`:
    /// removes a web3 wallet.
    ///
    /// Returns a [`DeletedObject`].
    ///
    /// ```
    /// # use clerk_core::{users::DeleteWeb3Wallet, BaseUrl, Operation};
    /// let request = DeleteWeb3Wallet::new("user_1", "idn_3")
    ///     .build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
    /// assert_eq!(request.uri().path(), "/v1/users/user_1/web3_wallets/idn_3");
    /// # Ok::<(), clerk_core::Error>(())
    /// ```
    DeleteWeb3Wallet: DELETE "/users/{user_id}/web3_wallets/{web3_wallet_identification_id}",
        "web3_wallets" / web3_wallet_identification_id,
        "UserWeb3WalletDelete" -> DeletedObject, gone: Web3Wallet
}

user_item_op! {
    /// `DELETE /users/{user_id}/external_accounts/{external_account_id}`: unlinks
    /// an OAuth account. The id is the account's `eac_…` id, not its
    /// `identification_id`.
    ///
    /// Returns a [`DeletedObject`].
    ///
    /// ```
    /// # use clerk_core::{users::DeleteExternalAccount, BaseUrl, Operation};
    /// let request = DeleteExternalAccount::new("user_1", "eac_4")
    ///     .build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
    /// assert_eq!(request.uri().path(), "/v1/users/user_1/external_accounts/eac_4");
    /// # Ok::<(), clerk_core::Error>(())
    /// ```
    DeleteExternalAccount: DELETE "/users/{user_id}/external_accounts/{external_account_id}",
        "external_accounts" / external_account_id,
        "DeleteExternalAccount" -> DeletedObject, gone: ExternalAccount
}

user_item_op! {
    /// `DELETE /users/{user_id}/trusted_devices/{trusted_device_id}`: revokes a
    /// trusted device.
    ///
    /// Returns the [`TrustedDevice`], now `revoked`.
    ///
    /// ```
    /// # use clerk_core::{users::RevokeTrustedDevice, BaseUrl, Operation};
    /// let request = RevokeTrustedDevice::new("user_1", "td_2")
    ///     .build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
    /// assert_eq!(request.uri().path(), "/v1/users/user_1/trusted_devices/td_2");
    /// # Ok::<(), clerk_core::Error>(())
    /// ```
    RevokeTrustedDevice: DELETE "/users/{user_id}/trusted_devices/{trusted_device_id}",
        "trusted_devices" / trusted_device_id,
        "RevokeUserTrustedDevice" -> TrustedDevice
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deletes_by_id_say_what_a_lost_answer_would_have_said() {
        let user = DeleteUser::new("user_1");
        assert!(user.info().removes_one_by_id());
        let gone = user.output_if_applied_earlier().unwrap();
        assert_eq!(
            (
                gone.object,
                gone.id.as_deref(),
                gone.deleted,
                gone.applied_earlier
            ),
            (ObjectType::User, Some("user_1"), true, true)
        );
        for (info, gone) in [
            (
                DeletePasskey::new("u", "idn_1").info(),
                DeletePasskey::new("u", "idn_1").output_if_applied_earlier(),
            ),
            (
                DeleteWeb3Wallet::new("u", "idn_1").info(),
                DeleteWeb3Wallet::new("u", "idn_1").output_if_applied_earlier(),
            ),
            (
                DeleteExternalAccount::new("u", "idn_1").info(),
                DeleteExternalAccount::new("u", "idn_1").output_if_applied_earlier(),
            ),
        ] {
            assert!(info.removes_one_by_id(), "{}", info.operation_id);
            let gone = gone.unwrap();
            assert_eq!(gone.id.as_deref(), Some("idn_1"), "{}", info.operation_id);
            assert!(gone.applied_earlier);
        }
        // The revoke's answer is the device itself, which is lost: the error stands.
        let revoke = RevokeTrustedDevice::new("u", "td_1");
        assert!(revoke.info().removes_one_by_id());
        assert!(revoke.output_if_applied_earlier().is_none());
        assert!(GetUser::new("u").output_if_applied_earlier().is_none());
        assert!(!DeleteTotp::new("u").info().removes_one_by_id());
    }
}
