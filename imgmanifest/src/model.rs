//! A typed IMGAPI image manifest (sdc-imgapi `docs/index.md`, "Image
//! manifests") that remembers the key order it was read in.
//!
//! Typed access is for well-formed manifests; validation works on raw JSON
//! (see [`crate::validate`]) so it can judge anything.

use std::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[allow(missing_docs)] // each known variant is its value, listed in KNOWN
        pub enum $name {
            $($variant,)+
            /// A value this version does not know, kept as it was.
            Unknown(String),
        }

        impl $name {
            /// Every known value, in the order IMGAPI documents them.
            pub const KNOWN: &'static [&'static str] = &[$($text),+];

            /// The value as the manifest writes it.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Unknown(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($text => $name::$variant,)+
                    other => $name::Unknown(other.to_string()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Ok($name::from(s.as_str()))
            }
        }
    };
}

string_enum! {
    /// `type`: what kind of image it is.
    ImageType {
        ZoneDataset => "zone-dataset",
        Zvol => "zvol",
        LxDataset => "lx-dataset",
        Lxd => "lxd",
        Docker => "docker",
        Other => "other",
    }
}

string_enum! {
    /// `os`: the operating system inside the image.
    Os {
        Smartos => "smartos",
        Linux => "linux",
        Windows => "windows",
        Bsd => "bsd",
        Illumos => "illumos",
        Other => "other",
    }
}

string_enum! {
    /// `state` of an image in an IMGAPI.
    State {
        Active => "active",
        Unactivated => "unactivated",
        Disabled => "disabled",
        Failed => "failed",
        Creating => "creating",
    }
}

string_enum! {
    /// `files[].compression`.
    Compression {
        Gzip => "gzip",
        Bzip2 => "bzip2",
        Xz => "xz",
        None => "none",
    }
}

impl Compression {
    /// The file name suffix imgadm gives this compression (`""` for none).
    pub fn file_suffix(&self) -> &'static str {
        match self {
            Compression::Gzip => ".gz",
            Compression::Bzip2 => ".bz2",
            Compression::Xz => ".xz",
            Compression::None | Compression::Unknown(_) => "",
        }
    }
}

/// One entry of `files`. imgadm writes `size`, `compression`, `sha1` in that
/// order; buildy adds `dataset_guid`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageFile {
    /// Size in bytes.
    pub size: u64,
    /// How the file is compressed.
    pub compression: Compression,
    /// SHA-1 of the file, hex.
    pub sha1: String,
    /// Guid of the image's `@final` snapshot, as a decimal string.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub dataset_guid: Option<String>,
    /// Fields this version does not model (`stor`, `digest`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `requirements.networks[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRequirement {
    /// The NIC's name in the VM (`net0`).
    pub name: String,
    /// What the network is for.
    pub description: String,
}

/// `requirements`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Requirements {
    /// `networks` the VM needs.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub networks: Option<Vec<NetworkRequirement>>,
    /// `brand`: the zone brand the image needs.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub brand: Option<String>,
    /// `ssh_key`: whether an SSH key must be given.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ssh_key: Option<bool>,
    /// `min_ram` in MiB.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub min_ram: Option<u64>,
    /// `max_ram` in MiB.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub max_ram: Option<u64>,
    /// `{<SDC version>: <platform timestamp>}`
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub min_platform: Option<Map<String, Value>>,
    /// `{<SDC version>: <platform timestamp>}`, the newest platforms.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub max_platform: Option<Map<String, Value>>,
    /// `bootrom`: `bios` or `uefi` (bhyve only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub bootrom: Option<String>,
    /// Requirements this version does not model, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `users[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The account name.
    pub name: String,
}

