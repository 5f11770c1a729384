// Over 600 lines on purpose: one type per Commerce* schema of the spec, which refer to
// each other; kept in one file so the schema graph reads in one place.
//! Billing: a user's subscription and credit balance (`Commerce*` schemas).
//!
//! Amounts are [`CommerceMoney`]: integer cents plus Clerk's formatted text. Where
//! the spec has two schemas of the same shape (`CommerceTotalsResponse` and
//! `CommerceTotalsResponse-2`, `CommerceDiscountsResponse` and
//! `BillingDiscountsResponse`…), one type serves both. The models are the union of
//! the vendored API versions: fields only one version has (2025-04-10's
//! `payment_source`, `next_invoice`, the plan's flat `amount`…) are `Option`s left
//! out when absent.

use serde::{Deserialize, Serialize};

use super::null_as_default;
use super::{
    ObjectType, PaymentMethodStatus, PaymentType, PlanPeriod, SubscriptionItemStatus,
    SubscriptionStatus,
};

/// An amount of money (`CommerceMoneyResponse`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CommerceMoney {
    /// In cents (negative for a decrease).
    #[serde(deserialize_with = "null_as_default")]
    pub amount: i64,
    /// Formatted, such as `$49.99`.
    #[serde(deserialize_with = "null_as_default")]
    pub amount_formatted: String,
    /// Currency code, such as `USD`.
    #[serde(deserialize_with = "null_as_default")]
    pub currency: String,
    /// Currency symbol, such as `$`.
    #[serde(deserialize_with = "null_as_default")]
    pub currency_symbol: String,
}

/// A user's billing subscription (`CommerceSubscription`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CommerceSubscription {
    /// Always [`ObjectType::CommerceSubscription`].
    #[serde(deserialize_with = "null_as_default")]
    pub object: ObjectType,
    /// Subscription id.
    #[serde(deserialize_with = "null_as_default")]
    pub id: String,
    /// The instance it belongs to.
    #[serde(deserialize_with = "null_as_default")]
    pub instance_id: String,
    /// Its state.
    #[serde(deserialize_with = "null_as_default")]
    pub status: SubscriptionStatus,
    /// The payer.
    #[serde(deserialize_with = "null_as_default")]
    pub payer_id: String,
    /// Creation (Unix ms).
    #[serde(deserialize_with = "null_as_default")]
    pub created_at: i64,
    /// Last update (Unix ms).
    #[serde(deserialize_with = "null_as_default")]
    pub updated_at: i64,
    /// When it became active (Unix ms).
    pub active_at: Option<i64>,
    /// When it became past due (Unix ms).
    pub past_due_at: Option<i64>,
    /// The plans subscribed to.
    #[serde(deserialize_with = "null_as_default")]
    pub subscription_items: Vec<CommerceSubscriptionItem>,
    /// The next scheduled payment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_payment: Option<CommerceSubscriptionNextPayment>,
    /// Whether the payer may still start a free trial.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eligible_for_free_trial: Option<bool>,
}

/// The next payment of a subscription (`CommerceSubscriptionNextPayment`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CommerceSubscriptionNextPayment {
    /// Due date (Unix ms).
    #[serde(deserialize_with = "null_as_default")]
    pub date: i64,
    /// Time of the payment (Unix ms; API version 2025-04-10 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<i64>,
    /// The base plan fee (per-unit charges are in `totals`).
    #[serde(deserialize_with = "null_as_default")]
    pub amount: CommerceMoney,
    /// Per-unit totals (seats…).
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub per_unit_totals: Vec<CommercePerUnitTotal>,
    /// What renewal will bill.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub totals: Option<CommerceTotals>,
}

