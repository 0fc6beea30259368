//! Layer keys: `key = SHA-256(parent key, layer kind, canonical inputs)`,
//! the root being the base image's uuid and its file's sha1. Keys are
//! computed from inputs before a layer is built, so the key a build probes
//! is the key it stores under (Kaniko's #410 was the two drifting apart).
//! Inputs are what decides a layer's content, never outputs, mtimes or
//! build stamps.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::image::model::ImageUuid;

/// A layer key: 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Key(String);

impl Key {
    /// The chain's root: the base image.
    pub fn root(base: &ImageUuid, base_sha1: &str) -> Key {
        Key::hash(&["buildy-layer-root-v1", &base.to_string(), base_sha1])
    }

    /// The key of a layer of `kind` with `inputs` on `parent`.
    pub fn layer(parent: &Key, kind: &str, inputs: &Inputs) -> Key {
        let mut parts = vec!["buildy-layer-v1", parent.as_str(), kind];
        for (name, value) in &inputs.0 {
            parts.extend([name.as_str(), value.as_str()]);
        }
        Key::hash(&parts)
    }

    /// Length-prefixed parts, so no two lists of parts hash alike.
    fn hash(parts: &[&str]) -> Key {
        let mut h = Sha256::new();
        for part in parts {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        Key(hex(&h.finalize()))
    }

    /// The layer image's uuid: the key's first 128 bits (the rule RFD 57
    /// uses for Docker layers' uuids).
    pub fn uuid(&self) -> ImageUuid {
        let mut digest = [0u8; 32];
        for (i, byte) in digest.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&self.0[2 * i..2 * i + 2], 16).expect("a key is hex");
        }
        ImageUuid::from_digest(&digest)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A key read back from a layer's property or tags.
    pub fn parse(text: &str) -> Option<Key> {
        (text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
            .then(|| Key(text.to_string()))
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A layer's inputs by name, canonical (sorted by name).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inputs(pub BTreeMap<String, String>);

impl Inputs {
    pub fn insert(&mut self, name: &str, value: impl Into<String>) {
        self.0.insert(name.to_string(), value.into());
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// Inputs whose value is a comma-separated set: diffs list members.
const SET_INPUTS: &[&str] = &["packages"];

/// What changed from `old` to `new`, one short line per input:
/// `packages: +nginx-1.25`, `motd changed`. Inputs named in `skip` are left
/// to the caller (the proto tree's own diff).
pub fn diff(old: &Inputs, new: &Inputs, skip: &[&str]) -> Vec<String> {
    let mut names: Vec<&String> = old.0.keys().chain(new.0.keys()).collect();
    names.sort();
    names.dedup();
    let mut lines = Vec::new();
    for name in names.into_iter().filter(|n| !skip.contains(&n.as_str())) {
        let (was, is) = (old.0.get(name), new.0.get(name));
        if was == is {
            continue;
        }
        let line = match (was, is) {
            (Some(was), Some(is)) if SET_INPUTS.contains(&name.as_str()) => {
                let set = |s: &str| s.split(',').filter(|x| !x.is_empty()).map(str::to_string).collect::<Vec<_>>();
                let (was, is) = (set(was), set(is));
                let added = is.iter().filter(|x| !was.contains(x)).map(|x| format!("+{x}"));
                let removed = was.iter().filter(|x| !is.contains(x)).map(|x| format!("-{x}"));
                format!("{name}: {}", added.chain(removed).collect::<Vec<_>>().join(" "))
            }
            (Some(was), Some(is)) if was.len() + is.len() <= 60 && !was.contains('\n') && !is.contains('\n') => {
                format!("{name}: {was:?} -> {is:?}")
            }
            (None, Some(_)) => format!("{name}: new input"),
            (Some(_), None) => format!("{name}: no longer an input"),
            _ => format!("{name} changed"),
        };
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn inputs(pairs: &[(&str, &str)]) -> Inputs {
        let mut i = Inputs::default();
        for (k, v) in pairs {
            i.insert(k, *v);
        }
        i
    }

    #[test]
    fn a_key_chains_its_parent_kind_and_inputs() {
        let base: ImageUuid = "2b8b1a6e-6ab1-4ad5-9bb3-a1b41c3f0b2e".parse().unwrap();
        let root = Key::root(&base, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        let a = Key::layer(&root, "packages", &inputs(&[("packages", "figlet,hello")]));
        assert_eq!(a, Key::layer(&root, "packages", &inputs(&[("packages", "figlet,hello")])));
        assert_ne!(a, Key::layer(&root, "packages", &inputs(&[("packages", "figlet")])));
        assert_ne!(a, Key::layer(&root, "proto", &inputs(&[("packages", "figlet,hello")])));
        let other_root = Key::root(&base, "0000000000000000000000000000000000000000");
        assert_ne!(a, Key::layer(&other_root, "packages", &inputs(&[("packages", "figlet,hello")])));
        assert_eq!(Key::parse(a.as_str()), Some(a.clone()));
        assert_eq!(a.uuid().to_string().replace('-', ""), a.as_str()[..32]);
    }

    #[test]
    fn a_diff_names_each_changed_input_shortly() {
        let old = inputs(&[("packages", "figlet,hello"), ("upgrade first", "false"), ("motd", "a\nb")]);
        let new = inputs(&[("packages", "hello,nginx-1.25"), ("upgrade first", "true"), ("motd", "a\nc")]);
        assert_eq!(
            diff(&old, &new, &[]),
            ["motd changed", "packages: +nginx-1.25 -figlet", "upgrade first: \"false\" -> \"true\""]
        );
        assert_eq!(diff(&old, &old, &[]), Vec::<String>::new());
        assert_eq!(diff(&old, &new, &["motd", "packages"]), ["upgrade first: \"false\" -> \"true\""]);
    }

    proptest! {
        #[test]
        fn inputs_that_differ_give_different_keys(a in proptest::collection::btree_map("[a-z]{1,4}", ".{0,6}", 0..4),
                                                  b in proptest::collection::btree_map("[a-z]{1,4}", ".{0,6}", 0..4)) {
            let root = Key::root(&"2b8b1a6e-6ab1-4ad5-9bb3-a1b41c3f0b2e".parse().unwrap(), "x");
            let (ka, kb) = (Key::layer(&root, "k", &Inputs(a.clone())), Key::layer(&root, "k", &Inputs(b.clone())));
            prop_assert_eq!(ka == kb, a == b);
            prop_assert_eq!(diff(&Inputs(a.clone()), &Inputs(b.clone()), &[]).is_empty(), a == b);
        }
    }
}
