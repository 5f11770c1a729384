//! String enums that keep values they do not know.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Declares a string enum with a catch-all variant that keeps the raw string, so
/// a value Clerk adds later decodes instead of failing the whole response.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            @catch_all $(#[$cmeta:meta])* $catch:ident;
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            $(#[$cmeta])*
            $catch(String),
        }

        impl $name {
        /// The wire value.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $text, )*
                    Self::$catch(other) => other,
                }
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                match value {
                    $( $text => Self::$variant, )*
                    other => Self::$catch(other.to_owned()),
                }
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                match value.as_str() {
                    $( $text => Self::$variant, )*
                    _ => Self::$catch(value),
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::convert::Infallible;
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Ok(Self::from(value))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_str(StrVisitor::<$name>(std::marker::PhantomData))
            }
        }
    };
}

/// Visits a string without allocating for known values.
struct StrVisitor<T>(std::marker::PhantomData<T>);

impl<T> Visitor<'_> for StrVisitor<T>
where
    T: for<'a> From<&'a str> + From<String>,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<T, E> {
        Ok(T::from(value))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<T, E> {
        Ok(T::from(value))
    }
}

string_enum! {
    /// The `object` field of a resource: what kind of object a JSON document is.
    pub enum ObjectType {
        @catch_all
        /// A kind this crate does not know (or an empty string when the payload had
        /// no `object` key), kept as sent.
        Unknown;
        /// `user`
        User => "user",
        /// `email_address`
        EmailAddress => "email_address",
        /// `phone_number`
        PhoneNumber => "phone_number",
        /// `web3_wallet`
        Web3Wallet => "web3_wallet",
        /// `passkey`
        Passkey => "passkey",
        /// `external_account`
        ExternalAccount => "external_account",
        /// `google_account` (legacy external account)
        GoogleAccount => "google_account",
        /// `facebook_account` (legacy external account)
        FacebookAccount => "facebook_account",
        /// `saml_account`
        SamlAccount => "saml_account",
        /// `enterprise_account`
        EnterpriseAccount => "enterprise_account",
        /// `organization`
        Organization => "organization",
        /// `organization_membership`
        OrganizationMembership => "organization_membership",
        /// `organization_invitation`
        OrganizationInvitation => "organization_invitation",
        /// `oauth_access_token`
        OauthAccessToken => "oauth_access_token",
        /// `total_count`
        TotalCount => "total_count",
        /// `trusted_device`
        TrustedDevice => "trusted_device",
        /// `commerce_subscription`
        CommerceSubscription => "commerce_subscription",
        /// `commerce_subscription_item`
        CommerceSubscriptionItem => "commerce_subscription_item",
        /// `commerce_plan`
        CommercePlan => "commerce_plan",
        /// `commerce_payment_method`
        CommercePaymentMethod => "commerce_payment_method",
        /// `commerce_payer`
        CommercePayer => "commerce_payer",
        /// `commerce_source` (a payment source, API version 2025-04-10)
        CommerceSource => "commerce_source",
        /// `feature` (of a billing plan)
        Feature => "feature",
        /// `commerce_credit_balance`
        CommerceCreditBalance => "commerce_credit_balance",
        /// `commerce_credit_ledger`
        CommerceCreditLedger => "commerce_credit_ledger",
    }
}

impl Default for ObjectType {
    fn default() -> Self {
        Self::Unknown(String::new())
    }
}

string_enum! {
    /// The `object` of a verification: which verification schema it follows.
    pub enum VerificationKind {
        @catch_all
        /// A kind this crate does not know, kept as sent.
        Unknown;
        /// `verification_otp`: a one-time code sent by email or SMS.
        Otp => "verification_otp",
        /// `verification_admin`: set by an administrator or the Backend API.
        Admin => "verification_admin",
        /// `verification_from_oauth`: verified through an OAuth provider.
        FromOauth => "verification_from_oauth",
        /// `verification_ticket`: verified with a ticket (invitation, impersonation).
        Ticket => "verification_ticket",
        /// `verification_saml`
        Saml => "verification_saml",
        /// `verification_email_link`
        EmailLink => "verification_email_link",
        /// `verification_scim`: provisioned by a directory.
        Scim => "verification_scim",
        /// `verification_oauth`
        Oauth => "verification_oauth",
        /// `verification_google_one_tap`
        GoogleOneTap => "verification_google_one_tap",
        /// `verification_web3`
        Web3 => "verification_web3",
        /// `verification_passkey`
        Passkey => "verification_passkey",
    }
}

