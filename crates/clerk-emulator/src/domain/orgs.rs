//! Organizations, memberships and invitations: the state the Users API reads
//! (`GET /users/{id}/organization_memberships`, `…/organization_invitations`,
//! `GET /organization_memberships`), created by the API and the seed loader.

use std::cmp::Ordering;

use http::StatusCode;

use crate::body::{JsonBody, Patch, Query};
use crate::error::{ApiError, ApiResult};
use crate::ids::new_id;
use crate::model::{Invitation, Membership, Organization, is_admin_role};
use crate::store::InstanceData;

use super::identifiers::normalize_email;

/// The fields of a `POST /organizations` body.
pub(crate) const ORG_FIELDS: &[&str] = &[
    "name",
    "created_by",
    "private_metadata",
    "public_metadata",
    "slug",
    "max_allowed_memberships",
    "created_at",
    "role_set_key",
];
/// The fields of a `POST /organizations/{id}/memberships` body.
pub(crate) const MEMBERSHIP_FIELDS: &[&str] =
    &["user_id", "role", "public_metadata", "private_metadata"];
/// The fields of a `POST /organizations/{id}/invitations` body.
pub(crate) const INVITATION_FIELDS: &[&str] = &[
    "email_address",
    "inviter_user_id",
    "role",
    "public_metadata",
    "private_metadata",
    "redirect_url",
    "expires_in_days",
    "notify",
];

fn metadata(body: &JsonBody, key: &str) -> ApiResult<crate::model::Metadata> {
    Ok(body.object(key)?.into_option().unwrap_or_default())
}

fn slugify(name: &str) -> String {
    let mut s = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.ends_with('-') && !s.is_empty() {
            s.push('-');
        }
    }
    let s = s.trim_end_matches('-').to_owned();
    if s.is_empty() { "org".to_owned() } else { s }
}

fn check_role(role: &str) -> ApiResult<()> {
    let valid = !role.is_empty()
        && role.len() <= 64
        && role
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-'));
    if valid {
        Ok(())
    } else {
        Err(ApiError::value_invalid(
            "role",
            "is not a valid role key such as org:admin or org:member",
        ))
    }
}

/// Creates an organization (its creator becomes an `org:admin` member), returning its id.
pub(crate) fn create_org(
    data: &mut InstanceData,
    body: &JsonBody,
    now: i64,
    id: Option<String>,
) -> ApiResult<String> {
    let name = body.required_string("name")?;
    if name.trim().is_empty() || name.chars().count() > 256 {
        return Err(ApiError::value_invalid(
            "name",
            "must be between 1 and 256 characters",
        ));
    }
    let slug = match body.opt_string("slug")? {
        Some(s) => {
            if s.is_empty()
                || !s
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                return Err(ApiError::invalid_param(
                    "slug",
                    "may contain only lowercase alphanumeric characters and '-'",
                ));
            }
            if data.slug_taken(&s) {
                return Err(ApiError::unprocessable(
                    "form_identifier_exists",
                    "That slug is taken. Please try another.",
                    "That slug is taken. Please try another.",
                )
                .with_param("slug"));
            }
            s
        }
        None => {
            let base = slugify(&name);
            let mut slug = base.clone();
            while data.slug_taken(&slug) {
                slug = format!("{base}-{}", crate::ids::random_hex(3));
            }
            slug
        }
    };
    let created_by = body.opt_string("created_by")?;
    if let Some(u) = &created_by
        && !data.users.contains_key(u)
    {
        return Err(ApiError::value_invalid(
            "created_by",
            "is not a user of this instance",
        ));
    }
    let max = match body.int("max_allowed_memberships")? {
        Patch::Set(n) if n < 0 => {
            return Err(ApiError::value_invalid(
                "max_allowed_memberships",
                "must be 0 or more",
            ));
        }
        p => p.into_option().unwrap_or(0),
    };
    let created_at = body.timestamp("created_at")?.into_option().unwrap_or(now);
    let org = Organization {
        id: id.unwrap_or_else(|| new_id("org")),
        name,
        slug,
        created_by: created_by.clone(),
        public_metadata: metadata(body, "public_metadata")?,
        private_metadata: metadata(body, "private_metadata")?,
        max_allowed_memberships: max,
        role_set_key: body.opt_string("role_set_key")?,
        created_at,
        updated_at: now,
    };
    let org_id = org.id.clone();
    data.insert_org(org);
    if let Some(user_id) = created_by {
        let seq = data.next_seq();
        data.insert_membership(Membership {
            id: new_id("orgmem"),
            organization_id: org_id.clone(),
            user_id,
            role: "org:admin".into(),
            public_metadata: Default::default(),
            private_metadata: Default::default(),
            seq,
            created_at: now,
            updated_at: now,
        });
    }
    Ok(org_id)
}

