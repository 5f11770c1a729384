use std::fmt;
use std::str::FromStr;

use http::Method;

use crate::wire::{self, PathBuilder, Query};
use crate::{
    BaseUrl, ClerkRequest, ClerkResponse, Error, Operation, OperationInfo, RetryClass, TotalCount,
    User,
};

/// The filters of `GET /users` and `GET /users/count`, shared so a count can use
/// exactly the filters of a listing.
///
/// Array filters take up to 100 values each and are sent as repeated keys. For
/// `external_id`, `user_id` and `organization_id` a leading `+` or `-` in a value
/// includes or excludes it; the prefix is part of the value and is sent as `%2B`.
///
/// ```
/// use clerk_core::users::{CountUsers, ListUsers, UserFilter};
///
/// let filter = UserFilter::new().email_address("ada@example.com").banned(false);
/// let list = ListUsers::new().filter(filter.clone()).limit(50);
/// let count = CountUsers::new().filter(filter);
/// assert_eq!(list.get_filter(), count.get_filter());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserFilter {
    email_address: Vec<String>,
    phone_number: Vec<String>,
    external_id: Vec<String>,
    username: Vec<String>,
    web3_wallet: Vec<String>,
    user_id: Vec<String>,
    organization_id: Vec<String>,
    query: Option<String>,
    email_address_query: Option<String>,
    phone_number_query: Option<String>,
    username_query: Option<String>,
    name_query: Option<String>,
    banned: Option<bool>,
    last_active_at_before: Option<i64>,
    last_active_at_after: Option<i64>,
    last_active_at_since: Option<i64>,
    created_at_before: Option<i64>,
    created_at_after: Option<i64>,
    last_sign_in_at_before: Option<i64>,
    last_sign_in_at_after: Option<i64>,
    provider: Option<String>,
    provider_user_id: Vec<String>,
}

/// Builder methods for every filter, on [`UserFilter`] and on the two requests
/// that embed one.
macro_rules! filter_methods {
    (|$this:ident| $filter:expr) => {
        filter_methods!(@array |$this| $filter;
            email_address, email_addresses, "users with this email address";
            phone_number, phone_numbers, "users with this phone number";
            external_id, external_ids, "users with this external id (`+id` includes, `-id` excludes)";
            username, usernames, "users with this username";
            web3_wallet, web3_wallets, "users with this web3 wallet";
            user_id, user_ids, "users with this id (`+id` includes, `-id` excludes)";
            organization_id, organization_ids, "members of this organization (`+id` includes, `-id` excludes)";
            provider_user_id, provider_user_ids, "users with this user id at [`provider`](Self::provider)";
        );
        filter_methods!(@string |$this| $filter;
            query, "users whose email addresses, phone numbers, usernames, web3 wallets, ids, first or last names partially match";
            email_address_query, "users whose email address partially matches (case-insensitive)";
            phone_number_query, "users whose phone number partially matches";
            username_query, "users whose username partially matches (case-insensitive)";
            name_query, "users whose first or last name partially matches (case-insensitive)";
            provider, "users with an external account of this OAuth provider (`oauth_google`); requires [`provider_user_id`](Self::provider_user_id)";
        );
        filter_methods!(@int |$this| $filter;
            last_active_at_before, "users last active before this time (Unix ms)";
            last_active_at_after, "users last active after this time (Unix ms)";
            last_active_at_since, "users last active since this time (Unix ms); deprecated in favour of `last_active_at_after`";
            created_at_before, "users created before this time (Unix ms)";
            created_at_after, "users created after this time (Unix ms)";
            last_sign_in_at_before, "users who last signed in before this time (Unix ms)";
            last_sign_in_at_after, "users who last signed in after this time (Unix ms)";
        );
        #[doc = "Only banned (`true`) or only not banned (`false`) users."]
        #[must_use]
        pub fn banned(mut self, banned: bool) -> Self {
            let $this = &mut self;
            $filter.banned = Some(banned);
            self
        }
    };
    (@array |$this:ident| $filter:expr; $($one:ident, $many:ident, $doc:literal;)*) => {$(
        #[doc = concat!("Adds one value: ", $doc, ". Repeatable.")]
        #[must_use]
        pub fn $one(mut self, value: impl Into<String>) -> Self {
            let $this = &mut self;
            $filter.$one.push(value.into());
            self
        }
        #[doc = concat!("Adds several values: ", $doc, ".")]
        #[must_use]
        pub fn $many<I>(mut self, values: I) -> Self
        where
            I: IntoIterator,
            I::Item: Into<String>,
        {
            let $this = &mut self;
            $filter.$one.extend(values.into_iter().map(Into::into));
            self
        }
    )*};
    (@string |$this:ident| $filter:expr; $($name:ident, $doc:literal;)*) => {$(
        #[doc = concat!("Only ", $doc, ".")]
        #[must_use]
        pub fn $name(mut self, value: impl Into<String>) -> Self {
            let $this = &mut self;
            $filter.$name = Some(value.into());
            self
        }
    )*};
    (@int |$this:ident| $filter:expr; $($name:ident, $doc:literal;)*) => {$(
        #[doc = concat!("Only ", $doc, ".")]
        #[must_use]
        pub fn $name(mut self, unix_ms: i64) -> Self {
            let $this = &mut self;
            $filter.$name = Some(unix_ms);
            self
        }
    )*};
}

