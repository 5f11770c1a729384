//! Clerk JSON renderings of organizations, memberships and invitations.

use serde::Serialize;

use super::Ctx;
use crate::model::{Invitation, Membership, Metadata, Organization, role_info};

#[derive(Serialize)]
pub(crate) struct OrganizationView<'a> {
    object: &'static str,
    id: &'a str,
    name: &'a str,
    slug: &'a str,
    image_url: String,
    has_image: bool,
    members_count: usize,
    missing_member_with_elevated_permissions: bool,
    pending_invitations_count: usize,
    max_allowed_memberships: i64,
    admin_delete_enabled: bool,
    public_metadata: &'a Metadata,
    private_metadata: &'a Metadata,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_by: Option<&'a str>,
    created_at: i64,
    updated_at: i64,
    role_set_key: Option<&'a str>,
}

pub(crate) fn organization_view<'a>(o: &'a Organization, ctx: Ctx<'a>) -> OrganizationView<'a> {
    let members = ctx.data.members_count(&o.id);
    OrganizationView {
        object: "organization",
        id: &o.id,
        name: &o.name,
        slug: &o.slug,
        image_url: ctx.image_url(None),
        has_image: false,
        members_count: members.0,
        missing_member_with_elevated_permissions: members.0 > 0 && !members.1,
        pending_invitations_count: ctx.data.pending_invitations_count(&o.id, ctx.now),
        max_allowed_memberships: o.max_allowed_memberships,
        admin_delete_enabled: true,
        public_metadata: &o.public_metadata,
        private_metadata: &o.private_metadata,
        created_by: o.created_by.as_deref(),
        created_at: o.created_at,
        updated_at: o.updated_at,
        role_set_key: o.role_set_key.as_deref(),
    }
}

#[derive(Serialize)]
struct PublicUserData<'a> {
    user_id: &'a str,
    first_name: Option<&'a str>,
    last_name: Option<&'a str>,
    profile_image_url: String,
    image_url: String,
    has_image: bool,
    identifier: Option<String>,
    username: Option<&'a str>,
    banned: bool,
    deprovisioned: bool,
}

#[derive(Serialize)]
pub(crate) struct MembershipView<'a> {
    id: &'a str,
    object: &'static str,
    role: &'a str,
    role_name: String,
    permissions: Vec<&'static str>,
    public_metadata: &'a Metadata,
    private_metadata: &'a Metadata,
    organization: OrganizationView<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    public_user_data: Option<PublicUserData<'a>>,
    created_at: i64,
    updated_at: i64,
}

/// `with_user` adds `public_user_data` (left out inside a `User`, where it would repeat the user).
pub(crate) fn membership_view<'a>(
    m: &'a Membership,
    ctx: Ctx<'a>,
    with_user: bool,
) -> Option<MembershipView<'a>> {
    let org = ctx.data.orgs.get(&m.organization_id)?;
    let (role_name, permissions) = role_info(&m.role);
    let public_user_data = if with_user {
        ctx.data.users.get(&m.user_id).map(|u| {
            let url = ctx.image_url(u.image_id.as_deref());
            PublicUserData {
                user_id: &u.id,
                first_name: u.first_name.as_deref(),
                last_name: u.last_name.as_deref(),
                profile_image_url: url.clone(),
                image_url: url,
                has_image: u.image_id.is_some(),
                identifier: u.identifier(),
                username: u.username.as_deref(),
                banned: u.banned,
                deprovisioned: false,
            }
        })
    } else {
        None
    };
    Some(MembershipView {
        id: &m.id,
        object: "organization_membership",
        role: &m.role,
        role_name,
        permissions,
        public_metadata: &m.public_metadata,
        private_metadata: &m.private_metadata,
        organization: organization_view(org, ctx),
        public_user_data,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

#[derive(Serialize)]
struct PublicOrgData<'a> {
    id: &'a str,
    name: &'a str,
    slug: &'a str,
    image_url: String,
    has_image: bool,
}

#[derive(Serialize)]
struct PublicInviterData<'a> {
    user_id: &'a str,
    first_name: Option<&'a str>,
    last_name: Option<&'a str>,
    image_url: String,
    has_image: bool,
    identifier: String,
}

#[derive(Serialize)]
pub(crate) struct InvitationView<'a> {
    object: &'static str,
    id: &'a str,
    email_address: &'a str,
    role: &'a str,
    role_name: String,
    organization_id: &'a str,
    inviter_id: Option<&'a str>,
    public_inviter_data: Option<PublicInviterData<'a>>,
    status: &'a str,
    public_metadata: &'a Metadata,
    private_metadata: &'a Metadata,
    url: Option<&'a str>,
    expires_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    public_organization_data: Option<PublicOrgData<'a>>,
}

/// `with_org` adds `public_organization_data` (the user-facing list has it, the
/// `CreateOrganizationInvitation` answer's schema forbids it).
pub(crate) fn invitation_view<'a>(
    i: &'a Invitation,
    ctx: Ctx<'a>,
    with_org: bool,
) -> InvitationView<'a> {
    let inviter = i
        .inviter_id
        .as_deref()
        .and_then(|id| ctx.data.users.get(id))
        .map(|u| PublicInviterData {
            user_id: &u.id,
            first_name: u.first_name.as_deref(),
            last_name: u.last_name.as_deref(),
            image_url: ctx.image_url(u.image_id.as_deref()),
            has_image: u.image_id.is_some(),
            identifier: u.identifier().unwrap_or_else(|| u.id.clone()),
        });
    let public_organization_data = if with_org {
        ctx.data
            .orgs
            .get(&i.organization_id)
            .map(|o| PublicOrgData {
                id: &o.id,
                name: &o.name,
                slug: &o.slug,
                image_url: ctx.image_url(None),
                has_image: false,
            })
    } else {
        None
    };
    InvitationView {
        object: "organization_invitation",
        id: &i.id,
        email_address: &i.email_address,
        role: &i.role,
        role_name: role_info(&i.role).0,
        organization_id: &i.organization_id,
        inviter_id: i.inviter_id.as_deref(),
        public_inviter_data: inviter,
        status: i.effective_status(ctx.now),
        public_metadata: &i.public_metadata,
        private_metadata: &i.private_metadata,
        url: i.redirect_url.as_deref(),
        expires_at: i.expires_at,
        created_at: i.created_at,
        updated_at: i.updated_at,
        public_organization_data,
    }
}
