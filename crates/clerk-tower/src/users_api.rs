//! The Users resource: the 38 operations as async methods.

use clerk_core::users::{
    AdjustBillingCreditBalance, BanUser, BanUsers, CountUsers, CreateUser, DeleteBackupCodes,
    DeleteExternalAccount, DeletePasskey, DeleteProfileImage, DeleteTotp, DeleteUser,
    DeleteWeb3Wallet, DisableMfa, GetBillingCreditBalance, GetBillingSubscription,
    GetInstanceOrganizationMemberships, GetOAuthAccessTokens, GetOrganizationInvitations,
    GetOrganizationMemberships, GetUser, ListTrustedDevices, ListUsers, LockUser, RemovePassword,
    ReplaceEmailAddress, ReplacePhoneNumber, ReplaceUserMetadata, RevokeTrustedDevice,
    SetPasswordCompromised, SetProfileImage, UnbanUser, UnbanUsers, UnlockUser,
    UnsetPasswordCompromised, UpdateUser, UpdateUserMetadata, VerifyPassword, VerifyTotp,
};
use clerk_core::{
    ClerkRequest, ClerkResponse, CommerceCreditBalance, CommerceCreditLedger, CommerceSubscription,
    DeletedObject, EmailAddress, Error, OAuthAccessTokens, OrganizationInvitation,
    OrganizationInvitations, OrganizationMembership, OrganizationMemberships, PhoneNumber,
    TrustedDevice, TrustedDevices, User, UserIdResponse, VerifyPasswordResponse,
    VerifyTotpResponse,
};
use futures_core::Stream;
use tower::Service;

use crate::Clerk;
use crate::pagination::all_pages;

/// The Users resource of a [`Clerk`] client (from [`Clerk::users`]).
///
/// Methods whose operation has only required parameters take them directly; the
/// others take the request type of [`clerk_core::users`], whose builder methods set
/// the optional parameters.
#[derive(Debug)]
pub struct Users<'a, S> {
    clerk: &'a Clerk<S>,
}

impl<'a, S> Users<'a, S> {
    pub(crate) fn new(clerk: &'a Clerk<S>) -> Self {
        Self { clerk }
    }
}

