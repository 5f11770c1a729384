use http::Method;

use crate::wire::{self, PathBuilder, Query};
use crate::{
    BaseUrl, ClerkRequest, ClerkResponse, Error, OAuthAccessTokens, Operation, OperationInfo,
    RetryClass,
};

/// `GET /users/{user_id}/oauth_access_tokens/{provider}`: the OAuth access
/// tokens of a user for one provider (`oauth_google`, `oauth_github`…). Expired
/// OAuth 2.0 tokens are refreshed by Clerk when it holds a refresh token.
///
/// Returns [`OAuthAccessTokens`], from the bare array the server sends by
/// default or from the `{data, total_count}` envelope it sends with
/// [`paginated(true)`](Self::paginated) (then `total_count` is set).
///
/// ```
/// # use clerk_core::{users::GetOAuthAccessTokens, BaseUrl, Operation};
/// let request = GetOAuthAccessTokens::new("user_1", "oauth_google")
///     .paginated(true)
///     .limit(20)
///     .build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
/// assert_eq!(
///     request.uri(),
///     "https://api.clerk.com/v1/users/user_1/oauth_access_tokens/oauth_google?paginated=true&limit=20"
/// );
/// # Ok::<(), clerk_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetOAuthAccessTokens {
    user_id: String,
    provider: String,
    paginated: Option<bool>,
    limit: Option<u32>,
    offset: Option<u64>,
}

impl GetOAuthAccessTokens {
    /// The tokens of `user_id` for `provider` (the full strategy name, such as
    /// `oauth_google`).
    pub fn new(user_id: impl Into<String>, provider: impl Into<String>) -> Self {
        Self {
            user_id: user_id.into(),
            provider: provider.into(),
            paginated: None,
            limit: None,
            offset: None,
        }
    }

    /// Asks for the `{data, total_count}` envelope.
    #[must_use]
    pub fn paginated(mut self, paginated: bool) -> Self {
        self.paginated = Some(paginated);
        self
    }

    /// Page size, 1 to 500.
    #[must_use]
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Skips this many tokens.
    #[must_use]
    pub fn offset(mut self, offset: u64) -> Self {
        self.offset = Some(offset);
        self
    }

    /// The user id.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// The provider.
    pub fn provider(&self) -> &str {
        &self.provider
    }
}

impl Operation for GetOAuthAccessTokens {
    type Output = OAuthAccessTokens;

    fn info(&self) -> OperationInfo {
        OperationInfo::new(
            "GetOAuthAccessToken",
            "/users/{user_id}/oauth_access_tokens/{provider}",
            RetryClass::Idempotent,
        )
    }

    fn build_request(&self, base: &BaseUrl) -> Result<ClerkRequest, Error> {
        wire::check_limit(self.limit)?;
        let mut q = Query::new();
        q.opt_display("paginated", self.paginated);
        q.opt_display("limit", self.limit);
        q.opt_display("offset", self.offset);
        let path = PathBuilder::new("users")
            .id("user_id", &self.user_id)?
            .lit("oauth_access_tokens")
            .id("provider", &self.provider)?
            .finish();
        wire::request(Method::GET, base, &(path + q.as_str()), None, self.info())
    }

    fn parse_response(&self, response: ClerkResponse) -> Result<Self::Output, Error> {
        wire::parse_json(response)
    }
}