/// One plan of a subscription (`CommerceSubscriptionItem`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CommerceSubscriptionItem {
    /// Always [`ObjectType::CommerceSubscriptionItem`].
    #[serde(deserialize_with = "null_as_default")]
    pub object: ObjectType,
    /// Item id.
    #[serde(deserialize_with = "null_as_default")]
    pub id: String,
    /// The instance.
    #[serde(deserialize_with = "null_as_default")]
    pub instance_id: String,
    /// Its state.
    #[serde(deserialize_with = "null_as_default")]
    pub status: SubscriptionItemStatus,
    /// Current amount (API version 2025-04-10 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<CommerceMoney>,
    /// Credit information (payment-attempt events only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credit: Option<CommerceSubscriptionCredit>,
    /// Credits breakdown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credits: Option<CommerceCredits>,
    /// The plan's id.
    pub plan_id: Option<String>,
    /// The price's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_id: Option<String>,
    /// The plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<CommercePlan>,
    /// `month` or `annual`.
    #[serde(deserialize_with = "null_as_default")]
    pub plan_period: PlanPeriod,
    /// The payment method.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<CommercePaymentMethod>,
    /// The payment source (API version 2025-04-10 only; later: `payment_method`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_source: Option<CommercePaymentSource>,
    /// The payment source's id (API version 2025-04-10 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_source_id: Option<String>,
    /// Paid over the item's lifetime.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifetime_paid: Option<CommerceMoney>,
    /// The next payment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_payment: Option<CommerceSubscriptionItemNextPayment>,
    /// The next invoice (API version 2025-04-10 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_invoice: Option<CommerceSubscriptionItemNextPayment>,
    /// The payer's id.
    #[serde(deserialize_with = "null_as_default")]
    pub payer_id: String,
    /// The payer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payer: Option<CommercePayer>,
    /// Whether this is a free trial.
    #[serde(deserialize_with = "null_as_default")]
    pub is_free_trial: bool,
    /// Start of the current period (Unix ms).
    #[serde(deserialize_with = "null_as_default")]
    pub period_start: i64,
    /// End of the current period (Unix ms).
    pub period_end: Option<i64>,
    /// The day the item was prorated from (`YYYY-MM-DD`), in some responses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proration_date: Option<String>,
    /// Cancellation (Unix ms).
    pub canceled_at: Option<i64>,
    /// When it became past due (Unix ms).
    pub past_due_at: Option<i64>,
    /// When it ended (Unix ms).
    pub ended_at: Option<i64>,
    /// Creation (Unix ms).
    #[serde(deserialize_with = "null_as_default")]
    pub created_at: i64,
    /// Last update (Unix ms).
    #[serde(deserialize_with = "null_as_default")]
    pub updated_at: i64,
    /// Seats, for seat-based billing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seats: Option<CommerceSeats>,
    /// Totals of this item.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub totals: Option<CommerceTotals>,
}

/// Credit of a subscription item in a payment attempt (`CommerceSubscriptionCreditResponse`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CommerceSubscriptionCredit {
    /// The credit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<CommerceMoney>,
    /// Share of the billing cycle remaining, in percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cycle_remaining_percent: Option<f64>,
}

/// Credits applied to a charge (`CommerceCreditsResponse`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CommerceCredits {
    /// Credit for the unused part of a previous plan.
    pub proration: Option<CommerceProrationCredit>,
    /// Credit from the payer's balance.
    pub payer: Option<CommercePayerCredit>,
    /// All credits.
    #[serde(deserialize_with = "null_as_default")]
    pub total: CommerceMoney,
}

/// Proration credit (`CommerceProrationCreditDetailResponse`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CommerceProrationCredit {
    /// The credit.
    #[serde(deserialize_with = "null_as_default")]
    pub amount: CommerceMoney,
    /// Days left in the cycle.
    #[serde(deserialize_with = "null_as_default")]
    pub cycle_days_remaining: i64,
    /// Days in the cycle.
    #[serde(deserialize_with = "null_as_default")]
    pub cycle_days_total: i64,
    /// Share of the cycle left, in percent.
    #[serde(deserialize_with = "null_as_default")]
    pub cycle_remaining_percent: f64,
}

/// Credit drawn from the payer's balance (`CommercePayerCreditResponse`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CommercePayerCredit {
    /// Balance left after this charge.
    #[serde(deserialize_with = "null_as_default")]
    pub remaining_balance: CommerceMoney,
    /// Amount applied to this charge.
    #[serde(deserialize_with = "null_as_default")]
    pub applied_amount: CommerceMoney,
}

