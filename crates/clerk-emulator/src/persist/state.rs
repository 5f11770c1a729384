//! Loading the state file (`--state`) as it is read: each configured instance's data is
//! deserialized straight from the file into its tables (no JSON tree of the whole file), and
//! instances whose key is not configured are kept as they are, to be written back.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::Read;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer as _};
use serde_json::Value;

use super::key_id;
use super::stream::{Failure, fail, parse, within};
use crate::store::InstanceData;

/// Loads the instances of `datas` found in a state file; returns the file's other instances
/// (by key hash).
pub(super) fn load(
    reader: impl Read,
    datas: &mut [(String, InstanceData)],
) -> Result<BTreeMap<String, Value>, String> {
    let by_id: HashMap<String, usize> = datas
        .iter()
        .enumerate()
        .map(|(i, (key, _))| (key_id(key), i))
        .collect();
    parse(reader, |de, failure| {
        de.deserialize_map(StateRoot {
            by_id: &by_id,
            datas,
            failure,
        })
    })
}

/// An instance as the state file holds it (its `label` is for people reading the file).
#[derive(Deserialize)]
struct StoredInstance {
    data: InstanceData,
}

struct StateRoot<'a> {
    by_id: &'a HashMap<String, usize>,
    datas: &'a mut [(String, InstanceData)],
    failure: &'a mut Failure,
}

impl<'de> Visitor<'de> for StateRoot<'_> {
    type Value = BTreeMap<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a state object ({\"version\": 1, \"instances\": {..}})")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut dormant = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "instances" && dormant.is_none() {
                dormant = Some(map.next_value_seed(StateInstances {
                    by_id: self.by_id,
                    datas: &mut *self.datas,
                    failure: &mut *self.failure,
                })?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        dormant.ok_or_else(|| fail(self.failure, "missing \"instances\"".to_owned()))
    }
}

struct StateInstances<'a> {
    by_id: &'a HashMap<String, usize>,
    datas: &'a mut [(String, InstanceData)],
    failure: &'a mut Failure,
}

impl<'de> DeserializeSeed<'de> for StateInstances<'_> {
    type Value = BTreeMap<String, Value>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for StateInstances<'_> {
    type Value = BTreeMap<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of instances by key hash")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut dormant = BTreeMap::new();
        while let Some(id) = map.next_key::<String>()? {
            match self.by_id.get(&id) {
                Some(&i) => {
                    let stored: StoredInstance = map
                        .next_value()
                        .map_err(within(self.failure, || "instance data".to_owned()))?;
                    let data = &mut self.datas[i].1;
                    *data = stored.data;
                    data.rebuild_indexes();
                }
                None => {
                    dormant.insert(id, map.next_value()?);
                }
            }
        }
        Ok(dormant)
    }
}
