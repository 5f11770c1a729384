//! Routing of `/v1/...` paths to operations. Each path segment is percent-decoded exactly once,
//! so `user_1%2Fban` is one id, never the `ban` endpoint.

use http::Method;

use crate::op::Op;

/// Why a path did not route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RouteError {
    NotFound,
    MethodNotAllowed,
}

/// Splits a raw path into percent-decoded segments (`None` on invalid UTF-8 after decoding).
pub(crate) fn segments(path: &str) -> Option<Vec<String>> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .ok()
                .map(|c| c.into_owned())
        })
        .collect()
}

/// Routes a `/v1` request. Returns the operation and its path parameters in order.
pub(crate) fn route(method: &Method, path: &str) -> Result<(Op, Vec<String>), RouteError> {
    let segs = segments(path).ok_or(RouteError::NotFound)?;
    let mut it = segs.iter().map(String::as_str);
    if it.next() != Some("v1") {
        return Err(RouteError::NotFound);
    }
    let rest: Vec<&str> = it.collect();
    let m = method;
    let pick = |pairs: &[(Method, Op)]| -> Result<Op, RouteError> {
        pairs
            .iter()
            .find(|(pm, _)| pm == m)
            .map(|(_, op)| *op)
            .ok_or(RouteError::MethodNotAllowed)
    };
    let p = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    use Method as M;
    let (op, params) = match rest.as_slice() {
        ["users"] => (
            pick(&[(M::GET, Op::GetUserList), (M::POST, Op::CreateUser)])?,
            vec![],
        ),
        ["users", "count"] => (pick(&[(M::GET, Op::GetUsersCount)])?, vec![]),
        ["users", "ban"] if m == M::POST => (Op::UsersBan, vec![]),
        ["users", "unban"] if m == M::POST => (Op::UsersUnban, vec![]),
        ["users", id] => (
            pick(&[
                (M::GET, Op::GetUser),
                (M::PATCH, Op::UpdateUser),
                (M::DELETE, Op::DeleteUser),
            ])?,
            p(&[id]),
        ),
        ["users", id, action] => {
            let op = match *action {
                "ban" => pick(&[(M::POST, Op::BanUser)])?,
                "unban" => pick(&[(M::POST, Op::UnbanUser)])?,
                "lock" => pick(&[(M::POST, Op::LockUser)])?,
                "unlock" => pick(&[(M::POST, Op::UnlockUser)])?,
                "profile_image" => pick(&[
                    (M::POST, Op::SetUserProfileImage),
                    (M::DELETE, Op::DeleteUserProfileImage),
                ])?,
                "metadata" => pick(&[
                    (M::PATCH, Op::UpdateUserMetadata),
                    (M::PUT, Op::ReplaceUserMetadata),
                ])?,
                "email_address" => pick(&[(M::PUT, Op::ReplaceUserEmailAddress)])?,
                "phone_number" => pick(&[(M::PUT, Op::ReplaceUserPhoneNumber)])?,
                "remove_password" => pick(&[(M::POST, Op::RemoveUserPassword)])?,
                "trusted_devices" => pick(&[(M::GET, Op::ListUserTrustedDevices)])?,
                "organization_memberships" => {
                    pick(&[(M::GET, Op::UsersGetOrganizationMemberships)])?
                }
                "organization_invitations" => {
                    pick(&[(M::GET, Op::UsersGetOrganizationInvitations)])?
                }
                "verify_password" => pick(&[(M::POST, Op::VerifyPassword)])?,
                "verify_totp" => pick(&[(M::POST, Op::VerifyTOTP)])?,
                "mfa" => pick(&[(M::DELETE, Op::DisableMFA)])?,
                "backup_code" => pick(&[(M::DELETE, Op::DeleteBackupCode)])?,
                "totp" => pick(&[(M::DELETE, Op::DeleteTOTP)])?,
                _ => return Err(RouteError::NotFound),
            };
            (op, p(&[id]))
        }
        ["users", id, "password", "set_compromised"] => (
            pick(&[(M::POST, Op::SetUserPasswordCompromised)])?,
            p(&[id]),
        ),
        ["users", id, "password", "unset_compromised"] => (
            pick(&[(M::POST, Op::UnsetUserPasswordCompromised)])?,
            p(&[id]),
        ),
        ["users", id, "billing", "subscription"] => {
            (pick(&[(M::GET, Op::GetUserBillingSubscription)])?, p(&[id]))
        }
        ["users", id, "billing", "credits"] => (
            pick(&[
                (M::GET, Op::GetUserBillingCreditBalance),
                (M::POST, Op::AdjustUserBillingCreditBalance),
            ])?,
            p(&[id]),
        ),
        ["users", id, kind, sub] => {
            let op = match *kind {
                "trusted_devices" => pick(&[(M::DELETE, Op::RevokeUserTrustedDevice)])?,
                "oauth_access_tokens" => pick(&[(M::GET, Op::GetOAuthAccessToken)])?,
                "passkeys" => pick(&[(M::DELETE, Op::UserPasskeyDelete)])?,
                "web3_wallets" => pick(&[(M::DELETE, Op::UserWeb3WalletDelete)])?,
                "external_accounts" => pick(&[(M::DELETE, Op::DeleteExternalAccount)])?,
                _ => return Err(RouteError::NotFound),
            };
            (op, p(&[id, sub]))
        }
        ["organization_memberships"] => (
            pick(&[(M::GET, Op::InstanceGetOrganizationMemberships)])?,
            vec![],
        ),
        ["organizations"] => (pick(&[(M::POST, Op::CreateOrganization)])?, vec![]),
        ["organizations", id, "memberships"] => (
            pick(&[(M::POST, Op::CreateOrganizationMembership)])?,
            p(&[id]),
        ),
        ["organizations", id, "invitations"] => (
            pick(&[(M::POST, Op::CreateOrganizationInvitation)])?,
            p(&[id]),
        ),
        _ => return Err(RouteError::NotFound),
    };
    Ok((op, params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_decodes_segments_once() {
        assert_eq!(
            route(&Method::GET, "/v1/users"),
            Ok((Op::GetUserList, vec![]))
        );
        assert_eq!(
            route(&Method::POST, "/v1/users/ban"),
            Ok((Op::UsersBan, vec![]))
        );
        assert_eq!(
            route(&Method::GET, "/v1/users/ban"),
            Ok((Op::GetUser, vec!["ban".into()]))
        );
        assert_eq!(
            route(&Method::POST, "/v1/users/user_1%2Fban"),
            Err(RouteError::MethodNotAllowed)
        );
        assert_eq!(
            route(&Method::GET, "/v1/users/user_1%2Fban"),
            Ok((Op::GetUser, vec!["user_1/ban".into()]))
        );
        assert_eq!(
            route(&Method::DELETE, "/v1/users/u/passkeys/idn_%3F1"),
            Ok((Op::UserPasskeyDelete, vec!["u".into(), "idn_?1".into()]))
        );
        assert_eq!(route(&Method::GET, "/v2/users"), Err(RouteError::NotFound));
        assert_eq!(
            route(&Method::GET, "/v1/users/%FF"),
            Err(RouteError::NotFound)
        );
        assert_eq!(Op::VerifyTOTP.name(), "VerifyTOTP");
    }
}