/// A billing plan (`CommercePlan`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CommercePlan {
    /// Always [`ObjectType::CommercePlan`].
    #[serde(deserialize_with = "null_as_default")]
    pub object: ObjectType,
    /// Plan id.
    #[serde(deserialize_with = "null_as_default")]
    pub id: String,
    /// Name.
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// Monthly fee.
    pub fee: Option<CommerceMoney>,
    /// Monthly fee when billed annually.
    pub annual_monthly_fee: Option<CommerceMoney>,
    /// Annual fee.
    pub annual_fee: Option<CommerceMoney>,
    /// Description.
    pub description: Option<String>,
    /// The product (deprecated by Clerk).
    #[serde(deserialize_with = "null_as_default")]
    pub product_id: String,
    /// Whether it is the default plan.
    #[serde(deserialize_with = "null_as_default")]
    pub is_default: bool,
    /// Whether it recurs.
    #[serde(deserialize_with = "null_as_default")]
    pub is_recurring: bool,
    /// Whether it is publicly visible.
    #[serde(deserialize_with = "null_as_default")]
    pub publicly_visible: bool,
    /// Whether it has a base fee.
    #[serde(deserialize_with = "null_as_default")]
    pub has_base_fee: bool,
    /// The payer type it is for (`user`, `org`).
    #[serde(deserialize_with = "null_as_default")]
    pub for_payer_type: String,
    /// URL slug.
    #[serde(deserialize_with = "null_as_default")]
    pub slug: String,
    /// Avatar URL.
    pub avatar_url: Option<String>,
    /// Included features.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub features: Vec<CommerceFeature>,
    /// Whether a free trial is offered.
    #[serde(deserialize_with = "null_as_default")]
    pub free_trial_enabled: bool,
    /// Length of the free trial in days.
    pub free_trial_days: Option<i64>,
    /// Monthly amount in cents (API version 2025-04-10 only; later: `fee`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    /// `amount`, formatted (2025-04-10 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_formatted: Option<String>,
    /// Annual amount in cents (2025-04-10 only; later: `annual_fee`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annual_amount: Option<i64>,
    /// `annual_amount`, formatted (2025-04-10 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annual_amount_formatted: Option<String>,
    /// Monthly amount when billed annually, in cents (2025-04-10 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annual_monthly_amount: Option<i64>,
    /// `annual_monthly_amount`, formatted (2025-04-10 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annual_monthly_amount_formatted: Option<String>,
    /// Currency code (2025-04-10 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Currency symbol (2025-04-10 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency_symbol: Option<String>,
    /// Billing interval (2025-04-10 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<i64>,
    /// Payer types that can use the plan (2025-04-10 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payer_type: Option<Vec<String>>,
    /// Billing period (2025-04-10 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
    /// Per-unit prices (seats…).
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub unit_prices: Vec<CommercePlanUnitPrice>,
}

/// A feature of a plan (`FeatureResponse`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CommerceFeature {
    /// Always [`ObjectType::Feature`].
    #[serde(deserialize_with = "null_as_default")]
    pub object: ObjectType,
    /// Feature id.
    #[serde(deserialize_with = "null_as_default")]
    pub id: String,
    /// Name.
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// URL slug.
    #[serde(deserialize_with = "null_as_default")]
    pub slug: String,
    /// Avatar URL.
    pub avatar_url: Option<String>,
}

/// Per-unit pricing of a plan (`CommercePlanUnitPrice`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CommercePlanUnitPrice {
    /// The unit, such as `seats`.
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// Units per pricing block.
    #[serde(deserialize_with = "null_as_default")]
    pub block_size: i64,
    /// The tiers.
    #[serde(deserialize_with = "null_as_default")]
    pub tiers: Vec<CommercePlanUnitPriceTier>,
}

/// One tier of per-unit pricing (`CommercePlanUnitPriceTier`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CommercePlanUnitPriceTier {
    /// First block of the tier (inclusive).
    #[serde(deserialize_with = "null_as_default")]
    pub starts_at_block: i64,
    /// Last block of the tier (inclusive); `None`: unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ends_after_block: Option<i64>,
    /// Price per block.
    #[serde(deserialize_with = "null_as_default")]
    pub fee_per_block: CommerceMoney,
}

