//! Clerk migration-tool's user format (`userId`, `email`, `firstName`, `passwordHasher`, …)
//! turned into Clerk create bodies, for `import --format migration-tool` (or detected).

use serde_json::{Map, Value};

use crate::input::strings;

/// One migration-tool user to a Clerk create body.
///
/// Verified identifiers (`email`, `emailAddresses`, `phone`, `phoneNumbers`) come
/// first, unverified ones after them with the identification status `reserved`
/// (Clerk creates listed identifiers verified otherwise). `userId` becomes
/// `external_id`; `password` with `passwordHasher` becomes `password_digest`.
pub(crate) fn to_clerk(mut user: Map<String, Value>) -> Map<String, Value> {
    let mut body = Map::new();
    let mut identifiers = |verified: &[&str],
                           unverified: &str,
                           field: &str,
                           status_field: &str,
                           user: &mut Map<String, Value>| {
        let mut list: Vec<Value> = Vec::new();
        let mut statuses: Vec<Value> = Vec::new();
        for key in verified {
            for v in user.remove(*key).map(strings).unwrap_or_default() {
                if !list.contains(&v) {
                    list.push(v);
                    statuses.push(Value::from("verified"));
                }
            }
        }
        let mut any_unverified = false;
        for v in user.remove(unverified).map(strings).unwrap_or_default() {
            if !list.contains(&v) {
                list.push(v);
                statuses.push(Value::from("reserved"));
                any_unverified = true;
            }
        }
        if !list.is_empty() {
            body.insert(field.to_owned(), Value::Array(list));
            if any_unverified {
                body.insert(status_field.to_owned(), Value::Array(statuses));
            }
        }
    };
    identifiers(
        &["email", "emailAddresses"],
        "unverifiedEmailAddresses",
        "email_address",
        "email_address_identification_status",
        &mut user,
    );
    identifiers(
        &["phone", "phoneNumbers"],
        "unverifiedPhoneNumbers",
        "phone_number",
        "phone_number_identification_status",
        &mut user,
    );
    let hashed = user.contains_key("passwordHasher");
    // `backupCodesEnabled` only says whether codes exist; the codes themselves carry it.
    user.remove("backupCodesEnabled");
    for (from, to) in [
        ("userId", "external_id"),
        ("firstName", "first_name"),
        ("lastName", "last_name"),
        ("username", "username"),
        ("passwordHasher", "password_hasher"),
        ("totpSecret", "totp_secret"),
        ("backupCodes", "backup_codes"),
        ("publicMetadata", "public_metadata"),
        ("privateMetadata", "private_metadata"),
        ("unsafeMetadata", "unsafe_metadata"),
        ("bypassClientTrust", "bypass_client_trust"),
        ("createOrganizationEnabled", "create_organization_enabled"),
        ("createOrganizationsLimit", "create_organizations_limit"),
        ("createdAt", "created_at"),
        ("deleteSelfEnabled", "delete_self_enabled"),
        ("legalAcceptedAt", "legal_accepted_at"),
        ("skipLegalChecks", "skip_legal_checks"),
        ("skipPasswordChecks", "skip_password_checks"),
        ("banned", "banned"),
        ("locked", "locked"),
        ("locale", "locale"),
    ] {
        if let Some(value) = user.remove(from) {
            if value.is_null() {
                continue;
            }
            let value = if to == "backup_codes" {
                Value::Array(strings(value))
            } else {
                value
            };
            body.insert(to.to_owned(), value);
        }
    }
    if let Some(password) = user.remove("password") {
        body.insert(
            if hashed {
                "password_digest"
            } else {
                "password"
            }
            .to_owned(),
            password,
        );
    }
    // A numeric userId is common in exports from SQL databases.
    if let Some(Value::Number(n)) = body.get("external_id") {
        let text = n.to_string();
        body.insert("external_id".into(), Value::String(text));
    }
    // Anything left is not a migration-tool field: keep it so validation names it.
    body.extend(user);
    body
}
