use serde::{Deserialize, Serialize};

use super::null_as_default;
use super::{InvitationStatus, Metadata, ObjectType};

/// An organization, as embedded in a membership.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Organization {
    /// Always [`ObjectType::Organization`].
    #[serde(deserialize_with = "null_as_default")]
    pub object: ObjectType,
    /// Organization id (`org_…`).
    #[serde(deserialize_with = "null_as_default")]
    pub id: String,
    /// Name.
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// URL-friendly unique name.
    #[serde(deserialize_with = "null_as_default")]
    pub slug: String,
    /// Logo URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// Whether a logo was uploaded.
    #[serde(deserialize_with = "null_as_default")]
    pub has_image: bool,
    /// Number of members, when included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members_count: Option<i64>,
    /// Whether no member holds the elevated permissions, when included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_member_with_elevated_permissions: Option<bool>,
    /// Number of pending invitations, when included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_invitations_count: Option<i64>,
    /// Membership limit (0: unlimited).
    #[serde(deserialize_with = "null_as_default")]
    pub max_allowed_memberships: i64,
    /// Whether admins may delete the organization.
    #[serde(deserialize_with = "null_as_default")]
    pub admin_delete_enabled: bool,
    /// Public metadata.
    #[serde(deserialize_with = "null_as_default")]
    pub public_metadata: Metadata,
    /// Private metadata.
    #[serde(deserialize_with = "null_as_default")]
    pub private_metadata: Metadata,
    /// The user who created it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Creation time (Unix ms).
    #[serde(deserialize_with = "null_as_default")]
    pub created_at: i64,
    /// Last update (Unix ms).
    #[serde(deserialize_with = "null_as_default")]
    pub updated_at: i64,
    /// Last activity (Unix ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_active_at: Option<i64>,
    /// The role set assigned to the organization.
    pub role_set_key: Option<String>,
}

/// A user's membership in an organization.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct OrganizationMembership {
    /// Membership id (`orgmem_…`).
    #[serde(deserialize_with = "null_as_default")]
    pub id: String,
    /// Always [`ObjectType::OrganizationMembership`].
    #[serde(deserialize_with = "null_as_default")]
    pub object: ObjectType,
    /// Role key, such as `org:admin` (free text: roles are custom).
    #[serde(deserialize_with = "null_as_default")]
    pub role: String,
    /// Display name of the role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_name: Option<String>,
    /// Permission keys of the role.
    #[serde(deserialize_with = "null_as_default")]
    pub permissions: Vec<String>,
    /// Metadata readable from the frontend and the backend.
    #[serde(deserialize_with = "null_as_default")]
    pub public_metadata: Metadata,
    /// Metadata readable from the backend only.
    #[serde(deserialize_with = "null_as_default")]
    pub private_metadata: Metadata,
    /// The organization.
    #[serde(deserialize_with = "null_as_default")]
    pub organization: Organization,
    /// Public data of the member.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_user_data: Option<OrganizationMembershipPublicUserData>,
    /// Creation time (Unix ms).
    #[serde(deserialize_with = "null_as_default")]
    pub created_at: i64,
    /// Last update (Unix ms).
    #[serde(deserialize_with = "null_as_default")]
    pub updated_at: i64,
}

/// Public data of the user of a membership.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct OrganizationMembershipPublicUserData {
    /// User id.
    #[serde(deserialize_with = "null_as_default")]
    pub user_id: String,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Deprecated: use `image_url`.
    pub profile_image_url: Option<String>,
    /// Profile image URL.
    #[serde(deserialize_with = "null_as_default")]
    pub image_url: String,
    /// Whether the user uploaded a profile image.
    #[serde(deserialize_with = "null_as_default")]
    pub has_image: bool,
    /// The user's primary identifier (email address, phone number…).
    pub identifier: Option<String>,
    /// Username.
    pub username: Option<String>,
    /// Whether the user is banned.
    #[serde(deserialize_with = "null_as_default")]
    pub banned: bool,
    /// Whether the user is deprovisioned.
    #[serde(deserialize_with = "null_as_default")]
    pub deprovisioned: bool,
}

/// A page of organization memberships (`{data, total_count}`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct OrganizationMemberships {
    /// The memberships of this page.
    #[serde(deserialize_with = "null_as_default")]
    pub data: Vec<OrganizationMembership>,
    /// How many memberships match in total (not just this page).
    #[serde(deserialize_with = "null_as_default")]
    pub total_count: i64,
}

/// An organization invitation of a user, with public data of the organization
/// (`OrganizationInvitationWithPublicOrganizationData`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct OrganizationInvitation {
    /// Always [`ObjectType::OrganizationInvitation`].
    #[serde(deserialize_with = "null_as_default")]
    pub object: ObjectType,
    /// Invitation id.
    #[serde(deserialize_with = "null_as_default")]
    pub id: String,
    /// The invited address.
    #[serde(deserialize_with = "null_as_default")]
    pub email_address: String,
    /// Role key the invitee will get.
    #[serde(deserialize_with = "null_as_default")]
    pub role: String,
    /// Display name of the role.
    #[serde(deserialize_with = "null_as_default")]
    pub role_name: String,
    /// The organization id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// The user who sent the invitation.
    pub inviter_id: Option<String>,
    /// Public data of the inviter.
    pub public_inviter_data: Option<OrganizationInvitationPublicUserData>,
    /// Status of the invitation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<InvitationStatus>,
    /// Public metadata.
    #[serde(deserialize_with = "null_as_default")]
    pub public_metadata: Metadata,
    /// Private metadata.
    #[serde(deserialize_with = "null_as_default")]
    pub private_metadata: Metadata,
    /// The invitation link.
    pub url: Option<String>,
    /// Expiry (Unix ms).
    pub expires_at: Option<i64>,
    /// Creation time (Unix ms).
    #[serde(deserialize_with = "null_as_default")]
    pub created_at: i64,
    /// Last update (Unix ms).
    #[serde(deserialize_with = "null_as_default")]
    pub updated_at: i64,
    /// Public data of the organization.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_organization_data: Option<OrganizationInvitationPublicOrganizationData>,
}

/// Public data of the organization of an invitation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct OrganizationInvitationPublicOrganizationData {
    /// Organization id.
    #[serde(deserialize_with = "null_as_default")]
    pub id: String,
    /// Name.
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// Slug.
    #[serde(deserialize_with = "null_as_default")]
    pub slug: String,
    /// Logo URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// Whether a logo was uploaded.
    #[serde(deserialize_with = "null_as_default")]
    pub has_image: bool,
}

/// Public data of the user who sent an invitation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct OrganizationInvitationPublicUserData {
    /// User id.
    #[serde(deserialize_with = "null_as_default")]
    pub user_id: String,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Profile image URL.
    #[serde(deserialize_with = "null_as_default")]
    pub image_url: String,
    /// Whether the user uploaded a profile image.
    #[serde(deserialize_with = "null_as_default")]
    pub has_image: bool,
    /// The inviter's primary identifier.
    #[serde(deserialize_with = "null_as_default")]
    pub identifier: String,
}

/// A page of organization invitations (`{data, total_count}`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct OrganizationInvitations {
    /// The invitations of this page.
    #[serde(deserialize_with = "null_as_default")]
    pub data: Vec<OrganizationInvitation>,
    /// How many invitations match in total (not just this page).
    #[serde(deserialize_with = "null_as_default")]
    pub total_count: i64,
}
