//! Clerk-style identifiers: a prefix plus 27 base62 characters (`user_2xhFjEI5X2qWRvtV13BzSj8H6Dk`).

use rand::Rng;

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A fresh random id such as `user_…`, `idn_…`, `org_…`.
pub(crate) fn new_id(prefix: &str) -> String {
    let mut rng = rand::rng();
    let mut s = String::with_capacity(prefix.len() + 28);
    s.push_str(prefix);
    s.push('_');
    for _ in 0..27 {
        s.push(char::from(BASE62[rng.random_range(0..BASE62.len())]));
    }
    s
}

/// A random lowercase hex string (trace ids, tokens).
pub(crate) fn random_hex(bytes: usize) -> String {
    let mut rng = rand::rng();
    (0..bytes)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}
