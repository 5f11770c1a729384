//! A Rust client for Clerk's Backend API, Users resource, built as a stack of
//! tower middleware.
//!
//! ```no_run
//! use clerk_tower::{Clerk, users::{CreateUser, ListUsers}};
//! use futures_util::TryStreamExt;
//!
//! # async fn run() -> Result<(), clerk_tower::Error> {
//! // Reads CLERK_SECRET_KEY (and CLERK_API_URL, default https://api.clerk.com/v1).
//! let clerk = Clerk::builder().build()?;
//! let user = clerk
//!     .users()
//!     .create(CreateUser::new().email_address("ada@example.com").first_name("Ada"))
//!     .await?;
//! let mut users = std::pin::pin!(clerk.users().list_all(ListUsers::new().limit(500)));
//! while let Some(user) = users.try_next().await? {
//!     println!("{} {:?}", user.id, user.first_name);
//! }
//! # Ok(()) }
//! ```
//!
//! The client is a thin handle around a tower `Service` stack
//! (`http::Request<Body>` → `http::Response<Body>`, errors are [`Error`]):
//!
//! - [`Clerk::builder`] assembles [the default stack](layers#the-default-stack)
//!   of [`layers`] over the hyper transport, with a knob for each layer (see
//!   [`ClerkBuilder`]);
//! - [`Clerk::from_service`] takes any stack you built, for example with the
//!   layers of [`layers`] inside your own `ServiceBuilder`;
//! - every operation is a sans-IO request type of [`users`] that you can also
//!   drive yourself with [`Clerk::execute`].

mod builder;
mod client;
mod pagination;
mod users_api;

pub use builder::{API_URL_ENV, ClerkBuilder, SECRET_KEY_ENV};
pub use client::{Clerk, ClerkService};
pub use users_api::Users;

pub use clerk_layers::metrics::{Metrics, MetricsSnapshot};

pub use clerk_core::models;
pub use clerk_core::users;
pub use clerk_core::*;
/// The tower layers of the default stack, for your own stacks.
pub use clerk_layers as layers;
/// The hyper transport of the default stack.
pub use clerk_transport as transport;
