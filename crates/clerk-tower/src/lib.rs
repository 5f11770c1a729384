//! A Rust client for Clerk's Backend API (Users), built as a stack of tower middleware.
