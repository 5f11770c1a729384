//! Trusted devices and billing, in the spec's `TrustedDevice` and `Commerce*` shapes.

use serde_json::{Value, json};

use crate::model::{CreditEntry, Subscription, TrustedDevice, User};

/// `CommerceMoneyResponse` for `amount` cents.
fn money(amount: i64, currency: &str) -> Value {
    let symbol = match currency {
        "USD" => "$",
        "EUR" => "€",
        "GBP" => "£",
        other => other,
    };
    let sign = if amount < 0 { "-" } else { "" };
    let abs = amount.unsigned_abs();
    json!({
        "amount": amount,
        "amount_formatted": format!("{sign}{symbol}{}.{:02}", abs / 100, abs % 100),
        "currency": currency,
        "currency_symbol": symbol,
    })
}

pub(crate) fn trusted_device_json(d: &TrustedDevice) -> Value {
    let mut v = json!({
        "object": "trusted_device",
        "id": d.id,
        "platform": d.platform,
        "app_identifier": d.app_identifier,
        "name": d.name,
        "algorithm": "ES256",
        "status": if d.revoked_at.is_some() { "revoked" } else { "active" },
        "created_at": d.created_at,
        "updated_at": d.updated_at,
        "last_used_at": d.last_used_at,
    });
    if let (Some(at), Some(obj)) = (d.revoked_at, v.as_object_mut()) {
        obj.insert("revoked_at".into(), at.into());
    }
    v
}

/// The subscription in the shape of the version asked for: before 2025-11-10 the plan
/// carried flat amounts, items a `payment_source_id` and the next payment a `time`.
pub(crate) fn subscription_json(u: &User, s: &Subscription, legacy: bool) -> Value {
    let mut v = current_subscription_json(u, s);
    if legacy {
        let fee = money(s.amount, &s.currency);
        let annual = s.amount * 12;
        if let Some(next) = v.get_mut("next_payment").and_then(Value::as_object_mut) {
            next.insert("time".into(), s.period_end.into());
        }
        if let Some(item) = v
            .pointer_mut("/subscription_items/0")
            .and_then(Value::as_object_mut)
        {
            item.insert(
                "payment_source_id".into(),
                format!("cps_{}", s.id.trim_start_matches("csub_")).into(),
            );
            if item.get("status").and_then(Value::as_str) == Some("canceled") {
                // 2025-04-10 items had no `canceled` state.
                item.insert("status".into(), "ended".into());
            }
            item.insert(
                "proration_date".into(),
                crate::time::rfc3339(s.period_start)[..10].into(),
            );
            if let Some(payer) = item.get_mut("payer").and_then(Value::as_object_mut) {
                for k in ["first_name", "last_name", "email"] {
                    if payer.get(k).is_some_and(Value::is_null) {
                        payer.insert(k.into(), "".into());
                    }
                }
                payer.insert("image_url".into(), "".into());
            }
            if let Some(plan) = item.get_mut("plan").and_then(Value::as_object_mut) {
                plan.insert("amount".into(), s.amount.into());
                plan.insert("amount_formatted".into(), fee["amount_formatted"].clone());
                plan.insert("annual_amount".into(), annual.into());
                plan.insert(
                    "annual_amount_formatted".into(),
                    money(annual, &s.currency)["amount_formatted"].clone(),
                );
                plan.insert("annual_monthly_amount".into(), s.amount.into());
                plan.insert(
                    "annual_monthly_amount_formatted".into(),
                    fee["amount_formatted"].clone(),
                );
                plan.insert("currency".into(), s.currency.clone().into());
                plan.insert("currency_symbol".into(), fee["currency_symbol"].clone());
                plan.insert("features".into(), json!([]));
                plan.insert("payer_type".into(), json!(["user"]));
                plan.insert("description".into(), "".into());
                plan.insert("avatar_url".into(), "".into());
            }
        }
    }
    v
}

fn current_subscription_json(u: &User, s: &Subscription) -> Value {
    let fee = money(s.amount, &s.currency);
    let annual = if s.period == "annual" {
        money(s.amount * 12, &s.currency)
    } else {
        Value::Null
    };
    let item_status = match s.status.as_str() {
        "canceled" | "ended" | "past_due" | "incomplete" | "abandoned" => s.status.as_str(),
        _ => "active",
    };
    let ended = matches!(s.status.as_str(), "ended" | "canceled");
    json!({
        "object": "commerce_subscription",
        "id": s.id,
        "instance_id": "ins_emulator",
        "status": s.status,
        "payer_id": s.payer_id,
        "created_at": s.created_at,
        "updated_at": s.created_at,
        "active_at": s.created_at,
        "past_due_at": if s.status == "past_due" { Some(s.period_end) } else { None },
        "subscription_items": [{
            "object": "commerce_subscription_item",
            "id": s.item_id,
            "instance_id": "ins_emulator",
            "status": item_status,
            "plan_id": s.plan_id,
            "plan": {
                "object": "commerce_plan",
                "id": s.plan_id,
                "name": s.plan_name,
                "fee": fee,
                "annual_monthly_fee": if s.period == "annual" { fee.clone() } else { Value::Null },
                "annual_fee": annual,
                "description": Value::Null,
                "product_id": "prod_emulator",
                "is_default": false,
                "is_recurring": true,
                "publicly_visible": true,
                "has_base_fee": s.amount > 0,
                "for_payer_type": "user",
                "slug": s.plan_slug,
                "avatar_url": Value::Null,
                "free_trial_enabled": false,
                "free_trial_days": Value::Null,
            },
            "plan_period": s.period,
            "payer_id": s.payer_id,
            "payer": {
                "object": "commerce_payer",
                "id": s.payer_id,
                "instance_id": "ins_emulator",
                "user_id": u.id,
                "first_name": u.first_name,
                "last_name": u.last_name,
                "email": u.primary_email(),
                "created_at": s.created_at,
                "updated_at": s.created_at,
            },
            "is_free_trial": false,
            "period_start": s.period_start,
            "period_end": s.period_end,
            "canceled_at": if ended { Some(s.period_end) } else { None },
            "past_due_at": if s.status == "past_due" { Some(s.period_end) } else { None },
            "ended_at": if s.status == "ended" { Some(s.period_end) } else { None },
            "created_at": s.created_at,
            "updated_at": s.created_at,
        }],
        "next_payment": { "date": s.period_end, "amount": money(s.amount, &s.currency) },
        "eligible_for_free_trial": false,
    })
}

/// `CommerceCreditBalanceResponse`: the ledger's sum, `null` for a user who never had credits.
pub(crate) fn credit_balance_json(u: &User) -> Value {
    let balance = u.extras.credit_ledger.first().map(|first| {
        let total: i64 = u.extras.credit_ledger.iter().map(|e| e.amount).sum();
        money(total, &first.currency)
    });
    json!({ "object": "commerce_credit_balance", "balance": balance })
}

pub(crate) fn ledger_json(u: &User, e: &CreditEntry) -> Value {
    json!({
        "object": "commerce_credit_ledger",
        "id": e.id,
        "payer_id": u.extras.subscription.as_ref().map_or_else(|| format!("cpayer_{}", u.id.trim_start_matches("user_")), |s| s.payer_id.clone()),
        "amount": money(e.amount, &e.currency),
        "source_type": "grant",
        "source_id": e.idempotency_key,
        "note": e.note,
        "created_at": crate::time::rfc3339(e.created_at),
    })
}