/// The fields of an IMGAPI image manifest (version 2), in IMGAPI's order.
/// Reach them through [`Manifest`], which dereferences to this.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ManifestFields {
    /// `v`: the manifest format version (2).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub v: Option<u64>,
    /// `uuid`: the image's UUID.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub uuid: Option<String>,
    /// `owner`: the UUID of the account that owns the image.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub owner: Option<String>,
    /// `name`: the image name.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
    /// `version`: the image version.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub version: Option<String>,
    /// `description`: a short description.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub description: Option<String>,
    /// `homepage`: a URL about the image.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub homepage: Option<String>,
    /// `eula`: a URL of the image's end-user license agreement.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub eula: Option<String>,
    /// `disabled`: whether the image is disabled.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub disabled: Option<bool>,
    /// `activated`: whether the image has been activated.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub activated: Option<bool>,
    /// `published_at`: when it was activated, `YYYY-MM-DDTHH:MM:SS(.SSS)Z`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub published_at: Option<String>,
    /// `state` in the IMGAPI.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub state: Option<State>,
    /// `public`: whether everyone may use the image.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub public: Option<bool>,
    /// `type`: what kind of image it is.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none", default)]
    pub image_type: Option<ImageType>,
    /// `os`: the operating system inside.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub os: Option<Os>,
    /// `origin`: the UUID of the image this one was made from.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub origin: Option<String>,
    /// `files`: the image file (two for lxd images).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub files: Option<Vec<ImageFile>>,
    /// `icon`: whether the image has an icon.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub icon: Option<bool>,
    /// `acl`: UUIDs of accounts that may use a private image.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub acl: Option<Vec<String>>,
    /// `requirements` on the VMs made from the image.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub requirements: Option<Requirements>,
    /// `users`: the accounts the image sets up.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub users: Option<Vec<User>>,
    /// `billing_tags`: tags for billing.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub billing_tags: Option<Vec<String>>,
    /// `traits`: properties servers must match to run it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub traits: Option<Map<String, Value>>,
    /// `tags`: free-form key/value pairs.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tags: Option<Map<String, Value>>,
    /// `generate_passwords`: whether passwords are made for `users`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub generate_passwords: Option<bool>,
    /// `inherited_directories`: directories a zone-dataset image's zones inherit.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub inherited_directories: Option<Vec<String>>,
    /// `nic_driver` of a zvol image.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub nic_driver: Option<String>,
    /// `disk_driver` of a zvol image.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub disk_driver: Option<String>,
    /// `cpu_type` of a zvol image.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cpu_type: Option<String>,
    /// `image_size`: a zvol image's size in MiB.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub image_size: Option<u64>,
    /// `channels` the image is in.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub channels: Option<Vec<String>>,
    /// Fields IMGAPI does not define (validation rejects them), kept so
    /// nothing is lost.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An IMGAPI image manifest (version 2).
///
/// Reading remembers the order of the keys and writing uses it, so a
/// manifest read and written again keeps its key order; fields set later go
/// after, in IMGAPI's field order. The fields are reached through `Deref`
/// (`manifest.name`, `manifest.files`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Manifest {
    fields: ManifestFields,
    key_order: Vec<String>,
}

impl std::ops::Deref for Manifest {
    type Target = ManifestFields;
    fn deref(&self) -> &ManifestFields {
        &self.fields
    }
}

impl std::ops::DerefMut for Manifest {
    fn deref_mut(&mut self) -> &mut ManifestFields {
        &mut self.fields
    }
}

impl Manifest {
    /// Reads a manifest from JSON, remembering its key order. Fails if a
    /// field has the wrong JSON type; use [`crate::validate()`] to judge
    /// arbitrary input.
    pub fn from_value(value: Value) -> Result<Manifest, serde_json::Error> {
        let key_order: Vec<String> = match &value {
            Value::Object(m) => m.keys().cloned().collect(),
            _ => return Err(serde_json::Error::custom("manifest is not a JSON object")),
        };
        let fields: ManifestFields = serde_json::from_value(value)?;
        Ok(Manifest { fields, key_order })
    }

    /// The manifest as a JSON object: keys in the order read, then any new
    /// ones in IMGAPI's field order.
    pub fn to_value(&self) -> Value {
        let Ok(Value::Object(mut fresh)) = serde_json::to_value(&self.fields) else {
            unreachable!("manifest fields always serialize to an object")
        };
        let mut out = Map::new();
        for k in &self.key_order {
            if let Some(v) = fresh.shift_remove(k) {
                out.insert(k.clone(), v);
            }
        }
        out.extend(fresh);
        Value::Object(out)
    }

    /// 2-space indented JSON without a trailing newline, as imgadm writes
    /// `.imgmanifest` files.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(&self.to_value()).expect("JSON values always serialize")
    }
}

impl Serialize for Manifest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Manifest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Manifest::from_value(Value::deserialize(d)?).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_survives_a_round_trip() {
        let text = r#"{"name":"x","v":2,"zzz":1,"files":[{"size":3,"compression":"gzip","sha1":"ab"}],"uuid":"u"}"#;
        let mut m: Manifest = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), text);
        m.description = Some("d".into());
        m.image_type = Some(ImageType::ZoneDataset);
        let again = serde_json::to_string(&m).unwrap();
        assert!(again.ends_with(r#""uuid":"u","description":"d","type":"zone-dataset"}"#), "{again}");
        assert_eq!(m.files.as_ref().unwrap()[0].compression, Compression::Gzip);
    }

    #[test]
    fn unknown_enum_values_are_kept() {
        let m: Manifest = serde_json::from_str(r#"{"type":"future-thing","os":"plan9"}"#).unwrap();
        assert_eq!(m.image_type, Some(ImageType::Unknown("future-thing".into())));
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"type":"future-thing","os":"plan9"}"#);
    }
}
