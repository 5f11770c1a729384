//! Search: the filters, ordering and cursor of `GET /users` and `GET /users/count`.
//!
//! A filter naming users (`user_id`, `external_id`, `email_address`, `phone_number`,
//! `username`, `web3_wallet`) takes its candidates from the instance's indexes, so a lookup
//! costs the same among a million users as among ten: every filter is then applied to those
//! candidates as to every user, and they are walked in `(created_at, seq)` order from the
//! cursor, so the page is the one a scan of every user gives.

use std::cmp::Ordering;
use std::ops::ControlFlow;

mod filters;

use filters::Filters;

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
