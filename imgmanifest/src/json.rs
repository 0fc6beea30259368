//! The compact JSON form the validator reads.
//!
//! A manifest parsed into serde_json's `Value` (with `preserve_order`) takes
//! about ten times its text in some fifty allocations: each object member
//! sits in a 112-byte bucket, its key in an allocation of its own, beside a
//! hash index. Validating one then costs more in cache misses than in work.
//! [`Json`] keeps an object as one slice of 40-byte members and names the
//! keys the validator looks for by a one-byte id instead of a string, so a
//! manifest takes about a third of the memory in half the allocations. It is
//! what `JSON.parse` gives Node's validator (interned keys, properties in
//! place): make it once per manifest with `Json::from(&value)`, then
//! validate it in as many modes as needed.

use serde_json::{Number, Value};

use crate::js::{JsonValue, Kind};

/// A JSON value; objects keep their members in insertion order.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as serde_json holds it.
    Number(Number),
    /// A string.
    String(Box<str>),
    /// An array.
    Array(Box<[Json]>),
    /// An object, members in insertion order.
    Object(Box<[Member]>),
}

/// One member of an object.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// The member's key.
    pub key: Key,
    /// Its value.
    pub value: Json,
}

/// An object key: one of [`KNOWN_KEYS`] by its position, or any other.
/// Make keys with [`Key::new`], which picks the variant.
#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    /// A position in [`KNOWN_KEYS`].
    Known(u8),
    /// Any other key.
    Other(Box<str>),
}

/// The keys the validator looks up: the manifest fields (in the order of
/// [`FIELDS`](crate::validate::FIELDS), which is this list's head), then the
/// requirement names, then the fields of a `files` entry.
pub const KNOWN_KEYS: [&str; 44] = [
    "v",
    "uuid",
    "urn",
    "owner",
    "name",
    "version",
    "description",
    "homepage",
    "eula",
    "disabled",
    "activated",
    "published_at",
    "state",
    "public",
    "type",
    "os",
    "origin",
    "error",
    "files",
    "icon",
    "acl",
    "requirements",
    "users",
    "billing_tags",
    "traits",
    "tags",
    "generate_passwords",
    "inherited_directories",
    "nic_driver",
    "disk_driver",
    "cpu_type",
    "image_size",
    "channels",
    // Requirements.
    "networks",
    "brand",
    "ssh_key",
    "min_ram",
    "max_ram",
    "min_platform",
    "max_platform",
    "bootrom",
    // A `files` entry.
    "sha1",
    "size",
    "compression",
];

/// Positions in [`KNOWN_KEYS`].
#[allow(dead_code)] // a full table; the validator reads most of it
pub(crate) mod key_id {
    pub const V: usize = 0;
    pub const UUID: usize = 1;
    pub const URN: usize = 2;
    pub const OWNER: usize = 3;
    pub const NAME: usize = 4;
    pub const VERSION: usize = 5;
    pub const DESCRIPTION: usize = 6;
    pub const HOMEPAGE: usize = 7;
    pub const EULA: usize = 8;
    pub const DISABLED: usize = 9;
    pub const ACTIVATED: usize = 10;
    pub const PUBLISHED_AT: usize = 11;
    pub const STATE: usize = 12;
    pub const PUBLIC: usize = 13;
    pub const TYPE: usize = 14;
    pub const OS: usize = 15;
    pub const ORIGIN: usize = 16;
    pub const ERROR: usize = 17;
    pub const FILES: usize = 18;
    pub const ICON: usize = 19;
    pub const ACL: usize = 20;
    pub const REQUIREMENTS: usize = 21;
    pub const USERS: usize = 22;
    pub const BILLING_TAGS: usize = 23;
    pub const TRAITS: usize = 24;
    pub const TAGS: usize = 25;
    pub const GENERATE_PASSWORDS: usize = 26;
    pub const INHERITED_DIRECTORIES: usize = 27;
    pub const NIC_DRIVER: usize = 28;
    pub const DISK_DRIVER: usize = 29;
    pub const CPU_TYPE: usize = 30;
    pub const IMAGE_SIZE: usize = 31;
    pub const CHANNELS: usize = 32;
    // Requirements.
    pub const NETWORKS: usize = 33;
    pub const BRAND: usize = 34;
    pub const SSH_KEY: usize = 35;
    pub const MIN_RAM: usize = 36;
    pub const MAX_RAM: usize = 37;
    pub const MIN_PLATFORM: usize = 38;
    pub const MAX_PLATFORM: usize = 39;
    pub const BOOTROM: usize = 40;
    // A `files` entry.
    pub const SHA1: usize = 41;
    pub const SIZE: usize = 42;
    pub const COMPRESSION: usize = 43;
}

