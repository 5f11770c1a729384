//! `--shard K/N`: N processes (on N machines) split one input between them.
//!
//! A record belongs to shard `K` when a stable hash of its key
//! ([`record_key`](crate::record::record_key): its identity, the lookup key —
//! `external_id`, else first email, phone, username, web3 wallet — else a hash of the body) is `K − 1` modulo `N`. The key, not the line number, decides,
//! so an input edited between runs (lines inserted, removed or reordered) still sends
//! every record to the same shard, and no two shards ever create the same user.
//!
//! ```
//! use clerk_migrate::shard::Shard;
//!
//! let shards: Vec<Shard> = (1..=3).map(|k| format!("{k}/3").parse().unwrap()).collect();
//! for key in ["crm-1", "crm-2", "ada@example.com"] {
//!     assert_eq!(shards.iter().filter(|s| s.contains(key)).count(), 1);
//! }
//! assert!("0/3".parse::<Shard>().is_err());
//! ```

use std::fmt;
use std::str::FromStr;

/// One of `N` shards of an input (`K/N`, K from 1 to N).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shard {
    index: u32,
    count: u32,
}

impl Shard {
    /// The whole input (`1/1`).
    pub const ALL: Self = Self { index: 1, count: 1 };

    /// Shard `index` of `count` (1-based); `None` unless `1 ≤ index ≤ count`.
    pub fn new(index: u32, count: u32) -> Option<Self> {
        (1..=count)
            .contains(&index)
            .then_some(Self { index, count })
    }

    /// `K`, from 1.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// `N`.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Whether the record with this key belongs to this shard.
    pub fn contains(&self, record_key: &str) -> bool {
        self.count == 1
            || crate::record::stable_hash(record_key.as_bytes()) % u64::from(self.count)
                == u64::from(self.index - 1)
    }
}

impl Default for Shard {
    fn default() -> Self {
        Self::ALL
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Why a `K/N` did not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardError(String);

impl fmt::Display for ShardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ShardError {}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            ShardError(format!(
                "invalid shard {:?}: expected K/N with 1 ≤ K ≤ N, e.g. 2/4",
                s.chars().take(40).collect::<String>()
            ))
        };
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let k: u32 = k.trim().parse().map_err(|_| bad())?;
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        Self::new(k, n).ok_or_else(bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_lands_in_exactly_one_shard_and_shards_are_balanced() {
        let shards: Vec<Shard> = (1..=4).map(|k| Shard::new(k, 4).unwrap()).collect();
        let mut sizes = [0usize; 4];
        for i in 0..4000 {
            let key = format!("bench-1-{i:07}");
            let owners: Vec<usize> = (0..4).filter(|&s| shards[s].contains(&key)).collect();
            assert_eq!(owners.len(), 1, "{key}");
            sizes[owners[0]] += 1;
        }
        for size in sizes {
            assert!((850..1150).contains(&size), "{sizes:?}");
        }
    }

    #[test]
    fn parse_and_display() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard::new(2, 4).unwrap()));
        assert_eq!(Shard::new(2, 4).unwrap().to_string(), "2/4");
        for bad in ["", "1", "0/4", "5/4", "1/0", "a/b", "-1/4", "1/4/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        assert!(Shard::ALL.contains("anything"));
    }
}
