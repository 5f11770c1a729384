//! Search: the filters, ordering and cursor of `GET /users` and `GET /users/count`.
//!
//! A filter naming users (`user_id`, `external_id`, `email_address`, `phone_number`,
//! `username`, `web3_wallet`) takes its candidates from the instance's indexes, so a lookup
//! costs the same among a million users as among ten: every filter is then applied to those
//! candidates as to every user, and they are walked in `(created_at, seq)` order from the
//! cursor, so the page is the one a scan of every user gives.

use std::cmp::Ordering;
use std::ops::ControlFlow;

use crate::body::Query;
use crate::error::{ApiError, ApiResult};
use crate::model::User;
use crate::store::{IdentKind, InstanceData};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortField {
    CreatedAt,
    UpdatedAt,
    EmailAddress,
    Web3Wallet,
    FirstName,
    LastName,
    PhoneNumber,
    Username,
    LastActiveAt,
    LastSignInAt,
}

fn parse_order(raw: Option<&str>) -> ApiResult<(SortField, bool)> {
    let raw = raw.unwrap_or("-created_at");
    let (desc, field) = match raw.as_bytes().first() {
        Some(b'-') => (true, &raw[1..]),
        Some(b'+') => (false, &raw[1..]),
        _ => (false, raw),
    };
    let f = match field {
        "created_at" => SortField::CreatedAt,
        "updated_at" => SortField::UpdatedAt,
        "email_address" => SortField::EmailAddress,
        "web3wallet" => SortField::Web3Wallet,
        "first_name" => SortField::FirstName,
        "last_name" => SortField::LastName,
        "phone_number" => SortField::PhoneNumber,
        "username" => SortField::Username,
        "last_active_at" => SortField::LastActiveAt,
        "last_sign_in_at" => SortField::LastSignInAt,
        _ => {
            return Err(ApiError::value_invalid(
                "order_by",
                "must be one of created_at, updated_at, email_address, web3wallet, first_name, last_name, phone_number, username, last_active_at, last_sign_in_at, with an optional + or - prefix (send + as %2B)",
            ));
        }
    };
    Ok((f, desc))
}

