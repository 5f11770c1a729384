//! `POST /users/{user_id}/billing/credits`: the one billing write.

use http::Method;
use serde::Serialize;

use crate::models::CreditAction;
use crate::wire::{self, PathBuilder, Payload};
use crate::{
    BaseUrl, ClerkRequest, ClerkResponse, CommerceCreditLedger, Error, Operation, OperationInfo,
    RetryClass,
};

/// `POST /users/{user_id}/billing/credits`: increases or decreases a user's credit
/// balance by `amount` cents, recorded as one ledger entry.
///
/// Returns the [`CommerceCreditLedger`] entry. The request carries an
/// `idempotency_key`: Clerk applies one key once and answers a repeat with the
/// original entry, so the request is retried like a read
/// ([`RetryClass::Idempotent`]) — keep the key with the intent (derive it from
/// your own record id) so a rerun after a crash does not adjust twice either.
/// The amount must be above zero and the key non-empty.
///
/// ```
/// # use clerk_core::{users::AdjustBillingCreditBalance, BaseUrl, Operation, RetryClass};
/// let op = AdjustBillingCreditBalance::increase("user_1", 500, "grant-2026-q1-user_1")
///     .currency("USD")
///     .note("loyalty grant");
/// let request = op.build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
/// assert_eq!(request.uri().path(), "/v1/users/user_1/billing/credits");
/// assert_eq!(
///     &request.body().as_bytes()[..],
///     br#"{"amount":500,"action":"increase","currency":"USD","idempotency_key":"grant-2026-q1-user_1","note":"loyalty grant"}"#
/// );
/// assert_eq!(op.info().retry_class, RetryClass::Idempotent);
/// assert!(AdjustBillingCreditBalance::decrease("user_1", 0, "k").build_request(&BaseUrl::default()).is_err());
/// # Ok::<(), clerk_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct AdjustBillingCreditBalance {
    #[serde(skip)]
    user_id: String,
    /// The change in cents, above zero.
    pub amount: i64,
    /// `increase` or `decrease`.
    pub action: CreditAction,
    /// Currency code; Clerk defaults to `USD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Applies the adjustment once however often it is sent.
    pub idempotency_key: String,
    /// A note for the ledger entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl AdjustBillingCreditBalance {
    /// An adjustment of `user_id`'s balance by `amount` cents in direction `action`.
    pub fn new(
        user_id: impl Into<String>,
        action: CreditAction,
        amount: i64,
        idempotency_key: impl Into<String>,
    ) -> Self {
        Self {
            user_id: user_id.into(),
            amount,
            action,
            currency: None,
            idempotency_key: idempotency_key.into(),
            note: None,
        }
    }

    /// Adds `amount` cents of credit.
    pub fn increase(
        user_id: impl Into<String>,
        amount: i64,
        idempotency_key: impl Into<String>,
    ) -> Self {
        Self::new(user_id, CreditAction::Increase, amount, idempotency_key)
    }

    /// Removes `amount` cents of credit.
    pub fn decrease(
        user_id: impl Into<String>,
        amount: i64,
        idempotency_key: impl Into<String>,
    ) -> Self {
        Self::new(user_id, CreditAction::Decrease, amount, idempotency_key)
    }

    /// The user id.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// The currency code (`USD`, `EUR`…).
    #[must_use]
    pub fn currency(mut self, currency: impl Into<String>) -> Self {
        self.currency = Some(currency.into());
        self
    }

    /// A note for the ledger entry.
    #[must_use]
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

impl Operation for AdjustBillingCreditBalance {
    type Output = CommerceCreditLedger;

    fn info(&self) -> OperationInfo {
        OperationInfo::new(
            "AdjustUserBillingCreditBalance",
            "/users/{user_id}/billing/credits",
            RetryClass::Idempotent,
        )
    }

    fn build_request(&self, base: &BaseUrl) -> Result<ClerkRequest, Error> {
        if self.amount <= 0 {
            return Err(Error::invalid_request(format!(
                "`amount` must be above zero (cents; the action gives the direction), got {}",
                self.amount
            )));
        }
        if self.idempotency_key.is_empty() {
            return Err(Error::invalid_request(
                "`idempotency_key` must not be empty: it is what makes a resent adjustment apply once",
            ));
        }
        let path = PathBuilder::new("users")
            .id("user_id", &self.user_id)?
            .lit("billing")
            .lit("credits")
            .finish();
        let body = Payload::json(self)?;
        wire::request(Method::POST, base, &path, Some(body), self.info())
    }

    fn parse_response(&self, response: ClerkResponse) -> Result<Self::Output, Error> {
        wire::parse_object(response)
    }
}