impl UserFilter {
    /// No filter: every user.
    pub fn new() -> Self {
        Self::default()
    }

    filter_methods!(|this| this);

    fn write_query(&self, q: &mut Query) -> Result<(), Error> {
        if self.provider.is_some() == self.provider_user_id.is_empty() {
            return Err(Error::invalid_request(
                "`provider` and `provider_user_id` must be given together",
            ));
        }
        q.each("email_address", &self.email_address);
        q.each("phone_number", &self.phone_number);
        q.each("external_id", &self.external_id);
        q.each("username", &self.username);
        q.each("web3_wallet", &self.web3_wallet);
        q.each("user_id", &self.user_id);
        q.each("organization_id", &self.organization_id);
        q.opt_str("query", self.query.as_deref());
        q.opt_str("email_address_query", self.email_address_query.as_deref());
        q.opt_str("phone_number_query", self.phone_number_query.as_deref());
        q.opt_str("username_query", self.username_query.as_deref());
        q.opt_str("name_query", self.name_query.as_deref());
        q.opt_display("banned", self.banned);
        q.opt_display("last_active_at_before", self.last_active_at_before);
        q.opt_display("last_active_at_after", self.last_active_at_after);
        q.opt_display("last_active_at_since", self.last_active_at_since);
        q.opt_display("created_at_before", self.created_at_before);
        q.opt_display("created_at_after", self.created_at_after);
        q.opt_display("last_sign_in_at_before", self.last_sign_in_at_before);
        q.opt_display("last_sign_in_at_after", self.last_sign_in_at_after);
        q.opt_str("provider", self.provider.as_deref());
        q.each("provider_user_id", &self.provider_user_id);
        Ok(())
    }
}

/// Sort direction of an `order_by`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SortDirection {
    /// Ascending (`+field`).
    Asc,
    /// Descending (`-field`).
    Desc,
}

impl SortDirection {
    fn sign(self) -> char {
        match self {
            Self::Asc => '+',
            Self::Desc => '-',
        }
    }
}

/// A field `GET /users` can sort by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UserOrderField {
    /// `created_at` (the default, and the only ordering cursor pagination allows).
    CreatedAt,
    /// `updated_at`
    UpdatedAt,
    /// `email_address`
    EmailAddress,
    /// `web3wallet` (no underscore on the wire)
    Web3Wallet,
    /// `first_name`
    FirstName,
    /// `last_name`
    LastName,
    /// `phone_number`
    PhoneNumber,
    /// `username`
    Username,
    /// `last_active_at`
    LastActiveAt,
    /// `last_sign_in_at`
    LastSignInAt,
}

impl UserOrderField {
    const ALL: [Self; 10] = [
        Self::CreatedAt,
        Self::UpdatedAt,
        Self::EmailAddress,
        Self::Web3Wallet,
        Self::FirstName,
        Self::LastName,
        Self::PhoneNumber,
        Self::Username,
        Self::LastActiveAt,
        Self::LastSignInAt,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreatedAt => "created_at",
            Self::UpdatedAt => "updated_at",
            Self::EmailAddress => "email_address",
            Self::Web3Wallet => "web3wallet",
            Self::FirstName => "first_name",
            Self::LastName => "last_name",
            Self::PhoneNumber => "phone_number",
            Self::Username => "username",
            Self::LastActiveAt => "last_active_at",
            Self::LastSignInAt => "last_sign_in_at",
        }
    }
}