/// `None` sorts after every value ascending (and first descending), like SQL's default.
fn cmp_opt<T: Ord>(a: Option<T>, b: Option<T>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.cmp(&b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn cmp_users(a: &User, b: &User, f: SortField) -> Ordering {
    let lower = |s: Option<&str>| s.map(str::to_lowercase);
    let primary = match f {
        SortField::CreatedAt => a.created_at.cmp(&b.created_at),
        SortField::UpdatedAt => a.updated_at.cmp(&b.updated_at),
        SortField::EmailAddress => cmp_opt(a.primary_email(), b.primary_email()),
        SortField::Web3Wallet => cmp_opt(a.primary_wallet(), b.primary_wallet()),
        SortField::FirstName => cmp_opt(
            lower(a.first_name.as_deref()),
            lower(b.first_name.as_deref()),
        ),
        SortField::LastName => {
            cmp_opt(lower(a.last_name.as_deref()), lower(b.last_name.as_deref()))
        }
        SortField::PhoneNumber => cmp_opt(a.primary_phone(), b.primary_phone()),
        SortField::Username => cmp_opt(a.username.as_deref(), b.username.as_deref()),
        SortField::LastActiveAt => cmp_opt(a.last_active_at, b.last_active_at),
        SortField::LastSignInAt => cmp_opt(a.last_sign_in_at, b.last_sign_in_at),
    };
    primary.then(a.seq.cmp(&b.seq))
}

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

/// The order [`filter_users`] hands users over in.
#[derive(Debug, Clone, Copy)]
enum Walk {
    /// `(created_at, seq)` order (`desc`: reversed), strictly after `after` in that order.
    Created {
        desc: bool,
        after: Option<(i64, u64)>,
    },
    /// Any order: the caller counts them, or sorts them by another field.
    Any,
}

/// Whether [`filter_users`] narrows its candidates through the indexes (the tests compare
/// both ways).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Candidates {
    Indexed,
    Scan,
}

impl Candidates {
    /// Indexed, unless the indexes cannot name every user under a value.
    fn for_data(data: &InstanceData) -> Self {
        if data.indexes_exact() {
            Self::Indexed
        } else {
            Self::Scan
        }
    }
}

/// The `(created_at, seq)` keys of every user the include filters that name users can
/// keep, sorted: `None` when no such filter is given (every user is a candidate). Each filter's set holds every user it keeps (and, for
/// external ids, rarely one more), so the smallest one is taken and the filters decide.
fn indexed_candidates(
    data: &InstanceData,
    ids: &[&str],
    external_ids: &[&str],
    idents: [(IdentKind, &[&str]); 4],
) -> Option<Vec<(i64, u64)>> {
    let mut best: Option<Vec<(i64, u64)>> = None;
    let mut offer = |keys: Vec<(i64, u64)>| {
        if best.as_ref().is_none_or(|b| keys.len() < b.len()) {
            best = Some(keys);
        }
    };
    if !ids.is_empty() {
        offer(ids.iter().filter_map(|id| data.created_key(id)).collect());
    }
    if !external_ids.is_empty() {
        offer(
            external_ids
                .iter()
                .flat_map(|e| data.external_id_keys(e))
                .collect(),
        );
    }
    for (kind, values) in idents {
        if !values.is_empty() {
            offer(
                values
                    .iter()
                    .filter_map(|v| data.ident_owner(kind, v))
                    .filter_map(|id| data.created_key(id))
                    .collect(),
            );
        }
    }
    let mut keys = best?;
    keys.sort_unstable();
    keys.dedup();
    Some(keys)
}

/// The List/Count filters of one query, parsed and checked.
struct Filters<'q> {
    emails: Vec<String>,
    phones: Vec<&'q str>,
    usernames: Vec<String>,
    wallets: Vec<String>,
    ext_inc: Vec<&'q str>,
    ext_exc: Vec<&'q str>,
    id_inc: Vec<&'q str>,
    id_exc: Vec<&'q str>,
    org_inc: Vec<&'q str>,
    org_exc: Vec<&'q str>,
    provider: Option<&'q str>,
    provider_ids: Vec<&'q str>,
    query: Option<String>,
    email_q: Option<String>,
    phone_q: Option<String>,
    username_q: Option<String>,
    name_q: Option<String>,
    banned: Option<bool>,
    la_before: Option<i64>,
    la_after: Option<i64>,
    la_since: Option<i64>,
    c_before: Option<i64>,
    c_after: Option<i64>,
    ls_before: Option<i64>,
    ls_after: Option<i64>,
}

