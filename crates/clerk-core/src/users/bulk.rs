use http::Method;
use serde::Serialize;

use crate::wire::{self, PathBuilder, Payload};
use crate::{
    BaseUrl, ClerkRequest, ClerkResponse, Error, Operation, OperationInfo, RetryClass, User,
};

/// How many ids one bulk call takes.
const MAX_IDS: usize = 50;

#[derive(Serialize)]
struct Body<'a> {
    user_ids: &'a [String],
}

fn build(
    op: &impl Operation,
    user_ids: &[String],
    segment: &'static str,
    base: &BaseUrl,
) -> Result<ClerkRequest, Error> {
    if user_ids.is_empty() || user_ids.len() > MAX_IDS {
        return Err(Error::invalid_request(format!(
            "a bulk call takes 1 to {MAX_IDS} user ids, got {}",
            user_ids.len()
        )));
    }
    for id in user_ids {
        wire::check_id("user_ids", id)?;
    }
    let path = PathBuilder::new("users").lit(segment).finish();
    let body = Payload::json(&Body { user_ids })?;
    wire::request(Method::POST, base, &path, Some(body), op.info())
}

macro_rules! bulk_op {
    ($(#[$doc:meta])* $name:ident, $segment:literal, $op_id:literal, $template:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name {
            user_ids: Vec<String>,
        }

        impl $name {
            /// The request for these users (1 to 50 ids, checked when the request is built).
            pub fn new<I>(user_ids: I) -> Self
            where
                I: IntoIterator,
                I::Item: Into<String>,
            {
                Self { user_ids: user_ids.into_iter().map(Into::into).collect() }
            }

            /// The user ids.
            pub fn user_ids(&self) -> &[String] {
                &self.user_ids
            }
        }

        impl Operation for $name {
            type Output = Vec<User>;

            fn info(&self) -> OperationInfo {
                OperationInfo::new($op_id, $template, RetryClass::Idempotent)
            }

            fn build_request(&self, base: &BaseUrl) -> Result<ClerkRequest, Error> {
                build(self, &self.user_ids, $segment, base)
            }

            fn parse_response(&self, response: ClerkResponse) -> Result<Self::Output, Error> {
                wire::parse_list(response)
            }
        }
    };
}

bulk_op! {
    /// `POST /users/ban`: bans up to 50 users at once. Body `{"user_ids": [...]}`.
    ///
    /// Returns the banned users (`Vec<User>`). Fewer than 1 or more than 50 ids is an
    /// [`Error::is_invalid_request`] error before anything is sent.
    ///
    /// ```
    /// # use clerk_core::{users::BanUsers, BaseUrl, Operation};
    /// let request = BanUsers::new(["user_1", "user_2"]).build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
    /// assert_eq!(request.uri().path(), "/v1/users/ban");
    /// assert_eq!(&request.body().as_bytes()[..], br#"{"user_ids":["user_1","user_2"]}"#);
    /// # Ok::<(), clerk_core::Error>(())
    /// ```
    BanUsers, "ban", "UsersBan", "/users/ban"
}

bulk_op! {
    /// `POST /users/unban`: lifts the ban of up to 50 users at once. Body
    /// `{"user_ids": [...]}`.
    ///
    /// Returns the unbanned users (`Vec<User>`).
    ///
    /// ```
    /// # use clerk_core::{users::UnbanUsers, BaseUrl, Operation};
    /// let request = UnbanUsers::new(vec!["user_1".to_string()])
    ///     .build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
    /// assert_eq!(request.uri().path(), "/v1/users/unban");
    /// # Ok::<(), clerk_core::Error>(())
    /// ```
    UnbanUsers, "unban", "UsersUnban", "/users/unban"
}