/// A payment method (`CommercePaymentMethodResponse`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CommercePaymentMethod {
    /// Always [`ObjectType::CommercePaymentMethod`].
    #[serde(deserialize_with = "null_as_default")]
    pub object: ObjectType,
    /// Payment method id.
    #[serde(deserialize_with = "null_as_default")]
    pub id: String,
    /// The payer.
    #[serde(deserialize_with = "null_as_default")]
    pub payer_id: String,
    /// `card`, `link` or `payer-credits`.
    #[serde(deserialize_with = "null_as_default")]
    pub payment_type: PaymentType,
    /// Whether it is the payer's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_default: Option<bool>,
    /// The payment gateway.
    #[serde(deserialize_with = "null_as_default")]
    pub gateway: String,
    /// Its id at the gateway.
    #[serde(deserialize_with = "null_as_default")]
    pub gateway_external_id: String,
    /// The account id at the gateway.
    pub gateway_external_account_id: Option<String>,
    /// Last four digits of a card.
    pub last4: Option<String>,
    /// `active` or `disconnected`.
    #[serde(deserialize_with = "null_as_default")]
    pub status: PaymentMethodStatus,
    /// Wallet type, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wallet_type: Option<String>,
    /// Card type, if a card.
    pub card_type: Option<String>,
    /// Card expiry year.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry_year: Option<i64>,
    /// Card expiry month.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry_month: Option<i64>,
    /// Creation (Unix ms).
    #[serde(deserialize_with = "null_as_default")]
    pub created_at: i64,
    /// Last update (Unix ms).
    #[serde(deserialize_with = "null_as_default")]
    pub updated_at: i64,
    /// Whether it can be removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_removable: Option<bool>,
}

/// A payment source (`CommercePaymentSourceResponse`, API version 2025-04-10; later
/// versions have [`CommercePaymentMethod`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CommercePaymentSource {
    /// `commerce_source`.
    #[serde(deserialize_with = "null_as_default")]
    pub object: ObjectType,
    /// Payment source id.
    #[serde(deserialize_with = "null_as_default")]
    pub id: String,
    /// The payer.
    #[serde(deserialize_with = "null_as_default")]
    pub payer_id: String,
    /// `card`, `apple_pay` or `google_pay`.
    #[serde(deserialize_with = "null_as_default")]
    pub payment_method: String,
    /// Whether it is the payer's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_default: Option<bool>,
    /// The payment gateway.
    #[serde(deserialize_with = "null_as_default")]
    pub gateway: String,
    /// Its id at the gateway.
    #[serde(deserialize_with = "null_as_default")]
    pub gateway_external_id: String,
    /// The account id at the gateway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway_external_account_id: Option<String>,
    /// Last four digits of a card.
    #[serde(deserialize_with = "null_as_default")]
    pub last4: String,
    /// `active` or `disconnected`.
    #[serde(deserialize_with = "null_as_default")]
    pub status: PaymentMethodStatus,
    /// Wallet type.
    #[serde(deserialize_with = "null_as_default")]
    pub wallet_type: String,
    /// Card type.
    #[serde(deserialize_with = "null_as_default")]
    pub card_type: String,
    /// Card expiry year.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry_year: Option<i64>,
    /// Card expiry month.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry_month: Option<i64>,
    /// Creation (Unix ms).
    #[serde(deserialize_with = "null_as_default")]
    pub created_at: i64,
    /// Last update (Unix ms).
    #[serde(deserialize_with = "null_as_default")]
    pub updated_at: i64,
    /// Whether it can be removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_removable: Option<bool>,
}

/// The next payment of a subscription item (`CommerceSubscriptionItemNextPaymentResponse`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CommerceSubscriptionItemNextPayment {
    /// The base plan fee.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<CommerceMoney>,
    /// Due date (Unix ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<i64>,
    /// Per-unit totals.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub per_unit_totals: Vec<CommercePerUnitTotal>,
    /// What renewal will bill.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub totals: Option<CommerceTotals>,
}

/// Who pays (`CommercePayerResponse`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CommercePayer {
    /// Always [`ObjectType::CommercePayer`].
    #[serde(deserialize_with = "null_as_default")]
    pub object: ObjectType,
    /// Payer id.
    #[serde(deserialize_with = "null_as_default")]
    pub id: String,
    /// The instance.
    #[serde(deserialize_with = "null_as_default")]
    pub instance_id: String,
    /// The user, for user payers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// First name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Email address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The organization, for organization payers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// The organization's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_name: Option<String>,
    /// Image URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// Credit balance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credits_balance: Option<CommerceMoney>,
    /// Creation (Unix ms).
    #[serde(deserialize_with = "null_as_default")]
    pub created_at: i64,
    /// Last update (Unix ms).
    #[serde(deserialize_with = "null_as_default")]
    pub updated_at: i64,
}

