//! Clerk's password policy for a plain `password`, unless `skip_password_checks` is set: at
//! least 8 characters, at most 72 bytes (bcrypt's input limit), and not a breached password.
//!
//! The lengths are a rule anyone can apply ([`check_length`]). The breach check stands for
//! Clerk's lookup in a breach database, which no client can reproduce: the emulator applies
//! it to a short list of the commonest breached passwords ([`check`]); an importer leaves it
//! to the server.

use crate::Rejection;

/// Fewest characters a password may have.
pub const MIN_CHARS: usize = 8;
/// Most bytes a password may have.
pub const MAX_BYTES: usize = 72;

/// A few of the passwords every breach list has; Clerk rejects them as `form_password_pwned`.
const BREACHED: &[&str] = &[
    "password",
    "password1",
    "password123",
    "12345678",
    "123456789",
    "1234567890",
    "qwertyuiop",
    "qwerty123",
    "iloveyou",
    "11111111",
    "abc12345",
    "letmein1",
    "welcome1",
    "00000000",
];

/// Checks a plain password against the whole policy, breach list included, as the server
/// does. The rejection never repeats the password.
///
/// # Errors
///
/// Clerk's `form_password_length_too_short`, `form_password_length_too_long` or
/// `form_password_pwned`, on `password`.
pub fn check(password: &str) -> Result<(), Rejection> {
    check_length(password)?;
    if BREACHED.contains(&password.to_lowercase().as_str()) {
        return Err(Rejection::new(
            "form_password_pwned",
            "password",
            "Password has been found in an online data breach.",
            "This password has been found as part of a breach and can not be used, please try another password instead.",
        ));
    }
    Ok(())
}

/// Checks the lengths only: at least [`MIN_CHARS`] characters, at most [`MAX_BYTES`] bytes.
///
/// # Errors
///
/// Clerk's `form_password_length_too_short` or `form_password_length_too_long`.
pub fn check_length(password: &str) -> Result<(), Rejection> {
    if password.chars().count() < MIN_CHARS {
        const TEXT: &str = "Passwords must be 8 characters or more.";
        return Err(Rejection::new(
            "form_password_length_too_short",
            "password",
            TEXT,
            TEXT,
        ));
    }
    if password.len() > MAX_BYTES {
        const TEXT: &str = "Passwords must be less than 72 bytes.";
        return Err(Rejection::new(
            "form_password_length_too_long",
            "password",
            TEXT,
            TEXT,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy() {
        assert_eq!(check("correct horse"), Ok(()));
        assert_eq!(
            check("short").unwrap_err().code(),
            "form_password_length_too_short"
        );
        // Characters, not bytes, count toward the minimum.
        assert_eq!(check("ééééééé").unwrap_err().field(), "password");
        assert_eq!(check("éééééééé"), Ok(()));
        assert_eq!(
            check(&"x".repeat(73)).unwrap_err().code(),
            "form_password_length_too_long"
        );
        assert_eq!(
            check("Password123").unwrap_err().code(),
            "form_password_pwned"
        );
        assert_eq!(check_length("Password123"), Ok(()));
        assert!(check_length("short").is_err());
        let err = check("Password123").unwrap_err();
        assert!(!err.to_string().contains("Password123"));
    }
}
