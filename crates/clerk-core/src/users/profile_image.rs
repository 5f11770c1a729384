use std::fmt;

use bytes::Bytes;
use http::Method;

use crate::wire::{self, PathBuilder};
use crate::{
    BaseUrl, ClerkRequest, ClerkResponse, Error, Operation, OperationInfo, RetryClass, User,
};

/// `POST /users/{user_id}/profile_image`: uploads a profile image, sent as
/// `multipart/form-data` with one part named `file`.
///
/// Returns the updated [`User`] (new `image_url`, `has_image: true`). Any bytes
/// and content type are sent as given; the server decides what it accepts. The
/// part's filename defaults to `profile_image` (servers that read the part as a
/// file upload need one). `Debug` shows only the size of the data.
///
/// ```
/// # use clerk_core::{users::SetProfileImage, BaseUrl, Operation};
/// let png = vec![0x89, b'P', b'N', b'G'];
/// let request = SetProfileImage::new("user_1", png, "image/png")
///     .filename("avatar.png")
///     .build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
/// let content_type = request.headers()["content-type"].to_str().unwrap();
/// assert!(content_type.starts_with("multipart/form-data; boundary="));
/// # Ok::<(), clerk_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SetProfileImage {
    user_id: String,
    data: Bytes,
    content_type: String,
    filename: Option<String>,
}

impl SetProfileImage {
    /// The default filename of the part.
    pub const DEFAULT_FILENAME: &'static str = "profile_image";

    /// Uploads `data` of type `content_type` (such as `image/png`) for `user_id`.
    pub fn new(
        user_id: impl Into<String>,
        data: impl Into<Bytes>,
        content_type: impl Into<String>,
    ) -> Self {
        Self {
            user_id: user_id.into(),
            data: data.into(),
            content_type: content_type.into(),
            filename: None,
        }
    }

    /// The filename of the part.
    #[must_use]
    pub fn filename(mut self, filename: impl Into<String>) -> Self {
        self.filename = Some(filename.into());
        self
    }

    /// The user id.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }
}

impl fmt::Debug for SetProfileImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SetProfileImage")
            .field("user_id", &self.user_id)
            .field("data_len", &self.data.len())
            .field("content_type", &self.content_type)
            .field("filename", &self.filename)
            .finish()
    }
}

impl Operation for SetProfileImage {
    type Output = User;

    fn info(&self) -> OperationInfo {
        OperationInfo::new(
            "SetUserProfileImage",
            "/users/{user_id}/profile_image",
            RetryClass::Idempotent,
        )
    }

    fn build_request(&self, base: &BaseUrl) -> Result<ClerkRequest, Error> {
        let path = PathBuilder::new("users")
            .id("user_id", &self.user_id)?
            .lit("profile_image")
            .finish();
        let filename = self.filename.as_deref().unwrap_or(Self::DEFAULT_FILENAME);
        let body = wire::multipart_file("file", filename, &self.content_type, &self.data)?;
        wire::request(Method::POST, base, &path, Some(body), self.info())
    }

    fn parse_response(&self, response: ClerkResponse) -> Result<Self::Output, Error> {
        wire::parse_object(response)
    }
}