impl<S> Users<'_, S>
where
    S: Service<ClerkRequest, Response = ClerkResponse, Error = Error>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send,
{
    /// One page of users (`GET /users`), newest first unless ordered otherwise. For every page, use [`list_all`](Self::list_all).
    pub async fn list(&self, request: ListUsers) -> Result<Vec<User>, Error> {
        self.clerk.execute(request).await
    }

    /// Creates a user (`POST /users`).
    ///
    /// Not idempotent: the default stack retries it only when the attempt provably did
    /// nothing. After an ambiguous failure the error says [`is_outcome_unknown`](Error::is_outcome_unknown):
    /// look the user up (by `external_id` or email) before creating it again.
    pub async fn create(&self, request: CreateUser) -> Result<User, Error> {
        self.clerk.execute(request).await
    }

    /// Updates a user (`PATCH /users/{user_id}`); Clerk allows 10 per 10 s per user, which the default stack paces.
    /// Under API version 2026-05-12 a request with metadata is refused before sending: use
    /// [`update_metadata`](Self::update_metadata) or [`replace_metadata`](Self::replace_metadata).
    pub async fn update(&self, request: UpdateUser) -> Result<User, Error> {
        self.clerk.execute(request).await
    }

    /// Uploads a profile image (`POST /users/{user_id}/profile_image`, multipart).
    pub async fn set_profile_image(&self, request: SetProfileImage) -> Result<User, Error> {
        self.clerk.execute(request).await
    }

    /// Deep-merges metadata into the user's (`PATCH /users/{user_id}/metadata`); `null` deletes a key. Paced to 10 per 10 s per user like [`update`](Self::update).
    pub async fn update_metadata(&self, request: UpdateUserMetadata) -> Result<User, Error> {
        self.clerk.execute(request).await
    }

    /// Replaces whole metadata fields (`PUT /users/{user_id}/metadata`): each kind given replaces
    /// the stored one, kinds left out stay. Paced to 10 per 10 s per user like [`update`](Self::update).
    pub async fn replace_metadata(&self, request: ReplaceUserMetadata) -> Result<User, Error> {
        self.clerk.execute(request).await
    }

    /// Marks the user's password compromised (`POST /users/{user_id}/password/set_compromised`,
    /// API version 2025-11-10 on): their next sign-in asks for a reset.
    pub async fn set_password_compromised(
        &self,
        request: SetPasswordCompromised,
    ) -> Result<User, Error> {
        self.clerk.execute(request).await
    }

    /// Lifts the compromised mark (`POST /users/{user_id}/password/unset_compromised`, API
    /// version 2025-11-10 on).
    pub async fn unset_password_compromised(
        &self,
        user_id: impl Into<String>,
    ) -> Result<User, Error> {
        self.clerk
            .execute(UnsetPasswordCompromised::new(user_id))
            .await
    }

    /// Removes the user's password (`POST /users/{user_id}/remove_password`).
    pub async fn remove_password(&self, request: RemovePassword) -> Result<User, Error> {
        self.clerk.execute(request).await
    }

    /// Replaces every email address of the user with one primary address (`PUT /users/{user_id}/email_address`).
    pub async fn replace_email_address(
        &self,
        request: ReplaceEmailAddress,
    ) -> Result<EmailAddress, Error> {
        self.clerk.execute(request).await
    }

    /// Replaces every phone number of the user with one primary number (`PUT /users/{user_id}/phone_number`).
    pub async fn replace_phone_number(
        &self,
        request: ReplacePhoneNumber,
    ) -> Result<PhoneNumber, Error> {
        self.clerk.execute(request).await
    }

    /// The user's active trusted devices (`GET /users/{user_id}/trusted_devices`).
    pub async fn trusted_devices(
        &self,
        user_id: impl Into<String>,
    ) -> Result<TrustedDevices, Error> {
        self.clerk.execute(ListTrustedDevices::new(user_id)).await
    }

    /// Revokes one trusted device (`DELETE /users/{user_id}/trusted_devices/{trusted_device_id}`).
    pub async fn revoke_trusted_device(
        &self,
        user_id: impl Into<String>,
        trusted_device_id: impl Into<String>,
    ) -> Result<TrustedDevice, Error> {
        self.clerk
            .execute(RevokeTrustedDevice::new(user_id, trusted_device_id))
            .await
    }

    /// The user's billing subscription (`GET /users/{user_id}/billing/subscription`).
    pub async fn billing_subscription(
        &self,
        user_id: impl Into<String>,
    ) -> Result<CommerceSubscription, Error> {
        self.clerk
            .execute(GetBillingSubscription::new(user_id))
            .await
    }

    /// The user's credit balance (`GET /users/{user_id}/billing/credits`).
    pub async fn billing_credit_balance(
        &self,
        user_id: impl Into<String>,
    ) -> Result<CommerceCreditBalance, Error> {
        self.clerk
            .execute(GetBillingCreditBalance::new(user_id))
            .await
    }

    /// Adjusts the user's credit balance (`POST /users/{user_id}/billing/credits`). Retried
    /// like a read: the request's `idempotency_key` makes Clerk apply it once and answer a
    /// repeat with the first ledger entry.
    pub async fn adjust_billing_credit_balance(
        &self,
        request: AdjustBillingCreditBalance,
    ) -> Result<CommerceCreditLedger, Error> {
        self.clerk.execute(request).await
    }

    /// The user's OAuth access tokens for one provider (`GET /users/{user_id}/oauth_access_tokens/{provider}`).
    pub async fn oauth_access_tokens(
        &self,
        request: GetOAuthAccessTokens,
    ) -> Result<OAuthAccessTokens, Error> {
        self.clerk.execute(request).await
    }

    /// One page of the user's organization memberships (`GET /users/{user_id}/organization_memberships`).
    pub async fn organization_memberships(
        &self,
        request: GetOrganizationMemberships,
    ) -> Result<OrganizationMemberships, Error> {
        self.clerk.execute(request).await
    }

    /// One page of the user's organization invitations (`GET /users/{user_id}/organization_invitations`).
    pub async fn organization_invitations(
        &self,
        request: GetOrganizationInvitations,
    ) -> Result<OrganizationInvitations, Error> {
        self.clerk.execute(request).await
    }

    /// One page of every organization membership of the instance (`GET /organization_memberships`).
    pub async fn instance_organization_memberships(
        &self,
        request: GetInstanceOrganizationMemberships,
    ) -> Result<OrganizationMemberships, Error> {
        self.clerk.execute(request).await
    }

    /// Every user matching the request's filters, page after page (see
    /// [`ListUsers`]): follows the `starting_after` cursor when ordered by
    /// `created_at` (the default), else the offset; keeps every filter on every
    /// page; stops on a short page; never loops on a page the server repeats.
    /// The page size is the request's `limit` (use 500 for bulk walks). An error
    /// (after the stack's retries) is yielded and ends the stream: to go on, list
    /// again with `starting_after` set to the last user you received.
    pub fn list_all(
        &self,
        request: ListUsers,
    ) -> impl Stream<Item = Result<User, Error>> + Send + 'static {
        all_pages(self.clerk.clone(), request)
    }

    /// How many users match the filters (`GET /users/count`).
    pub async fn count(&self, request: CountUsers) -> Result<i64, Error> {
        Ok(self.clerk.execute(request).await?.total_count)
    }

    /// Bans up to 50 users in one request (`POST /users/ban`).
    pub async fn ban_many<I>(&self, user_ids: I) -> Result<Vec<User>, Error>
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.clerk.execute(BanUsers::new(user_ids)).await
    }

    /// Lifts the ban of up to 50 users in one request (`POST /users/unban`).
    pub async fn unban_many<I>(&self, user_ids: I) -> Result<Vec<User>, Error>
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.clerk.execute(UnbanUsers::new(user_ids)).await
    }

    /// Every organization membership of the user, page after page.
    pub fn organization_memberships_all(
        &self,
        request: GetOrganizationMemberships,
    ) -> impl Stream<Item = Result<OrganizationMembership, Error>> + Send + 'static {
        all_pages(self.clerk.clone(), request)
    }

    /// Every organization invitation of the user, page after page.
    pub fn organization_invitations_all(
        &self,
        request: GetOrganizationInvitations,
    ) -> impl Stream<Item = Result<OrganizationInvitation, Error>> + Send + 'static {
        all_pages(self.clerk.clone(), request)
    }

    /// Every organization membership of the instance, page after page.
    pub fn instance_organization_memberships_all(
        &self,
        request: GetInstanceOrganizationMemberships,
    ) -> impl Stream<Item = Result<OrganizationMembership, Error>> + Send + 'static {
        all_pages(self.clerk.clone(), request)
    }

    /// Retrieves a user (`GET /users/{user_id}`).
    pub async fn get(&self, user_id: impl Into<String>) -> Result<User, Error> {
        self.clerk.execute(GetUser::new(user_id)).await
    }

    /// Deletes a user (`DELETE /users/{user_id}`). When the first attempt was
    /// applied but its answer lost, the resend's `404` means the user is gone:
    /// `Ok`, with [`DeletedObject::applied_earlier`] set (see [`Clerk::execute`]);
    /// an unknown id is an [`Error::is_not_found`] error.
    pub async fn delete(&self, user_id: impl Into<String>) -> Result<DeletedObject, Error> {
        self.clerk.execute(DeleteUser::new(user_id)).await
    }

    /// Bans a user: signs them out and blocks sign-ins (`POST /users/{user_id}/ban`).
    pub async fn ban(&self, user_id: impl Into<String>) -> Result<User, Error> {
        self.clerk.execute(BanUser::new(user_id)).await
    }

    /// Lifts a ban (`POST /users/{user_id}/unban`).
    pub async fn unban(&self, user_id: impl Into<String>) -> Result<User, Error> {
        self.clerk.execute(UnbanUser::new(user_id)).await
    }

    /// Locks a user's sign-ins (`POST /users/{user_id}/lock`).
    pub async fn lock(&self, user_id: impl Into<String>) -> Result<User, Error> {
        self.clerk.execute(LockUser::new(user_id)).await
    }

    /// Unlocks a user (`POST /users/{user_id}/unlock`).
    pub async fn unlock(&self, user_id: impl Into<String>) -> Result<User, Error> {
        self.clerk.execute(UnlockUser::new(user_id)).await
    }

    /// Deletes the user's profile image (`DELETE /users/{user_id}/profile_image`).
    pub async fn delete_profile_image(&self, user_id: impl Into<String>) -> Result<User, Error> {
        self.clerk.execute(DeleteProfileImage::new(user_id)).await
    }

    /// Disables every MFA method of the user (`DELETE /users/{user_id}/mfa`).
    pub async fn disable_mfa(&self, user_id: impl Into<String>) -> Result<UserIdResponse, Error> {
        self.clerk.execute(DisableMfa::new(user_id)).await
    }

    /// Deletes the user's backup codes (`DELETE /users/{user_id}/backup_code`).
    pub async fn delete_backup_codes(
        &self,
        user_id: impl Into<String>,
    ) -> Result<UserIdResponse, Error> {
        self.clerk.execute(DeleteBackupCodes::new(user_id)).await
    }

    /// Deletes the user's TOTP authenticator (`DELETE /users/{user_id}/totp`).
    pub async fn delete_totp(&self, user_id: impl Into<String>) -> Result<UserIdResponse, Error> {
        self.clerk.execute(DeleteTotp::new(user_id)).await
    }

    /// Deletes one passkey of the user (`DELETE /users/{user_id}/passkeys/{passkey_identification_id}`).
    pub async fn delete_passkey(
        &self,
        user_id: impl Into<String>,
        passkey_identification_id: impl Into<String>,
    ) -> Result<DeletedObject, Error> {
        self.clerk
            .execute(DeletePasskey::new(user_id, passkey_identification_id))
            .await
    }

    /// Deletes one web3 wallet of the user (`DELETE /users/{user_id}/web3_wallets/{web3_wallet_identification_id}`).
    pub async fn delete_web3_wallet(
        &self,
        user_id: impl Into<String>,
        web3_wallet_identification_id: impl Into<String>,
    ) -> Result<DeletedObject, Error> {
        self.clerk
            .execute(DeleteWeb3Wallet::new(
                user_id,
                web3_wallet_identification_id,
            ))
            .await
    }

    /// Deletes one external (OAuth) account of the user (`DELETE /users/{user_id}/external_accounts/{external_account_id}`).
    pub async fn delete_external_account(
        &self,
        user_id: impl Into<String>,
        external_account_id: impl Into<String>,
    ) -> Result<DeletedObject, Error> {
        self.clerk
            .execute(DeleteExternalAccount::new(user_id, external_account_id))
            .await
    }

    /// Checks a password against the user's (`POST /users/{user_id}/verify_password`). A wrong password is an error with status 422 (`form_password_incorrect`), not `verified: false`.
    pub async fn verify_password(
        &self,
        user_id: impl Into<String>,
        password: impl Into<String>,
    ) -> Result<VerifyPasswordResponse, Error> {
        self.clerk
            .execute(VerifyPassword::new(user_id, password))
            .await
    }

    /// Checks a TOTP or backup code (`POST /users/{user_id}/verify_totp`); a backup code is consumed. A wrong code is an error with status 422.
    pub async fn verify_totp(
        &self,
        user_id: impl Into<String>,
        code: impl Into<String>,
    ) -> Result<VerifyTotpResponse, Error> {
        self.clerk.execute(VerifyTotp::new(user_id, code)).await
    }
}
