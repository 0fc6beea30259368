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
    let (secs, millis) = (now.as_secs(), now.subsec_millis());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_gregorian() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_780), (2026, 11, 23));
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