/// The `order_by` of `GET /users`: a field and a direction, sent as `+field` or
/// `-field` (the `+` percent-encoded). Parses from the same text.
///
/// ```
/// use clerk_core::users::{UserOrderBy, UserOrderField};
///
/// let order = UserOrderBy::desc(UserOrderField::LastSignInAt);
/// assert_eq!(order.to_string(), "-last_sign_in_at");
/// assert_eq!("web3wallet".parse::<UserOrderBy>()?, UserOrderBy::asc(UserOrderField::Web3Wallet));
/// # Ok::<(), String>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UserOrderBy {
    field: UserOrderField,
    direction: SortDirection,
}

impl UserOrderBy {
    /// Ascending by `field`.
    pub fn asc(field: UserOrderField) -> Self {
        Self {
            field,
            direction: SortDirection::Asc,
        }
    }

    /// Descending by `field`.
    pub fn desc(field: UserOrderField) -> Self {
        Self {
            field,
            direction: SortDirection::Desc,
        }
    }

    /// The field.
    pub fn field(&self) -> UserOrderField {
        self.field
    }

    /// The direction.
    pub fn direction(&self) -> SortDirection {
        self.direction
    }
}

impl fmt::Display for UserOrderBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.direction.sign(), self.field.as_str())
    }
}

impl FromStr for UserOrderBy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (direction, name) = split_direction(s);
        UserOrderField::ALL
            .into_iter()
            .find(|f| f.as_str() == name)
            .map(|field| Self { field, direction })
            .ok_or_else(|| {
                let names: Vec<_> = UserOrderField::ALL.iter().map(|f| f.as_str()).collect();
                format!("unknown user order {s:?}; expected [+|-] and one of {names:?}")
            })
    }
}

/// Splits an optional `+`/`-` prefix; no prefix means ascending.
pub(super) fn split_direction(s: &str) -> (SortDirection, &str) {
    if let Some(rest) = s.strip_prefix('-') {
        (SortDirection::Desc, rest)
    } else {
        (SortDirection::Asc, s.strip_prefix('+').unwrap_or(s))
    }
}

/// `GET /users`: a page of users, newest first unless ordered otherwise.
///
/// Returns `Vec<User>`: a bare array with no total (use [`CountUsers`] with the
/// same [`UserFilter`] for one). Page with [`starting_after`](Self::starting_after)
/// (the id of the last user of the previous page; `created_at` orderings only)
/// or with [`offset`](Self::offset); stop at a page shorter than the limit.
///
/// ```
/// use clerk_core::users::{ListUsers, UserOrderBy, UserOrderField};
/// use clerk_core::{BaseUrl, Operation};
///
/// let request = ListUsers::new()
///     .email_address("ada@example.com")
///     .email_address("bob@example.com")
///     .order_by(UserOrderBy::asc(UserOrderField::CreatedAt))
///     .limit(100)
///     .build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
/// assert_eq!(
///     request.uri(),
///     "https://api.clerk.com/v1/users?email_address=ada%40example.com\
///      &email_address=bob%40example.com&limit=100&order_by=%2Bcreated_at"
/// );
/// # Ok::<(), clerk_core::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListUsers {
    filter: UserFilter,
    limit: Option<u32>,
    offset: Option<u64>,
    starting_after: Option<String>,
    order_by: Option<UserOrderBy>,
}

impl ListUsers {
    /// The spec's default page size.
    pub const DEFAULT_LIMIT: u32 = 10;

    /// The first page of every user, with the server's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the whole filter.
    #[must_use]
    pub fn filter(mut self, filter: UserFilter) -> Self {
        self.filter = filter;
        self
    }

    filter_methods!(|this| this.filter);

    /// Page size, 1 to 500 (the server's default is 10).
    #[must_use]
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Skips this many users. Slow deep in a large list: prefer
    /// [`starting_after`](Self::starting_after).
    #[must_use]
    pub fn offset(mut self, offset: u64) -> Self {
        self.offset = Some(offset);
        self
    }

    /// Cursor: returns the users after the user with this id. Requires a
    /// `created_at` ordering and no offset.
    #[must_use]
    pub fn starting_after(mut self, user_id: impl Into<String>) -> Self {
        self.starting_after = Some(user_id.into());
        self
    }

