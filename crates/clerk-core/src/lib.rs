//! Sans-IO core of the Clerk Backend API client (Users resource).
//!
//! Models, one request type per operation, request building and response parsing,
//! and the one [`Error`] type. No runtime, no sockets: the [`Operation`] trait turns
//! a typed request into an [`http::Request`] and an [`http::Response`] back into a
//! typed result, so any HTTP stack can drive it.

mod api_version;
mod applied;
mod base_url;
mod body;
mod error;
pub mod models;
mod operation;
mod secret;
pub mod users;
mod wire;

pub use api_version::ApiVersion;
pub use applied::{Applied, AppliedEarlier};
pub use base_url::{BaseUrl, is_loopback_host};
pub use body::Body;
pub use error::{BoxError, ClerkError, ClerkErrors, Error, header_trace_id, retry_after};
pub use models::{
    CommerceCreditBalance, CommerceCreditLedger, CommerceSubscription, DeletedObject, EmailAddress,
    EnterpriseAccount, EnterpriseAccountConnection, ExternalAccount, IdentificationLink, Metadata,
    OAuthAccessToken, OAuthAccessTokens, Organization, OrganizationInvitation,
    OrganizationInvitations, OrganizationMembership, OrganizationMemberships, Passkey, PhoneNumber,
    SamlAccount, SamlAccountConnection, TotalCount, TrustedDevice, TrustedDevices, User,
    UserIdResponse, Verification, VerifyPasswordResponse, VerifyTotpResponse, Web3Wallet,
};
pub use operation::{
    ClerkRequest, ClerkResponse, Operation, OperationInfo, RetryClass, is_per_user_limited,
    removes_one_by_id,
};
pub use secret::{InstanceType, SecretKey};
pub use wire::MAX_RESPONSE_DEPTH;

/// The API version sent as `Clerk-API-Version` unless another is chosen:
/// [`ApiVersion::DEFAULT`].
pub const API_VERSION: &str = ApiVersion::DEFAULT.as_str();
