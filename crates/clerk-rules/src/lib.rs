//! What Clerk's Users API accepts, as plain functions with no I/O: one truth shared by the
//! emulator (which answers with Clerk's errors) and the `clerk-users` CLI (which checks an
//! import file before sending anything).
//!
//! | module | what |
//! |---|---|
//! | [`identifiers`] | email addresses, E.164 phone numbers, usernames, web3 wallets: checked and normalised as Clerk compares them |
//! | [`limits`] | bounds and forbidden characters of text fields and object ids (NUL, control characters, lengths), each with its source |
//! | [`nesting`] | how deeply a JSON text nests (arrays and objects), measured without parsing it |
//! | [`password`] | the password policy (length, breached passwords) |
//! | [`timestamp`] | RFC 3339 date-times of request bodies, as Unix milliseconds |
//! | [`totp`] | base32 TOTP secrets and backup codes |
//! | [`digest`] | the 17 `password_hasher`s: digest forms and work caps; verification with the `verify` feature |
//!
//! ```
//! use clerk_rules::{identifiers, password, timestamp};
//!
//! assert_eq!(identifiers::email(" Ada@Example.com ").unwrap(), "ada@example.com");
//! let bad = identifiers::phone("+12").unwrap_err();
//! assert_eq!(bad.code(), "form_param_format_invalid");
//! assert_eq!(password::check("password").unwrap_err().code(), "form_password_pwned");
//! assert_eq!(timestamp::rfc3339_unix_ms("1970-01-01T00:00:01Z"), Some(1000));
//! assert_eq!(timestamp::rfc3339_unix_ms("2023-02-30T00:00:00Z"), None);
//! ```
//!
//! This crate depends on no other clerk crate, so the emulator stays independent of the
//! client. The `verify` feature adds [`digest::verify_digest`] and links the hash crates
//! (argon2, bcrypt, scrypt, PBKDF2, …); without it, [`digest::validate_digest`] still checks
//! every digest's form and work factors.

use std::fmt;

pub mod digest;
pub mod identifiers;
pub mod limits;
pub mod nesting;
pub mod password;
pub mod timestamp;
pub mod totp;

/// Why a value breaks one of Clerk's rules, in the terms of Clerk's error: the error `code`,
/// the body `field` it concerns, Clerk's short `message` and a `reason` sentence. Neither
/// names the value itself, so a password never ends up in an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejection {
    code: &'static str,
    field: &'static str,
    message: &'static str,
    reason: &'static str,
}

impl Rejection {
    /// A malformed value: Clerk's `form_param_format_invalid`.
    pub(crate) const fn format(field: &'static str, reason: &'static str) -> Self {
        Self {
            code: "form_param_format_invalid",
            field,
            message: "is invalid",
            reason,
        }
    }

    pub(crate) const fn new(
        code: &'static str,
        field: &'static str,
        message: &'static str,
        reason: &'static str,
    ) -> Self {
        Self {
            code,
            field,
            message,
            reason,
        }
    }

    /// Clerk's error code (`form_param_format_invalid`, `form_password_pwned`, …).
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The body field the rule is about (`email_address`, `password`, …).
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// Clerk's short message (`is invalid`, `Passwords must be 8 characters or more.`).
    pub fn message(&self) -> &'static str {
        self.message
    }

    /// What is wrong, as a sentence fragment (`not a valid email address (no `@`)`).
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl std::error::Error for Rejection {}
