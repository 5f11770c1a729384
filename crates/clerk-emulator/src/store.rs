//! Per-instance in-memory data and its uniqueness indexes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{BuildHasher as _, RandomState};

use serde::{Deserialize, Serialize};

use crate::model::{Image, Invitation, Membership, Organization, User, is_admin_role};

/// Kinds of identifiers that must be unique within an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum IdentKind {
    Email,
    Phone,
    Username,
    Web3,
}

impl IdentKind {
    pub(crate) fn param(self) -> &'static str {
        match self {
            Self::Email => "email_address",
            Self::Phone => "phone_number",
            Self::Username => "username",
            Self::Web3 => "web3_wallet",
        }
    }
}

/// Identifiers compare case-insensitively (Clerk lowercases emails, usernames and wallets).
pub(crate) fn ident_key(kind: IdentKind, value: &str) -> (IdentKind, String) {
    (kind, value.to_lowercase())
}

/// All data of one instance. Serialized as is into the `--state` snapshot (indexes are rebuilt).
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct InstanceData {
    /// Boxed: the table then holds a pointer per slot, not a whole user (a hash table
    /// keeps up to twice as many slots as entries; at 1,000,000 users that is ~1 GB less).
    #[serde(deserialize_with = "users_by_id")]
    pub(crate) users: HashMap<String, Box<User>>,
    pub(crate) orgs: HashMap<String, Organization>,
    pub(crate) memberships: HashMap<String, Membership>,
    pub(crate) invitations: HashMap<String, Invitation>,
    pub(crate) images: HashMap<String, Image>,
    /// `created_at`/`seq` of deleted users, so a `starting_after` cursor pointing at a user
    /// deleted between two pages keeps working.
    pub(crate) tombstones: HashMap<String, (i64, u64)>,
    pub(crate) next_seq: u64,
    #[serde(skip)]
    idents: HashMap<(IdentKind, String), String>,
    /// User ids in `created_at`, then `seq`, order: a `created_at`-ordered page (the
    /// default, and every cursor page) walks from its cursor instead of sorting every user.
    #[serde(skip)]
    by_created: BTreeMap<(i64, u64), String>,
    /// `(hash of the external id, created_at, seq)` of every user with an external id: the
    /// candidates of an `external_id` filter, in 24 bytes a user instead of a second copy of
    /// each id (a hash collision only adds a candidate the filter then rejects).
    #[serde(skip)]
    by_external_id: BTreeSet<(u64, i64, u64)>,
    #[serde(skip)]
    external_id_hasher: RandomState,
    /// Set once two users were indexed under one identifier or one `(created_at, seq)`
    /// (a hand-edited state file can hold such users; the API refuses them): the maps then
    /// keep one of them, so list filters go back to scanning every user.
    #[serde(skip)]
    collided: bool,
    #[serde(skip)]
    user_memberships: HashMap<String, Vec<String>>,
    #[serde(skip)]
    org_slugs: HashMap<String, String>,
    /// Members and admins per organization, so rendering an organization is O(1).
    #[serde(skip)]
    org_members: HashMap<String, (usize, usize)>,
}

/// The users of a state file, one at a time; an error names the user it is in.
fn users_by_id<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<HashMap<String, Box<User>>, D::Error> {
    struct Users;
    impl<'de> serde::de::Visitor<'de> for Users {
        type Value = HashMap<String, Box<User>>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object of users by id")
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut users = HashMap::with_capacity(map.size_hint().unwrap_or(0));
            while let Some(id) = map.next_key::<String>()? {
                let user: Box<User> = map.next_value().map_err(|e| {
                    let msg = e.to_string();
                    let msg = crate::persist::without_position(&msg);
                    serde::de::Error::custom(format!("user {id:?}: {msg}"))
                })?;
                users.insert(id, user);
            }
            Ok(users)
        }
    }
    d.deserialize_map(Users)
}

