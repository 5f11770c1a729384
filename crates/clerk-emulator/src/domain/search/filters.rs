//! The List/Count filters of `GET /users` and `GET /users/count`, parsed once per query.

use crate::body::Query;
use crate::error::{ApiError, ApiResult};
use crate::model::User;
use crate::store::InstanceData;

/// `+id`/`-id` include/exclude filters: a user passes when it matches an include (if any) and
/// no exclude.
fn include_exclude<'a>(values: &[&'a str]) -> (Vec<&'a str>, Vec<&'a str>) {
    let mut inc = Vec::new();
    let mut exc = Vec::new();
    for v in values {
        if let Some(x) = v.strip_prefix('-') {
            exc.push(x);
        } else {
            inc.push(v.strip_prefix('+').unwrap_or(v));
        }
    }
    (inc, exc)
}

fn passes(inc: &[&str], exc: &[&str], candidates: &[&str]) -> bool {
    (inc.is_empty() || candidates.iter().any(|c| inc.contains(c)))
        && !candidates.iter().any(|c| exc.contains(c))
}

fn contains_ci(hay: &str, needle_lower: &str) -> bool {
    hay.to_lowercase().contains(needle_lower)
}

/// The List/Count filters of one query, parsed and checked.
pub(super) struct Filters<'q> {
    pub(super) emails: Vec<String>,
    pub(super) phones: Vec<&'q str>,
    pub(super) usernames: Vec<String>,
    pub(super) wallets: Vec<String>,
    pub(super) ext_inc: Vec<&'q str>,
    pub(super) ext_exc: Vec<&'q str>,
    pub(super) id_inc: Vec<&'q str>,
    pub(super) id_exc: Vec<&'q str>,
    pub(super) org_inc: Vec<&'q str>,
    pub(super) org_exc: Vec<&'q str>,
    pub(super) provider: Option<&'q str>,
    pub(super) provider_ids: Vec<&'q str>,
    pub(super) query: Option<String>,
    pub(super) email_q: Option<String>,
    pub(super) phone_q: Option<String>,
    pub(super) username_q: Option<String>,
    pub(super) name_q: Option<String>,
    pub(super) banned: Option<bool>,
    pub(super) la_before: Option<i64>,
    pub(super) la_after: Option<i64>,
    pub(super) la_since: Option<i64>,
    pub(super) c_before: Option<i64>,
    pub(super) c_after: Option<i64>,
    pub(super) ls_before: Option<i64>,
    pub(super) ls_after: Option<i64>,
}

impl<'q> Filters<'q> {
    pub(super) fn parse(q: &'q Query) -> ApiResult<Self> {
        // In this order: the first bad parameter is the one reported.
        let lower = |v: Vec<&str>| v.into_iter().map(str::to_lowercase).collect::<Vec<_>>();
        let emails = lower(q.list("email_address")?);
        let phones = q.list("phone_number")?;
        let usernames = lower(q.list("username")?);
        let wallets = lower(q.list("web3_wallet")?);
        let (ext_inc, ext_exc) = include_exclude(&q.list("external_id")?);
        let (id_inc, id_exc) = include_exclude(&q.list("user_id")?);
        let (org_inc, org_exc) = include_exclude(&q.list("organization_id")?);
        let provider = q.first("provider");
        let provider_ids = q.list("provider_user_id")?;
        if provider.is_some() == provider_ids.is_empty() {
            return Err(ApiError::value_invalid(
                if provider.is_some() {
                    "provider_user_id"
                } else {
                    "provider"
                },
                "provider and provider_user_id must be used together",
            ));
        }
        let text = |k: &str| q.first(k).filter(|s| !s.is_empty()).map(str::to_lowercase);
        Ok(Self {
            emails,
            phones,
            usernames,
            wallets,
            ext_inc,
            ext_exc,
            id_inc,
            id_exc,
            org_inc,
            org_exc,
            provider,
            provider_ids,
            query: text("query"),
            email_q: text("email_address_query"),
            phone_q: text("phone_number_query"),
            username_q: text("username_query"),
            name_q: text("name_query"),
            banned: q.boolean("banned")?,
            la_before: q.int("last_active_at_before")?,
            la_after: q.int("last_active_at_after")?,
            la_since: q.int("last_active_at_since")?,
            c_before: q.int("created_at_before")?,
            c_after: q.int("created_at_after")?,
            ls_before: q.int("last_sign_in_at_before")?,
            ls_after: q.int("last_sign_in_at_after")?,
        })
    }