/// Where the requirement names and the `files` entry fields start in
/// [`KNOWN_KEYS`].
pub(crate) const FIRST_REQUIREMENT: usize = key_id::NETWORKS;
pub(crate) const FIRST_FILE_FIELD: usize = key_id::SHA1;

/// Position of a key in [`KNOWN_KEYS`].
pub(crate) fn known_key_id(name: &str) -> Option<u8> {
    // Dispatch on length and first byte, then one comparison: this runs for
    // every key of every manifest read.
    let first = *name.as_bytes().first()?;
    let id = match (name.len(), first) {
        (1, b'v') if name == "v" => key_id::V,
        (2, b'o') if name == "os" => key_id::OS,
        (3, b'a') if name == "acl" => key_id::ACL,
        (3, b'u') if name == "urn" => key_id::URN,
        (4, b'e') if name == "eula" => key_id::EULA,
        (4, b'i') if name == "icon" => key_id::ICON,
        (4, b'n') if name == "name" => key_id::NAME,
        (4, b's') if name == "sha1" => key_id::SHA1,
        (4, b's') if name == "size" => key_id::SIZE,
        (4, b't') if name == "type" => key_id::TYPE,
        (4, b't') if name == "tags" => key_id::TAGS,
        (4, b'u') if name == "uuid" => key_id::UUID,
        (5, b'b') if name == "brand" => key_id::BRAND,
        (5, b'e') if name == "error" => key_id::ERROR,
        (5, b'f') if name == "files" => key_id::FILES,
        (5, b'o') if name == "owner" => key_id::OWNER,
        (5, b's') if name == "state" => key_id::STATE,
        (5, b'u') if name == "users" => key_id::USERS,
        (6, b'o') if name == "origin" => key_id::ORIGIN,
        (6, b'p') if name == "public" => key_id::PUBLIC,
        (6, b't') if name == "traits" => key_id::TRAITS,
        (7, b'b') if name == "bootrom" => key_id::BOOTROM,
        (7, b'm') if name == "min_ram" => key_id::MIN_RAM,
        (7, b'm') if name == "max_ram" => key_id::MAX_RAM,
        (7, b's') if name == "ssh_key" => key_id::SSH_KEY,
        (7, b'v') if name == "version" => key_id::VERSION,
        (8, b'c') if name == "cpu_type" => key_id::CPU_TYPE,
        (8, b'c') if name == "channels" => key_id::CHANNELS,
        (8, b'd') if name == "disabled" => key_id::DISABLED,
        (8, b'h') if name == "homepage" => key_id::HOMEPAGE,
        (8, b'n') if name == "networks" => key_id::NETWORKS,
        (9, b'a') if name == "activated" => key_id::ACTIVATED,
        (10, b'i') if name == "image_size" => key_id::IMAGE_SIZE,
        (10, b'n') if name == "nic_driver" => key_id::NIC_DRIVER,
        (11, b'c') if name == "compression" => key_id::COMPRESSION,
        (11, b'd') if name == "description" => key_id::DESCRIPTION,
        (11, b'd') if name == "disk_driver" => key_id::DISK_DRIVER,
        (12, b'b') if name == "billing_tags" => key_id::BILLING_TAGS,
        (12, b'm') if name == "min_platform" => key_id::MIN_PLATFORM,
        (12, b'm') if name == "max_platform" => key_id::MAX_PLATFORM,
        (12, b'p') if name == "published_at" => key_id::PUBLISHED_AT,
        (12, b'r') if name == "requirements" => key_id::REQUIREMENTS,
        (18, b'g') if name == "generate_passwords" => key_id::GENERATE_PASSWORDS,
        (21, b'i') if name == "inherited_directories" => key_id::INHERITED_DIRECTORIES,
        _ => return None,
    };
    Some(id as u8)
}

