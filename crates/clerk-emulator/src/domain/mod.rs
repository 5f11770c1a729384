//! The domain layer: the emulated instance's rules, as functions on `InstanceData`
//! that take decoded bodies and answer Clerk's errors. The
//! `/v1` handlers and the seed loader both call these, so a seeded user passes exactly the
//! checks a created one does; nothing here reads a request or writes a response.
//!
//! | module | what |
//! |---|---|
//! | `identifiers` | email, phone, username and web3 wallet rules; uniqueness errors |
//! | `credentials` | password policy, password digests, TOTP secrets, backup codes |
//! | `users` | create and update a user, merge metadata |
//! | `user_actions` | delete, ban/lock, MFA removal, sub-resources, profile images |
//! | `search` | the list and count filters, ordering and cursor |
//! | `accounts` | external accounts, passkeys and sign-in activity (control API, seed) |
//! | `orgs` | organizations, memberships and invitations |
//! | `newer` | password compromise and removal, email/phone replacement, trusted devices, billing |

pub(crate) mod accounts;
pub(crate) mod credentials;
pub(crate) mod identifiers;
pub(crate) mod newer;
pub(crate) mod orgs;
pub(crate) mod search;
pub(crate) mod user_actions;
pub(crate) mod users;
