use serde::{Deserialize, Serialize};

use super::null_as_default;
use super::{VerificationKind, VerificationStatus, VerificationStrategy};
use crate::ClerkError;

/// The verification of an identification (email address, phone number, web3
/// wallet, passkey, external, SAML or enterprise account).
///
/// The spec has eleven verification schemas (`verification_otp`,
/// `verification_oauth`, …) that share most fields. They are decoded into this one
/// struct: fields a variant does not have are `None`, and [`Verification::kind`]
/// says which variant it is, even when the payload has no `object` key (real
/// payloads sometimes omit it).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Verification {
    /// The verification schema, when the payload names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<VerificationKind>,
    /// Whether the identification is verified.
    #[serde(deserialize_with = "null_as_default")]
    pub status: VerificationStatus,
    /// How it was verified.
    #[serde(deserialize_with = "null_as_default")]
    pub strategy: VerificationStrategy,
    /// Attempts made so far, when the strategy counts them.
    pub attempts: Option<i64>,
    /// When the verification attempt expires (Unix ms).
    pub expire_at: Option<i64>,
    /// The client that completed the verification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified_at_client: Option<String>,
    /// The delivery channel of a phone code (`verification_otp`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The nonce of a web3 or passkey verification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The message signed in a web3 or passkey verification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Where to send the user to finish an OAuth or SAML verification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_verification_redirect_url: Option<String>,
    /// Why an OAuth or SAML verification failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ClerkError>,
}

impl Verification {
    /// Whether the identification is verified.
    pub fn is_verified(&self) -> bool {
        self.status == VerificationStatus::Verified
    }

    /// The verification schema: the `object` key when present, else inferred from
    /// the strategy.
    pub fn kind(&self) -> VerificationKind {
        if let Some(kind) = &self.object {
            return kind.clone();
        }
        use VerificationStrategy as S;
        match &self.strategy {
            S::PhoneCode | S::EmailCode | S::ResetPasswordEmailCode => VerificationKind::Otp,
            S::EmailLink => VerificationKind::EmailLink,
            S::Admin => VerificationKind::Admin,
            S::Ticket => VerificationKind::Ticket,
            S::Saml => VerificationKind::Saml,
            S::Scim => VerificationKind::Scim,
            S::GoogleOneTap => VerificationKind::GoogleOneTap,
            S::Passkey => VerificationKind::Passkey,
            S::Web3MetamaskSignature
            | S::Web3BaseSignature
            | S::Web3CoinbaseWalletSignature
            | S::Web3OkxWalletSignature
            | S::Web3SolanaSignature => VerificationKind::Web3,
            S::Other(s) if s.starts_with("from_oauth_") => VerificationKind::FromOauth,
            S::Other(s) if s.starts_with("oauth_") => VerificationKind::Oauth,
            S::Other(s) => VerificationKind::Unknown(s.clone()),
        }
    }
}