string_enum! {
    /// The state of a verification.
    pub enum VerificationStatus {
        @catch_all
        /// A status this crate does not know, kept as sent.
        Unknown;
        /// Not verified yet.
        Unverified => "unverified",
        /// Verified.
        Verified => "verified",
        /// The attempt failed.
        Failed => "failed",
        /// The attempt expired.
        Expired => "expired",
        /// The identification can be transferred to a new sign-up.
        Transferable => "transferable",
    }
}

impl Default for VerificationStatus {
    fn default() -> Self {
        Self::Unknown(String::new())
    }
}

string_enum! {
    /// How an identification was (or is being) verified. OAuth strategies are open
    /// ended (`oauth_google`, `from_oauth_github`, `oauth_custom_acme`…) and decode as
    /// [`VerificationStrategy::Other`]; see [`VerificationStrategy::oauth_provider`].
    pub enum VerificationStrategy {
        @catch_all
        /// Any other strategy, including every `oauth_*` and `from_oauth_*` one.
        Other;
        /// `phone_code`
        PhoneCode => "phone_code",
        /// `email_code`
        EmailCode => "email_code",
        /// `reset_password_email_code`
        ResetPasswordEmailCode => "reset_password_email_code",
        /// `email_link`
        EmailLink => "email_link",
        /// `admin`
        Admin => "admin",
        /// `ticket`
        Ticket => "ticket",
        /// `saml`
        Saml => "saml",
        /// `scim`
        Scim => "scim",
        /// `google_one_tap`
        GoogleOneTap => "google_one_tap",
        /// `passkey`
        Passkey => "passkey",
        /// `web3_metamask_signature`
        Web3MetamaskSignature => "web3_metamask_signature",
        /// `web3_base_signature`
        Web3BaseSignature => "web3_base_signature",
        /// `web3_coinbase_wallet_signature`
        Web3CoinbaseWalletSignature => "web3_coinbase_wallet_signature",
        /// `web3_okx_wallet_signature`
        Web3OkxWalletSignature => "web3_okx_wallet_signature",
        /// `web3_solana_signature`
        Web3SolanaSignature => "web3_solana_signature",
    }
}

impl Default for VerificationStrategy {
    fn default() -> Self {
        Self::Other(String::new())
    }
}

impl VerificationStrategy {
    /// For `oauth_<provider>` and `from_oauth_<provider>` strategies, the strategy
    /// name of the provider (`oauth_google` for both `oauth_google` and
    /// `from_oauth_google`).
    pub fn oauth_provider(&self) -> Option<&str> {
        let s = self.as_str();
        if s.starts_with("oauth_") {
            Some(s)
        } else {
            s.strip_prefix("from_")
                .filter(|rest| rest.starts_with("oauth_"))
        }
    }
}

string_enum! {
    /// The status of an organization invitation.
    pub enum InvitationStatus {
        @catch_all
        /// A status this crate does not know, kept as sent.
        Unknown;
        /// Waiting for the invitee.
        Pending => "pending",
        /// Accepted.
        Accepted => "accepted",
        /// Revoked by the organization.
        Revoked => "revoked",
        /// Expired.
        Expired => "expired",
    }
}

string_enum! {
    /// Which kind of code a TOTP verification accepted.
    pub enum TotpCodeType {
        @catch_all
        /// A kind this crate does not know, kept as sent.
        Unknown;
        /// A code from the authenticator app.
        Totp => "totp",
        /// A backup code (now used up).
        BackupCode => "backup_code",
    }
}

string_enum! {
    /// The protocol of an enterprise account.
    pub enum EnterpriseProtocol {
        @catch_all
        /// A protocol this crate does not know, kept as sent.
        Unknown;
        /// OpenID Connect / OAuth.
        Oauth => "oauth",
        /// SAML.
        Saml => "saml",
    }
}

string_enum! {
    /// The state an email address or phone number is created in
    /// (`email_address_identification_status` of a user creation).
    pub enum IdentificationStatus {
        @catch_all
        /// A status this crate does not know, sent as given.
        Unknown;
        /// Created verified (the default).
        Verified => "verified",
        /// Reserved: unverified, usable for sign-in, and claimable by no other user.
        Reserved => "reserved",
        /// Unverified: neither usable for sign-in nor locked (the replace endpoints
        /// take it; it can lock a user out).
        Unverified => "unverified",
    }
}