/// Adds a user to an organization (by id or slug), returning the membership id.
pub(crate) fn create_membership(
    data: &mut InstanceData,
    org: &str,
    body: &JsonBody,
    now: i64,
) -> ApiResult<String> {
    let org_id = data
        .org_by_id_or_slug(org)
        .map(|o| o.id.clone())
        .ok_or_else(ApiError::not_found)?;
    let user_id = body.required_string("user_id")?;
    let role = body.required_string("role")?;
    check_role(&role)?;
    if !data.users.contains_key(&user_id) {
        return Err(ApiError::not_found());
    }
    if data
        .memberships_of(&user_id)
        .any(|m| m.organization_id == org_id)
    {
        return Err(ApiError::bad_request(
            "already_a_member_in_organization",
            "Already a member",
            "The user is already a member of this organization.",
        ));
    }
    let max = data
        .orgs
        .get(&org_id)
        .map_or(0, |o| o.max_allowed_memberships);
    if max > 0 && data.members_count(&org_id).0 as i64 >= max {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "organization_membership_quota_exceeded",
            "Membership quota exceeded",
            "The organization has reached its maximum number of memberships.",
        ));
    }
    let seq = data.next_seq();
    let m = Membership {
        id: new_id("orgmem"),
        organization_id: org_id,
        user_id,
        role,
        public_metadata: metadata(body, "public_metadata")?,
        private_metadata: metadata(body, "private_metadata")?,
        seq,
        created_at: now,
        updated_at: now,
    };
    let id = m.id.clone();
    data.insert_membership(m);
    Ok(id)
}

/// Invites an email address to an organization (by id or slug), returning the invitation id.
pub(crate) fn create_invitation(
    data: &mut InstanceData,
    org: &str,
    body: &JsonBody,
    now: i64,
) -> ApiResult<String> {
    let org_id = data
        .org_by_id_or_slug(org)
        .map(|o| o.id.clone())
        .ok_or_else(ApiError::not_found)?;
    let email = normalize_email(&body.required_string("email_address")?)?;
    let role = body.required_string("role")?;
    check_role(&role)?;
    let inviter = body.opt_string("inviter_user_id")?;
    if let Some(inviter) = &inviter {
        let is_admin = data
            .memberships_of(inviter)
            .any(|m| m.organization_id == org_id && is_admin_role(&m.role));
        if !is_admin {
            return Err(ApiError::value_invalid(
                "inviter_user_id",
                "must be an admin member of the organization",
            ));
        }
    }
    let days = match body.int("expires_in_days")? {
        Patch::Set(d) if !(1..=365).contains(&d) => {
            return Err(ApiError::value_invalid(
                "expires_in_days",
                "must be between 1 and 365",
            ));
        }
        p => p.into_option().unwrap_or(30),
    };
    body.opt_bool("notify")?;
    let duplicate = data.invitations.values().any(|i| {
        i.organization_id == org_id
            && i.email_address == email
            && i.effective_status(now) == "pending"
    });
    if duplicate {
        return Err(ApiError::bad_request(
            "duplicate_record",
            "duplicate invitation",
            "There is already a pending invitation for this email address.",
        ));
    }
    let seq = data.next_seq();
    let inv = Invitation {
        id: new_id("orginv"),
        organization_id: org_id,
        email_address: email,
        role,
        inviter_id: inviter,
        status: "pending".into(),
        public_metadata: metadata(body, "public_metadata")?,
        private_metadata: metadata(body, "private_metadata")?,
        redirect_url: body.opt_string("redirect_url")?,
        expires_at: Some(now + days * 86_400_000),
        seq,
        created_at: now,
        updated_at: now,
    };
    let id = inv.id.clone();
    data.invitations.insert(id.clone(), inv);
    Ok(id)
}

/// The page of `GET /organization_memberships` (every membership of the instance, ordered by
/// `order_by`), and the total count.
pub(crate) fn instance_memberships<'a>(
    q: &Query,
    data: &'a InstanceData,
) -> ApiResult<(Vec<&'a Membership>, usize)> {
    let (limit, offset) = q.page()?;
    let order = q.first("order_by").unwrap_or("-created_at");
    let (desc, field) = match order.as_bytes().first() {
        Some(b'-') => (true, &order[1..]),
        Some(b'+') => (false, &order[1..]),
        _ => (false, order),
    };
    if ![
        "phone_number",
        "email_address",
        "created_at",
        "first_name",
        "last_name",
        "username",
    ]
    .contains(&field)
    {
        return Err(ApiError::value_invalid(
            "order_by",
            "must be one of phone_number, email_address, created_at, first_name, last_name, username, with an optional + or - prefix",
        ));
    }
    let mut mems: Vec<&Membership> = data.memberships.values().collect();
    let key = |m: &Membership| -> Option<String> {
        let u = data.users.get(&m.user_id)?;
        match field {
            "phone_number" => u.primary_phone().map(str::to_owned),
            "email_address" => u.primary_email().map(str::to_owned),
            "first_name" => u.first_name.as_ref().map(|s| s.to_lowercase()),
            "last_name" => u.last_name.as_ref().map(|s| s.to_lowercase()),
            "username" => u.username.clone(),
            _ => None,
        }
    };
    mems.sort_by(|a, b| {
        let o = if field == "created_at" {
            a.created_at.cmp(&b.created_at)
        } else {
            match (key(a), key(b)) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            }
        }
        .then(a.seq.cmp(&b.seq));
        if desc { o.reverse() } else { o }
    });
    let total = mems.len();
    Ok((mems.into_iter().skip(offset).take(limit).collect(), total))
}