    /// Whether every user matches: no filter is given (an empty text query is none).
    pub(super) fn keep_everyone(&self) -> bool {
        // Destructured whole, as in `matches`: a filter added to one cannot be left
        // out of the other.
        let Self {
            emails,
            phones,
            usernames,
            wallets,
            ext_inc,
            ext_exc,
            id_inc,
            id_exc,
            org_inc,
            org_exc,
            provider,
            provider_ids,
            query,
            email_q,
            phone_q,
            username_q,
            name_q,
            banned,
            la_before,
            la_after,
            la_since,
            c_before,
            c_after,
            ls_before,
            ls_after,
        } = self;
        emails.is_empty()
            && phones.is_empty()
            && usernames.is_empty()
            && wallets.is_empty()
            && ext_inc.is_empty()
            && ext_exc.is_empty()
            && id_inc.is_empty()
            && id_exc.is_empty()
            && org_inc.is_empty()
            && org_exc.is_empty()
            && provider.is_none()
            && provider_ids.is_empty()
            && [query, email_q, phone_q, username_q, name_q]
                .iter()
                .all(|t| t.is_none())
            && banned.is_none()
            && [
                la_before, la_after, la_since, c_before, c_after, ls_before, ls_after,
            ]
            .iter()
            .all(|t| t.is_none())
    }

    pub(super) fn matches(&self, data: &InstanceData, u: &User) -> bool {
        let before = |v: Option<i64>, t: Option<i64>| t.is_none_or(|t| v.is_some_and(|v| v < t));
        let after = |v: Option<i64>, t: Option<i64>| t.is_none_or(|t| v.is_some_and(|v| v > t));
        let Self {
            emails,
            phones,
            usernames,
            wallets,
            ext_inc,
            ext_exc,
            id_inc,
            id_exc,
            org_inc,
            org_exc,
            provider,
            provider_ids,
            query,
            email_q,
            phone_q,
            username_q,
            name_q,
            banned,
            la_before,
            la_after,
            la_since,
            c_before,
            c_after,
            ls_before,
            ls_after,
        } = self;
        if !emails.is_empty() && !u.emails.iter().any(|e| emails.contains(&e.email_address)) {
            return false;
        }
        if !phones.is_empty()
            && !u
                .phones
                .iter()
                .any(|p| phones.contains(&p.phone_number.as_str()))
        {
            return false;
        }
        if !usernames.is_empty() && !u.username.as_ref().is_some_and(|n| usernames.contains(n)) {
            return false;
        }
        if !wallets.is_empty() && !u.wallets.iter().any(|w| wallets.contains(&w.web3_wallet)) {
            return false;
        }
        if (!ext_inc.is_empty() || !ext_exc.is_empty())
            && !passes(ext_inc, ext_exc, u.external_id.as_deref().as_slice())
        {
            return false;
        }
        if !passes(id_inc, id_exc, &[u.id.as_str()]) {
            return false;
        }
        if !org_inc.is_empty() || !org_exc.is_empty() {
            let orgs: Vec<&str> = data
                .memberships_of(&u.id)
                .map(|m| m.organization_id.as_str())
                .collect();
            if !passes(org_inc, org_exc, &orgs) {
                return false;
            }
        }
        if let Some(p) = provider {
            let p = p.strip_prefix("oauth_").unwrap_or(p);
            if !u.external_accounts.iter().any(|a| {
                a.provider.strip_prefix("oauth_").unwrap_or(&a.provider) == p
                    && provider_ids.contains(&a.provider_user_id.as_str())
            }) {
                return false;
            }
        }
        if let Some(q) = &email_q
            && !u.emails.iter().any(|e| contains_ci(&e.email_address, q))
        {
            return false;
        }
        if let Some(q) = &phone_q
            && !u.phones.iter().any(|p| contains_ci(&p.phone_number, q))
        {
            return false;
        }
        if let Some(q) = &username_q
            && !u.username.as_deref().is_some_and(|n| contains_ci(n, q))
        {
            return false;
        }
        if let Some(q) = &name_q {
            let full = format!(
                "{} {}",
                u.first_name.as_deref().unwrap_or(""),
                u.last_name.as_deref().unwrap_or("")
            );
            if !contains_ci(full.trim(), q) {
                return false;
            }
        }
        if let Some(q) = &query {
            let hit = u.emails.iter().any(|e| contains_ci(&e.email_address, q))
                || u.phones.iter().any(|p| contains_ci(&p.phone_number, q))
                || u.wallets.iter().any(|w| contains_ci(&w.web3_wallet, q))
                || u.username.as_deref().is_some_and(|n| contains_ci(n, q))
                || contains_ci(&u.id, q)
                || u.first_name.as_deref().is_some_and(|n| contains_ci(n, q))
                || u.last_name.as_deref().is_some_and(|n| contains_ci(n, q));
            if !hit {
                return false;
            }
        }
        if banned.is_some_and(|b| b != u.banned) {
            return false;
        }
        before(u.last_active_at, *la_before)
            && after(u.last_active_at, *la_after)
            && la_since.is_none_or(|t| u.last_active_at.is_some_and(|v| v >= t))
            && before(Some(u.created_at), *c_before)
            && after(Some(u.created_at), *c_after)
            && before(u.last_sign_in_at, *ls_before)
            && after(u.last_sign_in_at, *ls_after)
    }
}
