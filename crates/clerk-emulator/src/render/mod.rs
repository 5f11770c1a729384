//! Clerk JSON renderings of the stored records. Borrowing `Serialize` views: a GET renders
//! straight from the store into bytes without building a `serde_json::Value` tree.

use serde::Serialize;
use serde_json::Value;

use crate::model::{
    Email, ExternalAccount, MAX_ATTEMPTS, Metadata, Passkey, Phone, StoredMetadata, User, Wallet,
};
use crate::store::InstanceData;

mod billing;
mod orgs;

pub(crate) use billing::{
    credit_balance_json, ledger_json, subscription_json, trusted_device_json,
};
pub(crate) use orgs::{MembershipView, invitation_view, membership_view, organization_view};

/// What a rendering needs besides the record: the clock and where images are served.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub(crate) now: i64,
    pub(crate) origin: &'a str,
    pub(crate) data: &'a InstanceData,
}

impl Ctx<'_> {
    pub(crate) fn image_url(&self, image_id: Option<&str>) -> String {
        match image_id {
            Some(id) => format!("{}/_emulator/images/{id}", self.origin),
            None => format!("{}/_emulator/images/default", self.origin),
        }
    }
}

#[derive(Serialize)]
struct AdminVerification {
    object: &'static str,
    status: &'static str,
    strategy: &'static str,
    attempts: Option<i64>,
    expire_at: Option<i64>,
    verified_at_client: Option<String>,
}

/// What a reserved (not yet verified) identification carries.
const fn unverified(strategy: &'static str) -> AdminVerification {
    AdminVerification {
        object: "verification_otp",
        status: "unverified",
        strategy,
        attempts: None,
        expire_at: None,
        verified_at_client: None,
    }
}

const ADMIN: AdminVerification = AdminVerification {
    object: "verification_admin",
    status: "verified",
    strategy: "admin",
    attempts: None,
    expire_at: None,
    verified_at_client: None,
};

#[derive(Serialize)]
pub(crate) struct EmailView<'a> {
    id: &'a str,
    object: &'static str,
    email_address: &'a str,
    reserved: bool,
    verification: AdminVerification,
    linked_to: [(); 0],
    matches_sso_connection: bool,
    created_at: i64,
    updated_at: i64,
}

pub(crate) fn email_view(e: &Email) -> EmailView<'_> {
    EmailView {
        id: &e.id,
        object: "email_address",
        email_address: &e.email_address,
        reserved: e.reserved,
        verification: if e.reserved {
            unverified("email_code")
        } else {
            ADMIN
        },
        linked_to: [],
        matches_sso_connection: false,
        created_at: e.created_at,
        updated_at: e.updated_at,
    }
}

#[derive(Serialize)]
pub(crate) struct PhoneView<'a> {
    id: &'a str,
    object: &'static str,
    phone_number: &'a str,
    reserved_for_second_factor: bool,
    default_second_factor: bool,
    reserved: bool,
    verification: AdminVerification,
    linked_to: [(); 0],
    backup_codes: Option<()>,
    created_at: i64,
    updated_at: i64,
}

pub(crate) fn phone_view(p: &Phone) -> PhoneView<'_> {
    PhoneView {
        id: &p.id,
        object: "phone_number",
        phone_number: &p.phone_number,
        reserved_for_second_factor: false,
        default_second_factor: false,
        reserved: p.reserved,
        verification: if p.reserved {
            unverified("phone_code")
        } else {
            ADMIN
        },
        linked_to: [],
        backup_codes: None,
        created_at: p.created_at,
        updated_at: p.updated_at,
    }
}

#[derive(Serialize)]
struct WalletView<'a> {
    id: &'a str,
    object: &'static str,
    web3_wallet: &'a str,
    verification: AdminVerification,
    created_at: i64,
    updated_at: i64,
}

#[derive(Serialize)]
struct PasskeyVerification {
    object: &'static str,
    status: &'static str,
    strategy: &'static str,
    nonce: &'static str,
    message: Option<String>,
    attempts: Option<i64>,
    expire_at: Option<i64>,
    verified_at_client: Option<String>,
}

#[derive(Serialize)]
struct PasskeyView<'a> {
    id: &'a str,
    object: &'static str,
    name: &'a str,
    last_used_at: i64,
    verification: PasskeyVerification,
}

