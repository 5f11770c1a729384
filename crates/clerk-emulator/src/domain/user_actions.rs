//! What happens to an existing user besides create and update: deletion, bans and locks,
//! MFA removal, sub-resource deletion, profile images and used-up backup codes.

use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult};
use crate::model::{Image, LOCKOUT_SECS, User};
use crate::store::InstanceData;

/// Deletes a user, returning the removed record.
pub(crate) fn delete_user(data: &mut InstanceData, user_id: &str) -> ApiResult<User> {
    data.remove_user(user_id)
        .map(|u| *u)
        .ok_or_else(ApiError::not_found)
}

/// A change of a user's standing, or of its profile image, that takes no body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatusChange {
    Ban,
    Unban,
    Lock,
    Unlock,
    RemoveProfileImage,
}

/// Applies a [`StatusChange`]; a lock lasts [`LOCKOUT_SECS`].
pub(crate) fn change_status(
    data: &mut InstanceData,
    user_id: &str,
    change: StatusChange,
    now: i64,
) -> ApiResult<()> {
    let removed_image = data
        .modify_user(user_id, |u| {
            let mut removed = None;
            match change {
                StatusChange::Ban => u.banned = true,
                StatusChange::Unban => u.banned = false,
                StatusChange::Lock => u.locked_until = Some(now + LOCKOUT_SECS * 1000),
                StatusChange::Unlock => u.locked_until = None,
                StatusChange::RemoveProfileImage => removed = u.image_id.take(),
            }
            u.updated_at = now;
            removed
        })
        .ok_or_else(ApiError::not_found)?;
    if let Some(img) = removed_image {
        data.images.remove(&img);
    }
    Ok(())
}

/// Bans (or unbans) the users of a `POST /users/ban` (`/users/unban`) body, 1 to 50 ids;
/// unknown ids are skipped. Returns the ids found, each once, in the order given.
pub(crate) fn ban_many(
    data: &mut InstanceData,
    body: &JsonBody,
    ban: bool,
    now: i64,
) -> ApiResult<Vec<String>> {
    let ids = body
        .string_list("user_ids")?
        .ok_or_else(|| ApiError::missing_param("user_ids"))?;
    if ids.is_empty() || ids.len() > 50 {
        return Err(ApiError::value_invalid(
            "user_ids",
            "must contain between 1 and 50 user IDs",
        ));
    }
    let mut done: Vec<String> = Vec::new();
    for id in ids {
        if done.contains(&id) {
            continue;
        }
        let found = data.modify_user(&id, |u| {
            u.banned = ban;
            u.updated_at = now;
        });
        if found.is_some() {
            done.push(id);
        }
    }
    Ok(done)
}

/// Which second factors a bodyless MFA `DELETE` removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MfaRemoval {
    /// `DELETE /users/{id}/mfa`: TOTP and backup codes.
    All,
    /// `DELETE /users/{id}/backup_code`.
    BackupCodes,
    /// `DELETE /users/{id}/totp`.
    Totp,
}

/// Removes second factors; `mfa_disabled_at` is set when the last one goes.
pub(crate) fn remove_mfa(
    data: &mut InstanceData,
    user_id: &str,
    removal: MfaRemoval,
    now: i64,
) -> ApiResult<()> {
    data.modify_user(user_id, |u| {
        let had_mfa = u.totp_secret.is_some() || !u.backup_codes.is_empty();
        if matches!(removal, MfaRemoval::All | MfaRemoval::Totp) {
            u.totp_secret = None;
        }
        if matches!(removal, MfaRemoval::All | MfaRemoval::BackupCodes) {
            u.backup_codes.clear();
        }
        if had_mfa && u.totp_secret.is_none() && u.backup_codes.is_empty() {
            u.mfa_disabled_at = Some(now);
        }
        u.updated_at = now;
    })
    .ok_or_else(ApiError::not_found)
}

/// A user's sub-resource that has its own `DELETE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SubResource {
    Passkey,
    Web3Wallet,
    ExternalAccount,
}

impl SubResource {
    /// The `object` of its deleted-object answer.
    pub(crate) fn object(self) -> &'static str {
        match self {
            SubResource::Passkey => "passkey",
            SubResource::Web3Wallet => "web3_wallet",
            SubResource::ExternalAccount => "external_account",
        }
    }
}

/// Deletes one sub-resource of a user (404 when the user or the sub-resource is unknown).
/// Deleting the primary web3 wallet promotes the next one.
pub(crate) fn delete_sub_resource(
    data: &mut InstanceData,
    user_id: &str,
    kind: SubResource,
    sub: &str,
    now: i64,
) -> ApiResult<()> {
    let found = data
        .modify_user(user_id, |u| {
            let found = match kind {
                SubResource::Passkey => remove_where(&mut u.passkeys, |p| p.id == sub),
                SubResource::Web3Wallet => {
                    let found = remove_where(&mut u.wallets, |w| w.id == sub);
                    if found && u.primary_web3_wallet_id.as_deref() == Some(sub) {
                        u.primary_web3_wallet_id = u.wallets.first().map(|w| w.id.clone());
                    }
                    found
                }
                SubResource::ExternalAccount => {
                    remove_where(&mut u.external_accounts, |a| a.id == sub)
                }
            };
            if found {
                u.updated_at = now;
            }
            found
        })
        .ok_or_else(ApiError::not_found)?;
    if found {
        Ok(())
    } else {
        Err(ApiError::not_found())
    }
}

fn remove_where<T>(v: &mut Vec<T>, f: impl Fn(&T) -> bool) -> bool {
    let before = v.len();
    v.retain(|x| !f(x));
    v.len() != before
}

/// Stores `image` as the user's profile image under `image_id`, dropping the one it replaces.
pub(crate) fn set_profile_image(
    data: &mut InstanceData,
    user_id: &str,
    image_id: String,
    image: Image,
    now: i64,
) -> ApiResult<()> {
    let old = data
        .modify_user(user_id, |u| {
            u.updated_at = now;
            u.image_id.replace(image_id.clone())
        })
        .ok_or_else(ApiError::not_found)?;
    if let Some(old) = old {
        data.images.remove(&old);
    }
    data.images.insert(image_id, image);
    Ok(())
}

/// Uses up a backup code that a verification matched: `false` when a concurrent verification
/// of the same code got there first.
pub(crate) fn consume_backup_code(
    data: &mut InstanceData,
    user_id: &str,
    code: &str,
    now: i64,
) -> ApiResult<bool> {
    data.modify_user(user_id, |u| {
        let pos = u.backup_codes.iter().position(|c| c == code);
        if let Some(p) = pos {
            u.backup_codes.remove(p);
            u.updated_at = now;
        }
        pos.is_some()
    })
    .ok_or_else(ApiError::not_found)
}
