use std::fmt;
use std::str::FromStr;

use http::Method;

use super::list::{SortDirection, split_direction};
use crate::models::InvitationStatus;
use crate::wire::{self, PathBuilder, Query};
use crate::{
    BaseUrl, ClerkRequest, ClerkResponse, Error, Operation, OperationInfo, OrganizationInvitations,
    OrganizationMemberships, RetryClass,
};

/// The paging accessors shared by the three `{data, total_count}` listings.
macro_rules! paging {
    () => {
        /// Page size, 1 to 500 (the server's default is 10).
        #[must_use]
        pub fn limit(mut self, limit: u32) -> Self {
            self.limit = Some(limit);
            self
        }

        /// Skips this many items.
        #[must_use]
        pub fn offset(mut self, offset: u64) -> Self {
            self.offset = Some(offset);
            self
        }

        /// The effective page size (10 when not set).
        pub fn get_limit(&self) -> u32 {
            self.limit.unwrap_or(10)
        }

        /// The offset (0 when not set).
        pub fn get_offset(&self) -> u64 {
            self.offset.unwrap_or(0)
        }
    };
}

/// `GET /users/{user_id}/organization_memberships`: the organizations a user
/// belongs to.
///
/// Returns a page of [`OrganizationMemberships`] (`data` and the overall
/// `total_count`).
///
/// ```
/// # use clerk_core::{users::GetOrganizationMemberships, BaseUrl, Operation};
/// let request = GetOrganizationMemberships::new("user_1")
///     .limit(50)
///     .offset(100)
///     .build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
/// assert_eq!(
///     request.uri(),
///     "https://api.clerk.com/v1/users/user_1/organization_memberships?limit=50&offset=100"
/// );
/// # Ok::<(), clerk_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetOrganizationMemberships {
    user_id: String,
    limit: Option<u32>,
    offset: Option<u64>,
}

impl GetOrganizationMemberships {
    /// The first page of memberships of `user_id`.
    pub fn new(user_id: impl Into<String>) -> Self {
        Self {
            user_id: user_id.into(),
            limit: None,
            offset: None,
        }
    }

    paging!();

    /// The user id.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }
}

impl Operation for GetOrganizationMemberships {
    type Output = OrganizationMemberships;

    fn info(&self) -> OperationInfo {
        OperationInfo::new(
            "UsersGetOrganizationMemberships",
            "/users/{user_id}/organization_memberships",
            RetryClass::Idempotent,
        )
    }

    fn build_request(&self, base: &BaseUrl) -> Result<ClerkRequest, Error> {
        wire::check_limit(self.limit)?;
        let mut q = Query::new();
        q.opt_display("limit", self.limit);
        q.opt_display("offset", self.offset);
        let path = PathBuilder::new("users")
            .id("user_id", &self.user_id)?
            .lit("organization_memberships")
            .finish();
        wire::request(Method::GET, base, &(path + q.as_str()), None, self.info())
    }

    fn parse_response(&self, response: ClerkResponse) -> Result<Self::Output, Error> {
        wire::parse_object(response)
    }
}

/// `GET /users/{user_id}/organization_invitations`: the organization
/// invitations sent to a user, optionally of one status.
///
/// Returns a page of [`OrganizationInvitations`] (`data` and the overall
/// `total_count`).
///
/// ```
/// # use clerk_core::{users::GetOrganizationInvitations, models::InvitationStatus, BaseUrl, Operation};
/// let request = GetOrganizationInvitations::new("user_1")
///     .status(InvitationStatus::Pending)
///     .build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
/// assert_eq!(
///     request.uri(),
///     "https://api.clerk.com/v1/users/user_1/organization_invitations?status=pending"
/// );
/// # Ok::<(), clerk_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetOrganizationInvitations {
    user_id: String,
    limit: Option<u32>,
    offset: Option<u64>,
    status: Option<InvitationStatus>,
}

impl GetOrganizationInvitations {
    /// The first page of invitations of `user_id`.
    pub fn new(user_id: impl Into<String>) -> Self {
        Self {
            user_id: user_id.into(),
            limit: None,
            offset: None,
            status: None,
        }
    }

    paging!();

    /// Only invitations with this status.
    #[must_use]
    pub fn status(mut self, status: InvitationStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// The user id.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// The status filter, when set.
    pub fn get_status(&self) -> Option<&InvitationStatus> {
        self.status.as_ref()
    }
}

impl Operation for GetOrganizationInvitations {
    type Output = OrganizationInvitations;

    fn info(&self) -> OperationInfo {
        OperationInfo::new(
            "UsersGetOrganizationInvitations",
            "/users/{user_id}/organization_invitations",
            RetryClass::Idempotent,
        )
    }

    fn build_request(&self, base: &BaseUrl) -> Result<ClerkRequest, Error> {
        wire::check_limit(self.limit)?;
        let mut q = Query::new();
        q.opt_display("limit", self.limit);
        q.opt_display("offset", self.offset);
        if let Some(status) = &self.status {
            q.push("status", status.as_str());
        }
        let path = PathBuilder::new("users")
            .id("user_id", &self.user_id)?
            .lit("organization_invitations")
            .finish();
        wire::request(Method::GET, base, &(path + q.as_str()), None, self.info())
    }