fn passkey_view(p: &Passkey) -> PasskeyView<'_> {
    PasskeyView {
        id: &p.id,
        object: "passkey",
        name: &p.name,
        last_used_at: p.last_used_at,
        verification: PasskeyVerification {
            object: "verification_passkey",
            status: "verified",
            strategy: "passkey",
            nonce: "nonce",
            message: None,
            attempts: None,
            expire_at: None,
            verified_at_client: None,
        },
    }
}

#[derive(Serialize)]
struct OauthVerification<'a> {
    object: &'static str,
    status: &'static str,
    strategy: &'a str,
    attempts: Option<i64>,
    expire_at: i64,
    verified_at_client: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct ExternalAccountView<'a> {
    object: &'static str,
    id: &'a str,
    provider: &'a str,
    identification_id: &'a str,
    provider_user_id: &'a str,
    approved_scopes: &'a str,
    email_address: &'a str,
    email_address_verified: bool,
    first_name: &'a str,
    last_name: &'a str,
    avatar_url: &'a str,
    image_url: Option<&'a str>,
    username: Option<&'a str>,
    phone_number: Option<&'a str>,
    public_metadata: &'a Metadata,
    label: Option<&'a str>,
    created_at: i64,
    updated_at: i64,
    verification: OauthVerification<'a>,
}

pub(crate) fn external_account_view(a: &ExternalAccount) -> ExternalAccountView<'_> {
    ExternalAccountView {
        object: "external_account",
        id: &a.id,
        provider: &a.provider,
        identification_id: &a.identification_id,
        provider_user_id: &a.provider_user_id,
        approved_scopes: &a.approved_scopes,
        email_address: &a.email_address,
        email_address_verified: true,
        first_name: &a.first_name,
        last_name: &a.last_name,
        avatar_url: a.image_url.as_deref().unwrap_or(""),
        image_url: a.image_url.as_deref(),
        username: a.username.as_deref(),
        phone_number: a.phone_number.as_deref(),
        public_metadata: &a.public_metadata,
        label: a.label.as_deref(),
        created_at: a.created_at,
        updated_at: a.updated_at,
        verification: OauthVerification {
            object: "verification_oauth",
            status: "verified",
            strategy: &a.provider,
            attempts: None,
            expire_at: a.created_at + 600_000,
            verified_at_client: None,
        },
    }
}

#[derive(Serialize)]
pub(crate) struct UserView<'a> {
    id: &'a str,
    object: &'static str,
    external_id: Option<&'a str>,
    primary_email_address_id: Option<&'a str>,
    primary_phone_number_id: Option<&'a str>,
    primary_web3_wallet_id: Option<&'a str>,
    username: Option<&'a str>,
    first_name: Option<&'a str>,
    last_name: Option<&'a str>,
    locale: Option<&'a str>,
    profile_image_url: String,
    image_url: String,
    has_image: bool,
    public_metadata: &'a StoredMetadata,
    private_metadata: &'a StoredMetadata,
    unsafe_metadata: &'a StoredMetadata,
    email_addresses: Vec<EmailView<'a>>,
    phone_numbers: Vec<PhoneView<'a>>,
    web3_wallets: Vec<WalletView<'a>>,
    passkeys: Vec<PasskeyView<'a>>,
    password_enabled: bool,
    two_factor_enabled: bool,
    totp_enabled: bool,
    backup_code_enabled: bool,
    mfa_enabled_at: Option<i64>,
    mfa_disabled_at: Option<i64>,
    password_last_updated_at: Option<i64>,
    external_accounts: Vec<ExternalAccountView<'a>>,
    saml_accounts: [(); 0],
    enterprise_accounts: [(); 0],
    organization_memberships: Vec<MembershipView<'a>>,
    last_sign_in_at: Option<i64>,
    banned: bool,
    locked: bool,
    deprovisioned: bool,
    lockout_expires_in_seconds: Option<i64>,
    verification_attempts_remaining: Option<i64>,
    updated_at: i64,
    created_at: i64,
    delete_self_enabled: bool,
    create_organization_enabled: bool,
    create_organizations_limit: Option<i64>,
    last_active_at: Option<i64>,
    legal_accepted_at: Option<i64>,
    bypass_client_trust: bool,
    scim: Option<()>,
}