impl<'q> Filters<'q> {
    fn parse(q: &'q Query) -> ApiResult<Self> {
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
    fn keep_everyone(&self) -> bool {
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

    fn matches(&self, data: &InstanceData, u: &User) -> bool {
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
            && !passes(&ext_inc, &ext_exc, u.external_id.as_deref().as_slice())
        {
            return false;
        }
        if !passes(&id_inc, &id_exc, &[u.id.as_str()]) {
            return false;
        }
        if !org_inc.is_empty() || !org_exc.is_empty() {
            let orgs: Vec<&str> = data
                .memberships_of(&u.id)
                .map(|m| m.organization_id.as_str())
                .collect();
            if !passes(&org_inc, &org_exc, &orgs) {
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

/// Hands each user that matches the List/Count filters to `keep` in `walk`'s order,
/// until `keep` says it has enough; returns how many users it looked at.
fn filter_users<'a>(
    q: &Query,
    data: &'a InstanceData,
    walk: Walk,
    how: Candidates,
    mut keep: impl FnMut(&'a User) -> ControlFlow<()>,
) -> ApiResult<usize> {
    let filters = Filters::parse(q)?;
    let Filters {
        emails,
        phones,
        usernames,
        wallets,
        ext_inc,
        id_inc,
        ..
    } = &filters;
    fn as_strs(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    let (emails_q, usernames_q, wallets_q) =
        (as_strs(emails), as_strs(usernames), as_strs(wallets));
    let narrowed = match how {
        Candidates::Scan => None,
        Candidates::Indexed => indexed_candidates(
            data,
            id_inc,
            ext_inc,
            [
                (IdentKind::Email, &emails_q),
                (IdentKind::Phone, phones),
                (IdentKind::Username, &usernames_q),
                (IdentKind::Web3, &wallets_q),
            ],
        ),
    };
    let users: Box<dyn Iterator<Item = &'a User>> = match (narrowed, walk) {
        (Some(mut keys), Walk::Created { desc, after }) => {
            if let Some(a) = after {
                keys.retain(|k| if desc { *k < a } else { *k > a });
            }
            if desc {
                keys.reverse();
            }
            Box::new(keys.into_iter().filter_map(|k| data.user_at(k)))
        }
        (Some(keys), Walk::Any) => Box::new(keys.into_iter().filter_map(|k| data.user_at(k))),
        (None, Walk::Created { desc, after }) => data.users_by_created(desc, after),
        (None, Walk::Any) => Box::new(data.users.values().map(|u| &**u)),
    };
    let mut looked_at = 0;
    for u in users {
        looked_at += 1;
        if filters.matches(data, u) && keep(u).is_break() {
            break;
        }
    }
    Ok(looked_at)
}

/// The page of users a `GET /users` query selects: filtered, ordered, then cut by `offset` or
/// the `starting_after` cursor and `limit`.
pub(crate) fn list<'a>(q: &Query, data: &'a InstanceData) -> ApiResult<Vec<&'a User>> {
    list_with(q, data, Candidates::for_data(data)).map(|(page, _)| page)
}

/// [`list`], and how many users it looked at.
fn list_with<'a>(
    q: &Query,
    data: &'a InstanceData,
    how: Candidates,
) -> ApiResult<(Vec<&'a User>, usize)> {
    let (limit, offset) = q.page()?;
    let (field, desc) = parse_order(q.first("order_by"))?;
    let cursor = q.first("starting_after").filter(|s| !s.is_empty());
    if cursor.is_some() {
        if field != SortField::CreatedAt {
            return Err(ApiError::value_invalid(
                "starting_after",
                "can only be used with created_at ordering",
            ));
        }
        if offset != 0 {
            return Err(ApiError::value_invalid(
                "starting_after",
                "cannot be combined with offset",
            ));
        }
    }
    let after = match cursor {
        None => None,
        Some(id) => Some(
            data.users
                .get(id)
                .map(|u| (u.created_at, u.seq))
                .or_else(|| data.tombstones.get(id).copied())
                .ok_or_else(|| {
                    ApiError::value_invalid("starting_after", "is not a known user ID")
                })?,
        ),
    };
    let mut page = Vec::with_capacity(limit.min(500));
    if field == SortField::CreatedAt {
        // Walk the created_at index from the cursor and stop at a full page: a page of a
        // million users costs what a page of a hundred does.
        let mut skip = offset;
        let walk = Walk::Created { desc, after };
        let looked_at = filter_users(q, data, walk, how, |u| {
            if skip > 0 {
                skip -= 1;
                return ControlFlow::Continue(());
            }
            if page.len() >= limit {
                return ControlFlow::Break(());
            }
            page.push(u);
            ControlFlow::Continue(())
        })?;
        return Ok((page, looked_at));
    }
    let mut users = Vec::new();
    let looked_at = filter_users(q, data, Walk::Any, how, |u| {
        users.push(u);
        ControlFlow::Continue(())
    })?;
    users.sort_by(|a, b| {
        let o = cmp_users(a, b, field);
        if desc { o.reverse() } else { o }
    });
    let page = users.into_iter().skip(offset).take(limit).collect();
    Ok((page, looked_at))
}

/// How many users a `GET /users/count` query matches.
pub(crate) fn count(q: &Query, data: &InstanceData) -> ApiResult<usize> {
    counted(q, data).map(|(n, _)| n)
}

/// [`count`], and how many users it looked at: none when no filter is given, as every user
/// is counted then (the table's length, so a count of a million users costs what one of ten
/// does).
fn counted(q: &Query, data: &InstanceData) -> ApiResult<(usize, usize)> {
    if Filters::parse(q)?.keep_everyone() {
        return Ok((data.users.len(), 0));
    }
    count_with(q, data, Candidates::for_data(data))
}

/// [`count`], and how many users it looked at.
fn count_with(q: &Query, data: &InstanceData, how: Candidates) -> ApiResult<(usize, usize)> {
    let mut n = 0;
    let looked_at = filter_users(q, data, Walk::Any, how, |_| {
        n += 1;
        ControlFlow::Continue(())
    })?;
    Ok((n, looked_at))
}

#[cfg(test)]
mod tests;