/// Seats of a seat-billed item (`CommerceSubscriptionItemSeatsResponse`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CommerceSeats {
    /// Seats billed; `None`: unlimited.
    pub quantity: Option<i64>,
    /// Cost per tier.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tiers: Vec<CommercePerUnitTotalTier>,
}

/// Totals of a charge (`CommerceTotalsResponse`, `CommerceTotalsResponse-2`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CommerceTotals {
    /// Before tax.
    #[serde(deserialize_with = "null_as_default")]
    pub subtotal: CommerceMoney,
    /// The base fee.
    #[serde(deserialize_with = "null_as_default")]
    pub base_fee: CommerceMoney,
    /// Tax.
    #[serde(deserialize_with = "null_as_default")]
    pub tax_total: CommerceMoney,
    /// The whole charge.
    #[serde(deserialize_with = "null_as_default")]
    pub grand_total: CommerceMoney,
    /// Per-unit totals.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub per_unit_totals: Vec<CommercePerUnitTotal>,
    /// Credits applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credits: Option<CommerceCredits>,
    /// Discounts applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discounts: Option<CommerceDiscounts>,
}

/// Per-unit total of a charge (`CommercePerUnitTotal`, `CommercePerUnitTotal-2`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CommercePerUnitTotal {
    /// The unit, such as `seats`.
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// Units per pricing block.
    #[serde(deserialize_with = "null_as_default")]
    pub block_size: i64,
    /// Totals per tier.
    #[serde(deserialize_with = "null_as_default")]
    pub tiers: Vec<CommercePerUnitTotalTier>,
}

/// One tier of a per-unit total (`CommercePerUnitTotalTier`, `…-2`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CommercePerUnitTotalTier {
    /// Units billed in the tier; `None`: unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<i64>,
    /// Price per block.
    #[serde(deserialize_with = "null_as_default")]
    pub fee_per_block: CommerceMoney,
    /// The tier's total.
    #[serde(deserialize_with = "null_as_default")]
    pub total: CommerceMoney,
}

/// Discounts of a charge (`CommerceDiscountsResponse`, `BillingDiscountsResponse`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CommerceDiscounts {
    /// The proration discount for time already passed.
    pub proration: Option<CommerceProrationDiscount>,
    /// All discounts.
    #[serde(deserialize_with = "null_as_default")]
    pub total: CommerceMoney,
}

/// A proration discount (`CommerceProrationDiscountResponse`,
/// `BillingProrationDiscountDetail`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CommerceProrationDiscount {
    /// The discount.
    #[serde(deserialize_with = "null_as_default")]
    pub amount: CommerceMoney,
    /// Days of the cycle passed.
    #[serde(deserialize_with = "null_as_default")]
    pub cycle_days_passed: i64,
    /// Days in the cycle.
    #[serde(deserialize_with = "null_as_default")]
    pub cycle_days_total: i64,
    /// Share of the cycle passed, in percent.
    #[serde(deserialize_with = "null_as_default")]
    pub cycle_passed_percent: f64,
}

/// A payer's credit balance (`CommerceCreditBalanceResponse`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CommerceCreditBalance {
    /// Always [`ObjectType::CommerceCreditBalance`].
    #[serde(deserialize_with = "null_as_default")]
    pub object: ObjectType,
    /// The balance; `None` when the payer never had credits.
    pub balance: Option<CommerceMoney>,
}

/// One entry of the credit ledger: what an adjustment returns
/// (`CommerceCreditLedgerResponse`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CommerceCreditLedger {
    /// Always [`ObjectType::CommerceCreditLedger`].
    #[serde(deserialize_with = "null_as_default")]
    pub object: ObjectType,
    /// Ledger entry id.
    #[serde(deserialize_with = "null_as_default")]
    pub id: String,
    /// The payer whose balance changed.
    #[serde(deserialize_with = "null_as_default")]
    pub payer_id: String,
    /// The change: positive for an increase, negative for a decrease.
    #[serde(deserialize_with = "null_as_default")]
    pub amount: CommerceMoney,
    /// What originated it (`grant`…).
    #[serde(deserialize_with = "null_as_default")]
    pub source_type: String,
    /// The id of what originated it.
    #[serde(deserialize_with = "null_as_default")]
    pub source_id: String,
    /// The note given with the adjustment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Creation, as an RFC 3339 timestamp (this schema's one string timestamp).
    #[serde(deserialize_with = "null_as_default")]
    pub created_at: String,
}
