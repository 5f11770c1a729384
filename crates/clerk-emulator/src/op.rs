//! The API operations, named after the spec's `operationId`: the one list that routing,
//! rate limiting, fault scripting and the statistics all speak.

macro_rules! ops {
    ($($variant:ident),* $(,)?) => {
        /// One API operation, named after the spec's `operationId`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub(crate) enum Op { $($variant),* }

        impl Op {
            pub(crate) const ALL: &'static [Op] = &[$(Op::$variant),*];

            pub(crate) fn name(self) -> &'static str {
                match self { $(Op::$variant => stringify!($variant)),* }
            }
        }
    };
}

ops!(
    GetUserList,
    CreateUser,
    GetUsersCount,
    GetUser,
    UpdateUser,
    DeleteUser,
    BanUser,
    UnbanUser,
    UsersBan,
    UsersUnban,
    LockUser,
    UnlockUser,
    SetUserProfileImage,
    DeleteUserProfileImage,
    UpdateUserMetadata,
    GetOAuthAccessToken,
    UsersGetOrganizationMemberships,
    UsersGetOrganizationInvitations,
    VerifyPassword,
    VerifyTOTP,
    DisableMFA,
    DeleteBackupCode,
    UserPasskeyDelete,
    UserWeb3WalletDelete,
    DeleteTOTP,
    DeleteExternalAccount,
    InstanceGetOrganizationMemberships,
    SetUserPasswordCompromised,
    UnsetUserPasswordCompromised,
    RemoveUserPassword,
    ReplaceUserMetadata,
    ReplaceUserEmailAddress,
    ReplaceUserPhoneNumber,
    ListUserTrustedDevices,
    RevokeUserTrustedDevice,
    GetUserBillingSubscription,
    GetUserBillingCreditBalance,
    AdjustUserBillingCreditBalance,
    CreateOrganization,
    CreateOrganizationMembership,
    CreateOrganizationInvitation,
);

impl Op {
    pub(crate) fn index(self) -> usize {
        Self::ALL.iter().position(|o| *o == self).unwrap_or(0)
    }

    /// `PATCH /users/{id}`, `PATCH` and `PUT /users/{id}/metadata` share a per-user limit.
    pub(crate) fn is_per_user_limited(self) -> bool {
        matches!(
            self,
            Op::UpdateUser | Op::UpdateUserMetadata | Op::ReplaceUserMetadata
        )
    }

    /// The first API version that has the operation (`None`: every version).
    pub(crate) fn since_version(self) -> Option<&'static str> {
        match self {
            Op::SetUserPasswordCompromised | Op::UnsetUserPasswordCompromised => Some("2025-11-10"),
            _ => None,
        }
    }
}