pub(crate) fn user_view<'a>(u: &'a User, ctx: Ctx<'a>) -> UserView<'a> {
    let locked = u.is_locked(ctx.now);
    let lockout = match (locked, u.locked_until) {
        (true, Some(i64::MAX)) | (false, _) | (true, None) => None,
        (true, Some(t)) => Some((t - ctx.now + 999) / 1000),
    };
    let image_url = ctx.image_url(u.image_id.as_deref());
    let totp_enabled = u.totp_secret.is_some();
    UserView {
        id: &u.id,
        object: "user",
        external_id: u.external_id.as_deref(),
        primary_email_address_id: u.primary_email_address_id.as_deref(),
        primary_phone_number_id: u.primary_phone_number_id.as_deref(),
        primary_web3_wallet_id: u.primary_web3_wallet_id.as_deref(),
        username: u.username.as_deref(),
        first_name: u.first_name.as_deref(),
        last_name: u.last_name.as_deref(),
        locale: u.locale.as_deref(),
        profile_image_url: image_url.clone(),
        image_url,
        has_image: u.image_id.is_some(),
        public_metadata: &u.public_metadata,
        private_metadata: &u.private_metadata,
        unsafe_metadata: &u.unsafe_metadata,
        email_addresses: u.emails.iter().map(email_view).collect(),
        phone_numbers: u.phones.iter().map(phone_view).collect(),
        web3_wallets: u.wallets.iter().map(wallet_view).collect(),
        passkeys: u.passkeys.iter().map(passkey_view).collect(),
        password_enabled: u.password.is_some(),
        two_factor_enabled: totp_enabled || !u.backup_codes.is_empty(),
        totp_enabled,
        backup_code_enabled: !u.backup_codes.is_empty(),
        mfa_enabled_at: u.mfa_enabled_at,
        mfa_disabled_at: u.mfa_disabled_at,
        password_last_updated_at: u.password_last_updated_at,
        external_accounts: u
            .external_accounts
            .iter()
            .map(external_account_view)
            .collect(),
        saml_accounts: [],
        enterprise_accounts: [],
        organization_memberships: ctx
            .data
            .memberships_of(&u.id)
            .filter_map(|m| membership_view(m, ctx, false))
            .collect(),
        last_sign_in_at: u.last_sign_in_at,
        banned: u.banned,
        locked,
        deprovisioned: false,
        lockout_expires_in_seconds: lockout,
        verification_attempts_remaining: Some(if locked { 0 } else { MAX_ATTEMPTS }),
        updated_at: u.updated_at,
        created_at: u.created_at,
        delete_self_enabled: u.delete_self_enabled,
        create_organization_enabled: u.create_organization_enabled,
        create_organizations_limit: u.create_organizations_limit,
        last_active_at: u.last_active_at,
        legal_accepted_at: u.legal_accepted_at,
        bypass_client_trust: u.bypass_client_trust,
        scim: None,
    }
}

fn wallet_view(w: &Wallet) -> WalletView<'_> {
    WalletView {
        id: &w.id,
        object: "web3_wallet",
        web3_wallet: &w.web3_wallet,
        verification: ADMIN,
        created_at: w.created_at,
        updated_at: w.updated_at,
    }
}

pub(crate) fn user_json(u: &User, ctx: Ctx<'_>) -> Vec<u8> {
    serde_json::to_vec(&user_view(u, ctx)).unwrap_or_default()
}

#[derive(Serialize)]
pub(crate) struct TokenView<'a> {
    object: &'static str,
    external_account_id: &'a str,
    provider_user_id: &'a str,
    token: &'a str,
    expires_at: Option<i64>,
    provider: &'a str,
    public_metadata: &'a Metadata,
    label: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scopes: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_secret: Option<&'a str>,
}

pub(crate) fn token_view(a: &ExternalAccount) -> Option<TokenView<'_>> {
    let t = a.token.as_ref()?;
    Some(TokenView {
        object: "oauth_access_token",
        external_account_id: &a.id,
        provider_user_id: &a.provider_user_id,
        token: &t.token,
        expires_at: t.expires_at,
        provider: &a.provider,
        public_metadata: &a.public_metadata,
        label: a.label.as_deref(),
        scopes: t.scopes.as_deref(),
        id_token: t.id_token.as_deref(),
        token_secret: t.token_secret.as_deref(),
    })
}

pub(crate) fn deleted_object(object: &str, id: &str) -> Value {
    serde_json::json!({ "object": object, "id": id, "deleted": true })
}