impl InstanceData {
    pub(crate) fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    pub(crate) fn rebuild_indexes(&mut self) {
        self.idents.clear();
        self.by_created.clear();
        self.by_external_id.clear();
        self.collided = false;
        self.user_memberships.clear();
        self.org_slugs.clear();
        self.org_members.clear();
        let users: Vec<String> = self.users.keys().cloned().collect();
        for id in users {
            self.index_user(&id);
        }
        let mut mems: Vec<&Membership> = self.memberships.values().collect();
        mems.sort_by_key(|m| m.seq);
        for m in mems {
            self.user_memberships
                .entry(m.user_id.clone())
                .or_default()
                .push(m.id.clone());
            let c = self
                .org_members
                .entry(m.organization_id.clone())
                .or_default();
            c.0 += 1;
            c.1 += usize::from(is_admin_role(&m.role));
        }
        for o in self.orgs.values() {
            self.org_slugs.insert(o.slug.clone(), o.id.clone());
        }
        let max_seq = self
            .users
            .values()
            .map(|u| u.seq)
            .chain(self.memberships.values().map(|m| m.seq))
            .chain(self.invitations.values().map(|i| i.seq))
            .max()
            .unwrap_or(0);
        self.next_seq = self.next_seq.max(max_seq);
    }

    /// The owner of an identifier, if any.
    pub(crate) fn ident_owner(&self, kind: IdentKind, value: &str) -> Option<&str> {
        self.idents.get(&ident_key(kind, value)).map(String::as_str)
    }

    fn user_idents(u: &User) -> Vec<(IdentKind, String)> {
        let mut v = Vec::new();
        for e in &u.emails {
            v.push(ident_key(IdentKind::Email, &e.email_address));
        }
        for p in &u.phones {
            v.push(ident_key(IdentKind::Phone, &p.phone_number));
        }
        for w in &u.wallets {
            v.push(ident_key(IdentKind::Web3, &w.web3_wallet));
        }
        if let Some(name) = &u.username {
            v.push(ident_key(IdentKind::Username, name));
        }
        v
    }

    fn external_id_entry(&self, external_id: &str, key: (i64, u64)) -> (u64, i64, u64) {
        (self.external_id_hasher.hash_one(external_id), key.0, key.1)
    }

    fn index_user(&mut self, id: &str) {
        if let Some(u) = self.users.get(id) {
            let key = (u.created_at, u.seq);
            for k in Self::user_idents(u) {
                if self
                    .idents
                    .insert(k, id.to_owned())
                    .is_some_and(|o| o != id)
                {
                    self.collided = true;
                }
            }
            if self
                .by_created
                .insert(key, id.to_owned())
                .is_some_and(|o| o != id)
            {
                self.collided = true;
            }
            if let Some(ext) = &u.external_id {
                let entry = self.external_id_entry(ext, key);
                self.by_external_id.insert(entry);
            }
        }
    }

    fn unindex_user(&mut self, id: &str) {
        if let Some(u) = self.users.get(id) {
            let key = (u.created_at, u.seq);
            for k in Self::user_idents(u) {
                if self.idents.get(&k).is_some_and(|owner| owner == id) {
                    self.idents.remove(&k);
                }
            }
            self.by_created.remove(&key);
            if let Some(ext) = &u.external_id {
                let entry = self.external_id_entry(ext, key);
                self.by_external_id.remove(&entry);
            }
        }
    }

    /// Whether the identifier, external id and `created_at` indexes name every user under
    /// each of its values (see `collided`); list filters narrow their candidates through
    /// them only then.
    pub(crate) fn indexes_exact(&self) -> bool {
        !self.collided
    }