/// `Default` for string enums: the catch-all with an empty string, what a
/// missing or `null` value decodes to.
macro_rules! default_unknown {
    ($($name:ident => $catch:ident),* $(,)?) => {$(
        impl Default for $name {
            fn default() -> Self {
                Self::$catch(String::new())
            }
        }
    )*};
}

string_enum! {
    /// The platform of a trusted device.
    pub enum TrustedDevicePlatform {
        @catch_all
        /// A platform this crate does not know, kept as sent.
        Unknown;
        /// `ios`
        Ios => "ios",
        /// `android`
        Android => "android",
    }
}

string_enum! {
    /// The state of a trusted device.
    pub enum TrustedDeviceStatus {
        @catch_all
        /// A status this crate does not know, kept as sent.
        Unknown;
        /// Enrolled and trusted.
        Active => "active",
        /// Revoked: no longer trusted.
        Revoked => "revoked",
    }
}

string_enum! {
    /// The state of a billing subscription.
    pub enum SubscriptionStatus {
        @catch_all
        /// A status this crate does not know, kept as sent.
        Unknown;
        /// `active`
        Active => "active",
        /// `past_due`
        PastDue => "past_due",
        /// `canceled`
        Canceled => "canceled",
        /// `ended`
        Ended => "ended",
        /// `abandoned`
        Abandoned => "abandoned",
        /// `incomplete`
        Incomplete => "incomplete",
    }
}

string_enum! {
    /// The state of one item (plan) of a billing subscription.
    pub enum SubscriptionItemStatus {
        @catch_all
        /// A status this crate does not know, kept as sent.
        Unknown;
        /// `active`
        Active => "active",
        /// `canceled`
        Canceled => "canceled",
        /// `expired`
        Expired => "expired",
        /// `ended`
        Ended => "ended",
        /// `past_due`
        PastDue => "past_due",
        /// `upcoming`
        Upcoming => "upcoming",
        /// `incomplete`
        Incomplete => "incomplete",
        /// `abandoned`
        Abandoned => "abandoned",
    }
}

string_enum! {
    /// The billing period of a subscription item.
    pub enum PlanPeriod {
        @catch_all
        /// A period this crate does not know, kept as sent.
        Unknown;
        /// Billed monthly.
        Month => "month",
        /// Billed yearly.
        Annual => "annual",
    }
}

string_enum! {
    /// The kind of a payment method.
    pub enum PaymentType {
        @catch_all
        /// A kind this crate does not know, kept as sent.
        Unknown;
        /// `card`
        Card => "card",
        /// `link`
        Link => "link",
        /// `payer-credits`
        PayerCredits => "payer-credits",
    }
}

string_enum! {
    /// The state of a payment method.
    pub enum PaymentMethodStatus {
        @catch_all
        /// A status this crate does not know, kept as sent.
        Unknown;
        /// `active`
        Active => "active",
        /// `disconnected`
        Disconnected => "disconnected",
    }
}

string_enum! {
    /// Which way a credit-balance adjustment goes.
    pub enum CreditAction {
        @catch_all
        /// An action this crate does not know, sent as given.
        Unknown;
        /// Adds credit.
        Increase => "increase",
        /// Removes credit.
        Decrease => "decrease",
    }
}

default_unknown! {
    TrustedDevicePlatform => Unknown,
    TrustedDeviceStatus => Unknown,
    SubscriptionStatus => Unknown,
    SubscriptionItemStatus => Unknown,
    PlanPeriod => Unknown,
    PaymentType => Unknown,
    PaymentMethodStatus => Unknown,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_values_round_trip() {
        let status: VerificationStatus = serde_json::from_str(r#""brand_new""#).unwrap();
        assert_eq!(status, VerificationStatus::Unknown("brand_new".into()));
        assert_eq!(serde_json::to_string(&status).unwrap(), r#""brand_new""#);
        let known: ObjectType = serde_json::from_str(r#""user""#).unwrap();
        assert_eq!(known, ObjectType::User);
    }

    #[test]
    fn oauth_provider_of_strategies() {
        assert_eq!(
            VerificationStrategy::from("from_oauth_google").oauth_provider(),
            Some("oauth_google")
        );
        assert_eq!(
            VerificationStrategy::from("oauth_custom_acme").oauth_provider(),
            Some("oauth_custom_acme")
        );
        assert_eq!(VerificationStrategy::EmailCode.oauth_provider(), None);
    }
}