    /// The ordering (the server's default is `-created_at`).
    #[must_use]
    pub fn order_by(mut self, order_by: UserOrderBy) -> Self {
        self.order_by = Some(order_by);
        self
    }

    /// The filter.
    pub fn get_filter(&self) -> &UserFilter {
        &self.filter
    }

    /// The effective page size (10 when not set).
    pub fn get_limit(&self) -> u32 {
        self.limit.unwrap_or(Self::DEFAULT_LIMIT)
    }

    /// The offset (0 when not set).
    pub fn get_offset(&self) -> u64 {
        self.offset.unwrap_or(0)
    }

    /// The cursor, when set.
    pub fn get_starting_after(&self) -> Option<&str> {
        self.starting_after.as_deref()
    }

    /// The ordering, when set.
    pub fn get_order_by(&self) -> Option<&UserOrderBy> {
        self.order_by.as_ref()
    }

    /// Whether the ordering is by `created_at` (set so, or the default), the only
    /// one cursor pagination works with.
    pub fn uses_created_at_order(&self) -> bool {
        self.order_by
            .is_none_or(|o| o.field == UserOrderField::CreatedAt)
    }

    /// A count of the users this listing filters for.
    pub fn to_count(&self) -> CountUsers {
        CountUsers::new().filter(self.filter.clone())
    }
}

impl Operation for ListUsers {
    type Output = Vec<User>;

    fn info(&self) -> OperationInfo {
        OperationInfo::new("GetUserList", "/users", RetryClass::Idempotent)
    }

    fn build_request(&self, base: &BaseUrl) -> Result<ClerkRequest, Error> {
        wire::check_limit(self.limit)?;
        if self.starting_after.is_some() {
            if !self.uses_created_at_order() {
                return Err(Error::invalid_request(
                    "`starting_after` requires ordering by `created_at`",
                ));
            }
            if self.get_offset() != 0 {
                return Err(Error::invalid_request(
                    "`starting_after` cannot be combined with a non-zero `offset`",
                ));
            }
        }
        let mut q = Query::new();
        self.filter.write_query(&mut q)?;
        q.opt_display("limit", self.limit);
        q.opt_display("offset", self.offset);
        if let Some(cursor) = &self.starting_after {
            wire::check_id("starting_after", cursor)?;
            q.push("starting_after", cursor);
        }
        if let Some(order) = &self.order_by {
            q.push("order_by", &order.to_string());
        }
        let path = PathBuilder::new("users").finish() + q.as_str();
        wire::request(Method::GET, base, &path, None, self.info())
    }

    fn parse_response(&self, response: ClerkResponse) -> Result<Self::Output, Error> {
        wire::parse_list(response)
    }
}

/// `GET /users/count`: how many users match a [`UserFilter`].
///
/// Returns [`TotalCount`].
///
/// ```
/// use clerk_core::users::CountUsers;
/// use clerk_core::{BaseUrl, Operation};
///
/// let request = CountUsers::new()
///     .user_id("+user_1")
///     .user_id("-user_2")
///     .build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
/// assert_eq!(
///     request.uri(),
///     "https://api.clerk.com/v1/users/count?user_id=%2Buser_1&user_id=-user_2"
/// );
/// # Ok::<(), clerk_core::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CountUsers {
    filter: UserFilter,
}

impl CountUsers {
    /// Counts every user.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the whole filter.
    #[must_use]
    pub fn filter(mut self, filter: UserFilter) -> Self {
        self.filter = filter;
        self
    }

    filter_methods!(|this| this.filter);

    /// The filter.
    pub fn get_filter(&self) -> &UserFilter {
        &self.filter
    }
}

impl From<UserFilter> for CountUsers {
    fn from(filter: UserFilter) -> Self {
        Self { filter }
    }
}

impl Operation for CountUsers {
    type Output = TotalCount;

    fn info(&self) -> OperationInfo {
        OperationInfo::new("GetUsersCount", "/users/count", RetryClass::Idempotent)
    }

    fn build_request(&self, base: &BaseUrl) -> Result<ClerkRequest, Error> {
        let mut q = Query::new();
        self.filter.write_query(&mut q)?;
        let path = PathBuilder::new("users").lit("count").finish() + q.as_str();
        wire::request(Method::GET, base, &path, None, self.info())
    }

    fn parse_response(&self, response: ClerkResponse) -> Result<Self::Output, Error> {
        wire::parse_object(response)
    }
}