    /// The `(created_at, seq)` keys of the users whose external id may be `external_id`
    /// (every one that is, and rarely another: compare before use).
    pub(crate) fn external_id_keys(
        &self,
        external_id: &str,
    ) -> impl Iterator<Item = (i64, u64)> + '_ {
        let hash = self.external_id_hasher.hash_one(external_id);
        self.by_external_id
            .range((hash, i64::MIN, u64::MIN)..=(hash, i64::MAX, u64::MAX))
            .map(|&(_, created_at, seq)| (created_at, seq))
    }

    /// A user's `(created_at, seq)` key, the order of [`Self::users_by_created`].
    pub(crate) fn created_key(&self, id: &str) -> Option<(i64, u64)> {
        self.users.get(id).map(|u| (u.created_at, u.seq))
    }

    /// The user at a `(created_at, seq)` key.
    pub(crate) fn user_at(&self, key: (i64, u64)) -> Option<&User> {
        self.by_created
            .get(&key)
            .and_then(|id| self.users.get(id))
            .map(|u| &**u)
    }

    /// Users in `(created_at, seq)` order (`desc`: reversed), strictly after `after` in
    /// that order when given.
    pub(crate) fn users_by_created(
        &self,
        desc: bool,
        after: Option<(i64, u64)>,
    ) -> Box<dyn Iterator<Item = &User> + '_> {
        use std::ops::Bound::{Excluded, Unbounded};
        let ids: Box<dyn Iterator<Item = &String>> = match (desc, after) {
            (false, None) => Box::new(self.by_created.values()),
            (false, Some(k)) => {
                Box::new(self.by_created.range((Excluded(k), Unbounded)).map(|e| e.1))
            }
            (true, None) => Box::new(self.by_created.values().rev()),
            (true, Some(k)) => Box::new(
                self.by_created
                    .range((Unbounded, Excluded(k)))
                    .rev()
                    .map(|e| e.1),
            ),
        };
        Box::new(ids.filter_map(|id| self.users.get(id).map(|u| &**u)))
    }

    pub(crate) fn insert_user(&mut self, u: User) {
        let id = u.id.clone();
        self.users.insert(id.clone(), Box::new(u));
        self.index_user(&id);
    }

    /// Applies `f` to a user and keeps the identifier index in step.
    pub(crate) fn modify_user<R>(&mut self, id: &str, f: impl FnOnce(&mut User) -> R) -> Option<R> {
        self.unindex_user(id);
        let r = self.users.get_mut(id).map(|u| f(u));
        self.index_user(id);
        r
    }

    pub(crate) fn remove_user(&mut self, id: &str) -> Option<Box<User>> {
        self.unindex_user(id);
        let u = self.users.remove(id)?;
        self.tombstones.insert(u.id.clone(), (u.created_at, u.seq));
        if let Some(image) = &u.image_id {
            self.images.remove(image);
        }
        if let Some(mems) = self.user_memberships.remove(id) {
            for m in mems {
                if let Some(m) = self.memberships.remove(&m)
                    && let Some(c) = self.org_members.get_mut(&m.organization_id)
                {
                    c.0 = c.0.saturating_sub(1);
                    c.1 = c.1.saturating_sub(usize::from(is_admin_role(&m.role)));
                }
            }
        }
        Some(u)
    }

    pub(crate) fn memberships_of<'a>(
        &'a self,
        user_id: &str,
    ) -> impl Iterator<Item = &'a Membership> + 'a {
        self.user_memberships
            .get(user_id)
            .into_iter()
            .flatten()
            .filter_map(|id| self.memberships.get(id))
    }

    /// Number of members of an organization and whether one of them is an admin.
    pub(crate) fn members_count(&self, org_id: &str) -> (usize, bool) {
        let (n, admins) = self.org_members.get(org_id).copied().unwrap_or_default();
        (n, admins > 0)
    }

    pub(crate) fn pending_invitations_count(&self, org_id: &str, now: i64) -> usize {
        self.invitations
            .values()
            .filter(|i| i.organization_id == org_id && i.effective_status(now) == "pending")
            .count()
    }

    pub(crate) fn insert_membership(&mut self, m: Membership) {
        let c = self
            .org_members
            .entry(m.organization_id.clone())
            .or_default();
        c.0 += 1;
        c.1 += usize::from(is_admin_role(&m.role));
        self.user_memberships
            .entry(m.user_id.clone())
            .or_default()
            .push(m.id.clone());
        self.memberships.insert(m.id.clone(), m);
    }

    pub(crate) fn insert_org(&mut self, o: Organization) {
        self.org_slugs.insert(o.slug.clone(), o.id.clone());
        self.orgs.insert(o.id.clone(), o);
    }

    pub(crate) fn slug_taken(&self, slug: &str) -> bool {
        self.org_slugs.contains_key(slug)
    }

    pub(crate) fn org_by_id_or_slug(&self, id: &str) -> Option<&Organization> {
        self.orgs
            .get(id)
            .or_else(|| self.org_slugs.get(id).and_then(|oid| self.orgs.get(oid)))
    }
}
