//! IMGAPI image manifests for SmartOS/Triton tooling.
//!
//! - [`Manifest`]: a typed model that keeps the key order it was read in.
//! - [`validate()`]: the four validation modes of Triton's Node
//!   `imgmanifest` library (`minimal`, `dc`, `public`, `private`), with the
//!   same errors in the same order, on a serde_json `Value` or on the
//!   compact [`Json`] form, which validates faster.
//! - [`upgrade()`]: v1 ("dsmanifest") to v2, as Node's `upgradeManifest`.
//! - [`docker`]: Node's Docker helpers (image UUIDs from layer digests, a
//!   manifest from a Docker image config).
//! - [`FIELDS`]: Node's `fields` table.
//! - [`node_url`]: Node 20's `url.parse`, as the validator needs it.
//! - [`calendar`]: dates as JavaScript's `Date` writes them.
//! - [`js`]: the JavaScript semantics the answers depend on (`String()`,
//!   `Number()`, `JSON.stringify`, ...).
//! - Constants and helpers image tools need: [`MANIFEST_V`],
//!   [`INHERITED_FIELDS`], [`slug`].
//!
//! ```
//! use imgmanifest::{validate, Mode, Options};
//! let m = serde_json::json!({"v": 2, "uuid": "f3078f0c-a53b-4140-b7af-fbb6308a8e35",
//!     "name": "base", "version": "1.0.0", "type": "zone-dataset", "os": "smartos"});
//! assert!(validate(&m, &Options::new(Mode::Minimal)).is_empty());
//! ```

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod calendar;
pub mod docker;
pub mod fields;
pub mod js;
pub mod json;
mod model;
pub mod node_url;
mod upgrade;
mod v8_date;
pub mod validate;

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

pub use fields::{Field, FIELDS};
pub use json::Json;
pub use model::{
    Compression, ImageFile, ImageType, Manifest, ManifestFields, NetworkRequirement, Os, Requirements, State, User,
};
pub use upgrade::{upgrade, UpgradeError, MANIFEST_V};
pub use validate::{validate, Code, FieldError, Mode, Options, VALID_FILE_COMPRESSIONS, VALID_OSES, VALID_TYPES};

/// Fields an image created from a VM or dataset takes from its origin image
/// when the given manifest lacks them (imgadm `createImage`), in that order.
pub const INHERITED_FIELDS: &[&str] = &[
    "type",
    "os",
    "requirements",
    "users",
    "billing_tags",
    "traits",
    "generate_passwords",
    "inherited_directories",
    "nic_driver",
    "disk_driver",
    "cpu_type",
    "image_size",
];

/// imgadm's `pathSlugify`: a string made fit for a file name. Characters
/// other than word characters, white space, `.`, `_` and `-` are dropped,
/// the rest trimmed and lower-cased, and runs of `-` and white space become
/// one `-`.
pub fn slug(s: &str) -> String {
    let kept: String = s
        .chars()
        .filter(|&c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-' || js::is_js_space(c))
        .collect();
    let lowered = kept.trim_matches(js::is_js_space).to_lowercase();
    let mut out = String::with_capacity(lowered.len());
    let mut in_run = false;
    for c in lowered.chars() {
        if c == '-' || js::is_js_space(c) {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            out.push(c);
            in_run = false;
        }
    }
    out
}

/// The prefix imgadm gives an image's output files:
/// `<slug(name)>-<slug(version)>`.
pub fn output_prefix(name: &str, version: &str) -> String {
    format!("{}-{}", slug(name), slug(version))
}

/// Now, as IMGAPI writes `published_at` (and imgadm sets it on install):
/// `2026-11-23T10:57:45.123Z`.
pub fn published_at_now() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    calendar::iso_from_millis(now.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_at_now_is_valid() {
        assert!(validate::is_published_at(&published_at_now()), "{}", published_at_now());
    }

    #[test]
    fn slug_matches_imgadm() {
        assert_eq!(slug("My Image!"), "my-image");
        assert_eq!(slug("  a -- b  "), "a-b");
        assert_eq!(slug("v1.2_3+x/y"), "v1.2_3xy");
        assert_eq!(
            output_prefix("base-64", "master-20220322T012137Z-g9382491"),
            "base-64-master-20220322t012137z-g9382491"
        );
    }
}
