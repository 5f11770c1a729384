//! The resources the Users API returns.
//!
//! Decoding is tolerant by design: Clerk adds fields and enum values over time, so
//! unknown keys are ignored, unknown enum values are kept in an `Unknown`/`Other`
//! variant, missing keys take their default and a `null` where the spec promises a
//! value decodes as the default. Timestamps are Unix milliseconds (`i64`) unless a
//! field says otherwise. Serializing a model gives back Clerk's wire shape.

use serde::{Deserialize, Deserializer};

mod billing;
mod enums;
mod identification;
mod organization;
mod responses;
mod trusted_device;
mod user;
mod verification;

pub use billing::{
    CommerceCreditBalance, CommerceCreditLedger, CommerceCredits, CommerceDiscounts,
    CommerceFeature, CommerceMoney, CommercePayer, CommercePayerCredit, CommercePaymentMethod,
    CommercePaymentSource, CommercePerUnitTotal, CommercePerUnitTotalTier, CommercePlan,
    CommercePlanUnitPrice, CommercePlanUnitPriceTier, CommerceProrationCredit,
    CommerceProrationDiscount, CommerceSeats, CommerceSubscription, CommerceSubscriptionCredit,
    CommerceSubscriptionItem, CommerceSubscriptionItemNextPayment, CommerceSubscriptionNextPayment,
    CommerceTotals,
};
pub use enums::{
    CreditAction, EnterpriseProtocol, IdentificationStatus, InvitationStatus, ObjectType,
    PaymentMethodStatus, PaymentType, PlanPeriod, SubscriptionItemStatus, SubscriptionStatus,
    TotpCodeType, TrustedDevicePlatform, TrustedDeviceStatus, VerificationKind, VerificationStatus,
    VerificationStrategy,
};
pub use identification::{
    EmailAddress, EnterpriseAccount, EnterpriseAccountConnection, ExternalAccount,
    IdentificationLink, Passkey, PhoneNumber, SamlAccount, SamlAccountConnection, Web3Wallet,
};
pub use organization::{
    Organization, OrganizationInvitation, OrganizationInvitationPublicOrganizationData,
    OrganizationInvitationPublicUserData, OrganizationInvitations, OrganizationMembership,
    OrganizationMembershipPublicUserData, OrganizationMemberships,
};
pub use responses::{
    DeletedObject, OAuthAccessToken, OAuthAccessTokens, TotalCount, UserIdResponse,
    VerifyPasswordResponse, VerifyTotpResponse,
};
pub use trusted_device::{TrustedDevice, TrustedDevices};
pub use user::{ScimUserMetadata, User};
pub use verification::Verification;

/// Free-form metadata (`public_metadata` and friends).
pub type Metadata = serde_json::Map<String, serde_json::Value>;

/// Decodes `null` as the type's default, so a field the spec declares non-null
/// does not fail a whole page when the server sends `null` anyway.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