    fn parse_response(&self, response: ClerkResponse) -> Result<Self::Output, Error> {
        wire::parse_object(response)
    }
}

/// A field `GET /organization_memberships` can sort by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MembershipOrderField {
    /// `phone_number`
    PhoneNumber,
    /// `email_address`
    EmailAddress,
    /// `created_at`
    CreatedAt,
    /// `first_name`
    FirstName,
    /// `last_name`
    LastName,
    /// `username`
    Username,
}

impl MembershipOrderField {
    const ALL: [Self; 6] = [
        Self::PhoneNumber,
        Self::EmailAddress,
        Self::CreatedAt,
        Self::FirstName,
        Self::LastName,
        Self::Username,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PhoneNumber => "phone_number",
            Self::EmailAddress => "email_address",
            Self::CreatedAt => "created_at",
            Self::FirstName => "first_name",
            Self::LastName => "last_name",
            Self::Username => "username",
        }
    }
}

/// The `order_by` of `GET /organization_memberships`: `+field` or `-field`.
///
/// ```
/// use clerk_core::users::{MembershipOrderBy, MembershipOrderField};
/// assert_eq!(MembershipOrderBy::asc(MembershipOrderField::Username).to_string(), "+username");
/// assert_eq!("-created_at".parse::<MembershipOrderBy>()?.field(), MembershipOrderField::CreatedAt);
/// # Ok::<(), String>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MembershipOrderBy {
    field: MembershipOrderField,
    direction: SortDirection,
}

impl MembershipOrderBy {
    /// Ascending by `field`.
    pub fn asc(field: MembershipOrderField) -> Self {
        Self {
            field,
            direction: SortDirection::Asc,
        }
    }

    /// Descending by `field`.
    pub fn desc(field: MembershipOrderField) -> Self {
        Self {
            field,
            direction: SortDirection::Desc,
        }
    }

    /// The field.
    pub fn field(&self) -> MembershipOrderField {
        self.field
    }

    /// The direction.
    pub fn direction(&self) -> SortDirection {
        self.direction
    }
}

impl fmt::Display for MembershipOrderBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = match self.direction {
            SortDirection::Asc => '+',
            SortDirection::Desc => '-',
        };
        write!(f, "{sign}{}", self.field.as_str())
    }
}

impl FromStr for MembershipOrderBy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (direction, name) = split_direction(s);
        MembershipOrderField::ALL
            .into_iter()
            .find(|f| f.as_str() == name)
            .map(|field| Self { field, direction })
            .ok_or_else(|| {
                let names: Vec<_> = MembershipOrderField::ALL
                    .iter()
                    .map(|f| f.as_str())
                    .collect();
                format!("unknown membership order {s:?}; expected [+|-] and one of {names:?}")
            })
    }
}

/// `GET /organization_memberships`: the organization memberships of the whole
/// instance (not under `/users`, though the SDKs group it with users).
///
/// Returns a page of [`OrganizationMemberships`].
///
/// ```
/// # use clerk_core::users::{GetInstanceOrganizationMemberships, MembershipOrderBy, MembershipOrderField};
/// # use clerk_core::{BaseUrl, Operation};
/// let request = GetInstanceOrganizationMemberships::new()
///     .order_by(MembershipOrderBy::asc(MembershipOrderField::EmailAddress))
///     .limit(100)
///     .build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
/// assert_eq!(
///     request.uri(),
///     "https://api.clerk.com/v1/organization_memberships?order_by=%2Bemail_address&limit=100"
/// );
/// # Ok::<(), clerk_core::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GetInstanceOrganizationMemberships {
    order_by: Option<MembershipOrderBy>,
    limit: Option<u32>,
    offset: Option<u64>,
}

impl GetInstanceOrganizationMemberships {
    /// The first page of every membership of the instance.
    pub fn new() -> Self {
        Self::default()
    }

    paging!();

    /// The ordering (the server documents no default).
    #[must_use]
    pub fn order_by(mut self, order_by: MembershipOrderBy) -> Self {
        self.order_by = Some(order_by);
        self
    }

    /// The ordering, when set.
    pub fn get_order_by(&self) -> Option<&MembershipOrderBy> {
        self.order_by.as_ref()
    }
}

impl Operation for GetInstanceOrganizationMemberships {
    type Output = OrganizationMemberships;

    fn info(&self) -> OperationInfo {
        OperationInfo::new(
            "InstanceGetOrganizationMemberships",
            "/organization_memberships",
            RetryClass::Idempotent,
        )
    }

    fn build_request(&self, base: &BaseUrl) -> Result<ClerkRequest, Error> {
        wire::check_limit(self.limit)?;
        let mut q = Query::new();
        if let Some(order) = &self.order_by {
            q.push("order_by", &order.to_string());
        }
        q.opt_display("limit", self.limit);
        q.opt_display("offset", self.offset);
        let path = PathBuilder::new("organization_memberships").finish();
        wire::request(Method::GET, base, &(path + q.as_str()), None, self.info())
    }

    fn parse_response(&self, response: ClerkResponse) -> Result<Self::Output, Error> {
        wire::parse_object(response)
    }
}