impl Key {
    /// The key for `name`: `Known` if it is one of [`KNOWN_KEYS`].
    pub fn new(name: &str) -> Key {
        match known_key_id(name) {
            Some(id) => Key::Known(id),
            None => Key::Other(name.into()),
        }
    }

    /// The key's text.
    pub fn as_str(&self) -> &str {
        match self {
            Key::Known(id) => KNOWN_KEYS[usize::from(*id)],
            Key::Other(name) => name,
        }
    }

    /// Position in [`KNOWN_KEYS`], for a known key.
    #[inline]
    pub fn id(&self) -> Option<usize> {
        match self {
            Key::Known(id) => Some(usize::from(*id)),
            Key::Other(_) => None,
        }
    }
}

impl Json {
    /// An object's members; none for other values.
    fn object_members(&self) -> &[Member] {
        match self {
            Json::Object(m) => m,
            _ => &[],
        }
    }
}

impl From<&Value> for Json {
    fn from(v: &Value) -> Json {
        match v {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => Json::Number(n.clone()),
            Value::String(s) => Json::String(s.as_str().into()),
            Value::Array(a) => Json::Array(a.iter().map(Json::from).collect()),
            Value::Object(m) => {
                Json::Object(m.iter().map(|(k, v)| Member { key: Key::new(k), value: Json::from(v) }).collect())
            }
        }
    }
}

impl From<&Json> for Value {
    fn from(v: &Json) -> Value {
        match v {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => Value::Number(n.clone()),
            Json::String(s) => Value::String(s.to_string()),
            Json::Array(a) => Value::Array(a.iter().map(Value::from).collect()),
            Json::Object(m) => {
                Value::Object(m.iter().map(|m| (m.key.as_str().to_string(), Value::from(&m.value))).collect())
            }
        }
    }
}

impl JsonValue for Json {
    #[inline]
    fn kind(&self) -> Kind<'_, Self> {
        match self {
            Json::Null => Kind::Null,
            Json::Bool(b) => Kind::Bool(*b),
            Json::Number(n) => Kind::Number(n),
            Json::String(s) => Kind::String(s),
            Json::Array(a) => Kind::Array(a),
            Json::Object(m) => Kind::Object(m.len()),
        }
    }

    fn members(&self) -> impl Iterator<Item = (&str, &Self)> {
        self.object_members().iter().map(|m| (m.key.as_str(), &m.value))
    }

    fn keyed_members(&self) -> impl Iterator<Item = (Option<usize>, &str, &Self)> {
        self.object_members().iter().map(|m| (m.key.id(), m.key.as_str(), &m.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_known_key_is_found_and_no_other() {
        for (id, name) in KNOWN_KEYS.iter().enumerate() {
            assert_eq!(known_key_id(name), Some(id as u8), "{name}");
        }
        for name in ["", "x", "uuids", "Name", "__proto__", "length", "dataset_guid"] {
            assert_eq!(known_key_id(name), None, "{name}");
        }
        assert_eq!(KNOWN_KEYS[FIRST_REQUIREMENT], "networks");
        assert_eq!(KNOWN_KEYS[FIRST_FILE_FIELD], "sha1");
    }

    #[test]
    fn converts_both_ways_keeping_order_and_numbers() {
        let v = json!({"b": [1, -2, 2.5, 18446744073709551615u64, null, true],
                       "name": "x", "10": {"sha1": "", "zz": {}}, "a": "é\u{1F600}"});
        let j = Json::from(&v);
        let Json::Object(members) = &j else { panic!("not an object") };
        assert_eq!(members[1].key, Key::Known(4));
        assert_eq!(members[2].key, Key::Other("10".into()));
        assert_eq!(Value::from(&j), v);
        assert_eq!(serde_json::to_string(&Value::from(&j)).unwrap(), serde_json::to_string(&v).unwrap());
    }
}
