//! Manifest validation in the four modes of Triton's Node `imgmanifest`
//! (`validateMinimalManifest`, `validateDcManifest`,
//! `validatePublicManifest`, `validatePrivateManifest`).
//!
//! It works on any JSON value and gives the errors Node gives, in Node's
//! order. Where Node throws instead of answering (see the crate README's
//! list of deliberate differences) it reports an `Invalid` error for the
//! offending field.

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::js;

/// Which IMGAPI rules to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// What `imgadm create` produces and `imgadm install` needs.
    Minimal,
    /// An IMGAPI in a datacenter.
    Dc,
    /// A public IMGAPI (images.smartos.org): only public images.
    Public,
    /// A private IMGAPI: only non-public images.
    Private,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "minimal" => Ok(Mode::Minimal),
            "dc" => Ok(Mode::Dc),
            "public" => Ok(Mode::Public),
            "private" => Ok(Mode::Private),
            other => Err(format!(
                "unknown validation mode \"{other}\" (use minimal, dc, public or private)"
            )),
        }
    }
}

/// The validation mode plus, for `public` and `private`, the IMGAPI's
/// channels (Node's `channelFromName`): when set, `channels` is required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub mode: Mode,
    /// Channel names the IMGAPI is configured with. Only meaningful for
    /// `Public` and `Private`, as in Node.
    pub channels: Option<Vec<String>>,
}

impl Options {
    pub fn new(mode: Mode) -> Self {
        Options {
            mode,
            channels: None,
        }
    }

    fn channels_configured(&self) -> bool {
        matches!(self.mode, Mode::Public | Mode::Private) && self.channels.is_some()
    }
}

/// Error code, as IMGAPI reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Code {
    MissingParameter,
    Invalid,
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Code::MissingParameter => "MissingParameter",
            Code::Invalid => "Invalid",
        })
    }
}

/// One validation error: `{field, code, message?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub code: Code,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl FieldError {
    fn missing(field: &str) -> Self {
        FieldError {
            field: field.into(),
            code: Code::MissingParameter,
            message: None,
        }
    }
    fn invalid(field: &str) -> Self {
        FieldError {
            field: field.into(),
            code: Code::Invalid,
            message: None,
        }
    }
    fn invalid_msg(field: &str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            code: Code::Invalid,
            message: Some(message.into()),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.field, self.code)?;
        if let Some(m) = &self.message {
            write!(f, ": {m}")?;
        }
        Ok(())
    }
}

/// Every manifest field IMGAPI knows, in the order Node validates optional
/// fields (its `fields` table).
pub const FIELDS: &[&str] = &[
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
];

const MINIMAL_REQUIRED: &[&str] = &["v", "uuid", "name", "version", "type", "os"];
const FULL_REQUIRED: &[&str] = &[
    "v",
    "uuid",
    "owner",
    "name",
    "version",
    "disabled",
    "activated",
    "published_at",
    "public",
    "state",
    "type",
    "os",
    "files",
    "nic_driver",
    "disk_driver",
    "cpu_type",
    "image_size",
];

const MAX_URL_LENGTH: f64 = 1024.0;
const MAX_NAME_LENGTH: f64 = 1024.0;
const MAX_VERSION_LENGTH: f64 = 512.0;
const MAX_DESCRIPTION_LENGTH: f64 = 10.0 * 1024.0;
const MAX_BILLING_TAG_LENGTH: usize = 128;
const MAX_TAGS_LENGTH: usize = 100 * 1024;

/// Valid `type` values, in Node's order (its error message lists them).
pub const VALID_TYPES: &[&str] = &[
    "zone-dataset",
    "zvol",
    "lx-dataset",
    "lxd",
    "docker",
    "other",
];
/// Valid `os` values, in Node's order.
pub const VALID_OSES: &[&str] = &["smartos", "linux", "windows", "bsd", "illumos", "other"];
/// Valid `state` values.
pub const VALID_STATES: &[&str] = &["active", "unactivated", "disabled", "failed", "creating"];
/// Valid `files[].compression` values, in Node's order.
pub const VALID_FILE_COMPRESSIONS: &[&str] = &["gzip", "bzip2", "xz", "none"];
const VALID_BOOTROMS: &[&str] = &["bios", "uefi"];

/// Validates `manifest` (any JSON value) under `opts`. An empty result means
/// valid.
pub fn validate(manifest: &Value, opts: &Options) -> Vec<FieldError> {
    let Some(m) = manifest.as_object() else {
        return vec![FieldError::invalid_msg(
            "manifest",
            "manifest is not a JSON object",
        )];
    };
    let required: Vec<&str> = match opts.mode {
        Mode::Minimal => MINIMAL_REQUIRED.to_vec(),
        Mode::Dc => FULL_REQUIRED.to_vec(),
        Mode::Public | Mode::Private => {
            let mut r = FULL_REQUIRED.to_vec();
            if opts.channels_configured() {
                r.push("channels");
            }
            r
        }
    };
    let mut errs = Vec::new();
    for field in &required {
        errs.extend(validate_field(field, m, opts));
    }
    for field in FIELDS {
        if !required.contains(field) && m.contains_key(*field) {
            errs.extend(validate_field(field, m, opts));
        }
    }
    for key in js::keys(m) {
        if !FIELDS.contains(&key.as_str()) {
            errs.push(FieldError::invalid(key));
        }
    }
    errs
}

fn validate_field(field: &str, m: &Map<String, Value>, opts: &Options) -> Vec<FieldError> {
    let value = m.get(field);
    let mut errs = Vec::new();
    // Each field validator, in the shape of Node's: `None` is undefined.
    match field {
        "v" => match value {
            None => errs.push(FieldError::missing("v")),
            Some(v) => {
                let n = js::to_number(v);
                if n.is_nan() || n < 0.0 {
                    errs.push(FieldError::invalid_msg("v", "\"v\" must be a positive integer"));
                }
            }
        },
        "uuid" | "owner" | "origin" => match value {
            None => errs.push(FieldError::missing(field)),
            Some(v) if !is_uuid(&js::to_string(v)) => errs.push(FieldError::invalid(field)),
            Some(_) => {}
        },
        "urn" => match value {
            None => errs.push(FieldError::missing("urn")),
            Some(Value::String(_)) => {}
            Some(_) => errs.push(FieldError::invalid("urn")),
        },
        "name" => check_name_like(&mut errs, value, "name", MAX_NAME_LENGTH, is_name, concat!(
            "image name has invalid characters (only alpha-numeric characters and ",
            "\" \", \".\", \"-\", \"_\" and \"/\" are allowed)"
        )),
        "version" => check_name_like(&mut errs, value, "version", MAX_VERSION_LENGTH, is_version, concat!(
            "image version has invalid characters (only alpha-numeric characters and ",
            "\".\", \"-\", \"_\" and \"/\" are allowed)"
        )),
        "description" => match value {
            None => errs.push(FieldError::missing("description")),
            // Node throws reading `null.length`.
            Some(Value::Null) => errs.push(FieldError::invalid_msg("description", "image description is null")),
            Some(v) => {
                if js_length_exceeds(v, MAX_DESCRIPTION_LENGTH) {
                    errs.push(FieldError::invalid_msg(
                        "description",
                        format!("image description is too long, max {} characters", MAX_DESCRIPTION_LENGTH),
                    ));
                }
            }
        },
        "homepage" => check_url(&mut errs, value, "homepage", "homepage", "image homepage URL"),
        "eula" => check_url(&mut errs, value, "eula", "EULA", "image EULA URL"),
        "disabled" | "activated" => match value {
            None => errs.push(FieldError::missing(field)),
            Some(v) if bool_from_string(v).is_none() => errs.push(FieldError::invalid(field)),
            Some(_) => {}
        },
        "published_at" => {
            if activated_is_true(m) && value.is_none() {
                errs.push(FieldError {
                    field: "published_at".into(),
                    code: Code::MissingParameter,
                    message: Some("if activated is \"true\" published_at must be present".into()),
                });
            } else if let Some(v) = value {
                if js::truthy(v) && !is_published_at(&js::to_string(v)) {
                    errs.push(FieldError::invalid_msg(
                        "published_at",
                        "published_at date not in \"YYYY-MM-DDTHH:MM:SS(.SSS)Z\" format",
                    ));
                }
            }
        }
        "state" => match value {
            None => errs.push(FieldError::missing("state")),
            Some(Value::String(s)) if VALID_STATES.contains(&s.as_str()) => {}
            Some(_) => errs.push(FieldError::invalid("state")),
        },
        "public" => match value {
            None => errs.push(FieldError::missing("public")),
            Some(v) => match bool_from_string(v) {
                None => errs.push(FieldError::invalid_msg(
                    "public",
                    format!("TypeError: invalid value for \"undefined\": {}", js::json_stringify(v)),
                )),
                Some(false) if opts.mode == Mode::Public => errs.push(FieldError::invalid_msg(
                    "public",
                    "private images are not allowed on a public Images API",
                )),
                Some(true) if opts.mode == Mode::Private => errs.push(FieldError::invalid_msg(
                    "public",
                    "public images are not allowed on a private Images API",
                )),
                Some(_) => {}
            },
        },
        "type" => check_enum(&mut errs, m, "type", VALID_TYPES),
        "os" => check_enum(&mut errs, m, "os", VALID_OSES),
        "nic_driver" | "disk_driver" | "cpu_type" => check_zvol_only_string(&mut errs, m, field),
        "image_size" => match value {
            None => {
                if is_zvol(m) {
                    errs.push(FieldError::missing("image_size"))
                }
            }
            Some(v) if js::truthy(v) && !is_zvol(m) => errs.push(FieldError::invalid_msg(
                "image_size",
                format!(
                    "invalid image image_size: \"{}\" (cannot have a value when image type is zvol)",
                    js::format_s(v)
                ),
            )),
            Some(v) => {
                let n = js::to_number(v);
                if !(n.is_finite() && n.fract() == 0.0) {
                    errs.push(FieldError::invalid_msg(
                        "image_size",
                        format!("invalid image image_size: \"{}\" (must be a positive integer)", js::format_s(v)),
                    ));
                }
            }
        },
        "channels" => match value {
            None => errs.push(FieldError::missing("channels")),
            // Node throws here in minimal mode (no options object).
            Some(_) if !opts.channels_configured() => errs.push(FieldError::invalid_msg(
                "channels",
                "channels is invalid with an IMGAPI not configured for channels",
            )),
            Some(Value::Array(items)) => {
                for c in items.iter().filter(|c| !c.is_string()) {
                    errs.push(FieldError::invalid_msg(
                        "channels",
                        format!("invalid image \"channels\" entry: {}", js::json_stringify(c)),
                    ));
                }
            }
            Some(v) => errs.push(FieldError::invalid_msg(
                "channels",
                format!("invalid image \"channels\" (not an array): {}", js::json_stringify(v)),
            )),
        },
        "error" => match value {
            None => errs.push(FieldError::missing("error")),
            Some(v) if js::type_of(v) != "object" => errs.push(FieldError::invalid_msg(
                "error",
                format!("invalid image \"error\" (not an object): {}", js::json_stringify(v)),
            )),
            Some(_) => {}
        },
        "files" => check_files(&mut errs, m),
        "icon" | "generate_passwords" => match value {
            None => errs.push(FieldError::missing(field)),
            // Node throws on anything but a boolean or "true"/"false".
            Some(v) if bool_from_string(v).is_none() => errs.push(FieldError::invalid_msg(
                field,
                format!(
                    "invalid image \"{field}\" (not an accepted boolean value): {}",
                    js::json_stringify(v)
                ),
            )),
            Some(_) => {}
        },
        "acl" => match value {
            None => errs.push(FieldError::missing("acl")),
            Some(Value::Array(items)) => {
                if let Some((i, item)) = items.iter().enumerate().find(|(_, a)| !is_uuid(&js::to_string(a))) {
                    errs.push(FieldError::invalid_msg(
                        "acl",
                        format!("invalid image \"acl\" (item {i} is not a UUID): {}", js::format_s(item)),
                    ));
                }
            }
            Some(v) => errs.push(FieldError::invalid_msg(
                "acl",
                format!("invalid image \"acl\" (not an array): {}", js::format_s(v)),
            )),
        },
        "requirements" => check_requirements(&mut errs, value),
        "users" => match value {
            None => errs.push(FieldError::missing("users")),
            Some(Value::Array(users)) => {
                for u in users {
                    let ok = matches!(u, Value::Object(o) if o.contains_key("name") && o.len() == 1);
                    if !ok {
                        errs.push(FieldError::invalid_msg(
                            "users",
                            format!("invalid image \"users\" entry: {}", js::json_stringify(u)),
                        ));
                    }
                }
            }
            Some(v) => errs.push(FieldError::invalid_msg(
                "users",
                format!("invalid image \"users\" (not an array): {}", js::json_stringify(v)),
            )),
        },
        "billing_tags" => match value {
            None => errs.push(FieldError::missing("billing_tags")),
            Some(Value::Array(tags)) => {
                for t in tags {
                    let ok = matches!(t, Value::String(s) if js::utf16_len(s) <= MAX_BILLING_TAG_LENGTH);
                    if !ok {
                        errs.push(FieldError::invalid_msg(
                            "billing_tags",
                            format!("invalid image \"billing_tags\" entry : {}", js::format_s(t)),
                        ));
                    }
                }
            }
            Some(v) => errs.push(FieldError::invalid_msg(
                "billing_tags",
                format!("invalid image \"billing_tags\" (not an array): {}", js::format_s(v)),
            )),
        },
        "traits" => match value {
            None => errs.push(FieldError::missing("traits")),
            // Node throws on `Object.keys(null)`.
            Some(v @ Value::Null) => errs.push(FieldError::invalid_msg(
                "traits",
                format!("invalid image \"traits\" (not an object): {}", js::json_stringify(v)),
            )),
            Some(v) if js::type_of(v) != "object" => errs.push(FieldError::invalid_msg(
                "traits",
                format!("invalid image \"traits\" (not an object): {}", js::json_stringify(v)),
            )),
            Some(v) => {
                for (key, tv) in entries(v) {
                    if !matches!(tv, Value::String(_) | Value::Bool(_) | Value::Array(_)) {
                        errs.push(FieldError::invalid_msg(
                            "traits",
                            format!("invalid image \"traits\" entry: ({key}, {})", js::json_stringify(tv)),
                        ));
                    }
                }
            }
        },
        "tags" => match value {
            None => errs.push(FieldError::missing("tags")),
            Some(v @ Value::Object(_)) => {
                let len = js::utf16_len(&js::json_stringify(v));
                if len > MAX_TAGS_LENGTH {
                    errs.push(FieldError::invalid_msg(
                        "tags",
                        format!("image \"tags\" object is too big: {len} characters (max {MAX_TAGS_LENGTH})"),
                    ));
                }
            }
            // Arrays and primitives are rejected by Node; `null` makes it throw.
            Some(v) => errs.push(FieldError::invalid_msg(
                "tags",
                format!("invalid image \"tags\" (not an object): {}", js::json_stringify(v)),
            )),
        },
        "inherited_directories" => match value {
            None => errs.push(FieldError::missing("inherited_directories")),
            Some(v) if m.get("type") != Some(&Value::String("zone-dataset".into())) => {
                errs.push(FieldError::invalid_msg(
                    "inherited_directories",
                    format!(
                        "invalid image \"inherited_directories\" (only valid for a type:zone-dataset image): {}",
                        js::json_stringify(v)
                    ),
                ))
            }
            Some(Value::Array(dirs)) => {
                for d in dirs.iter().filter(|d| !d.is_string()) {
                    errs.push(FieldError::invalid_msg(
                        "inherited_directories",
                        format!("invalid image \"inherited_directories\" entry: {}", js::json_stringify(d)),
                    ));
                }
            }
            Some(v) => errs.push(FieldError::invalid_msg(
                "inherited_directories",
                format!("invalid image \"inherited_directories\" (not an array): {}", js::json_stringify(v)),
            )),
        },
        other => unreachable!("no validator for field {other}"),
    }
    errs
}

/// Node's `boolFromString` without a default: a boolean, or "true"/"false".
/// `None` where Node throws.
pub fn bool_from_string(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s == "true" => Some(true),
        Value::String(s) if s == "false" => Some(false),
        _ => None,
    }
}

/// `boolFromString(manifest.activated) === true`. Where Node would throw
/// (a non-boolean `activated`), `activated` is not true; its own validator
/// reports it.
fn activated_is_true(m: &Map<String, Value>) -> bool {
    m.get("activated").and_then(bool_from_string) == Some(true)
}

fn is_zvol(m: &Map<String, Value>) -> bool {
    matches!(m.get("type"), Some(Value::String(t)) if t == "zvol")
}

/// `/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/`
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        })
}

/// `/^[A-Za-z0-9._/ -]+$/`
fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"._/ -".contains(&c))
}

/// `/^[A-Za-z0-9._/+-]+$/`
fn is_version(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"._/+-".contains(&c))
}

/// `/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/`
pub fn is_published_at(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let head = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    head && (&b[19..] == b"Z"
        || (b.len() == 24 && b[19] == b'.' && digits(20..23) && b[23] == b'Z'))
}

/// `value.length > max`, for any value (`undefined > max` is false).
fn js_length_exceeds(v: &Value, max: f64) -> bool {
    js::get(v, "length").is_some_and(|len| js::to_number(&len) > max)
}

fn check_name_like(
    errs: &mut Vec<FieldError>,
    value: Option<&Value>,
    field: &str,
    max: f64,
    charset_ok: fn(&str) -> bool,
    charset_message: &str,
) {
    match value {
        None => errs.push(FieldError::missing(field)),
        // Node throws reading `null.length`.
        Some(Value::Null) => errs.push(FieldError::invalid_msg(
            field,
            format!("image {field} is null"),
        )),
        Some(v) if js_length_exceeds(v, max) => errs.push(FieldError::invalid_msg(
            field,
            format!("image {field} is too long, max {max} characters"),
        )),
        Some(v) if !charset_ok(&js::to_string(v)) => {
            errs.push(FieldError::invalid_msg(field, charset_message))
        }
        Some(_) => {}
    }
}

/// The protocol Node's legacy `url.parse` finds, lower-cased, or `None`.
fn url_protocol(s: &str) -> Option<String> {
    let t = s.trim_start_matches([
        ' ', '\t', '\r', '\n', '\u{c}', '\u{b}', '\u{a0}', '\u{feff}',
    ]);
    let end = t.find(|c: char| !(c.is_ascii_alphanumeric() || "+-.".contains(c)))?;
    (end > 0 && t[end..].starts_with(':')).then(|| t[..end + 1].to_ascii_lowercase())
}

/// Node 20's `url.parse` throws on a host holding `[` or `]` outside a
/// bracketed IPv6 address; we call such a URL invalid.
fn host_has_stray_bracket(s: &str) -> bool {
    let after_scheme = s.split_once("//").map(|(_, r)| r).unwrap_or("");
    let authority = after_scheme
        .split(['/', '?', '#', '\\'])
        .next()
        .unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    if !host.contains(['[', ']']) {
        return false;
    }
    let bracketed = host
        .strip_prefix('[')
        .and_then(|h| h.split_once(']'))
        .is_some_and(|(ip, rest)| {
            !ip.is_empty()
                && ip
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
                && (rest.is_empty() || rest.starts_with(':'))
                && !rest.contains(['[', ']'])
        });
    !bracketed
}

fn check_url(
    errs: &mut Vec<FieldError>,
    value: Option<&Value>,
    field: &str,
    label: &str,
    what: &str,
) {
    let Some(v) = value else {
        errs.push(FieldError::missing(field));
        return;
    };
    let protocol_ok = match v {
        // Node's url.parse throws on a non-string: no protocol to speak of.
        Value::String(s) => {
            matches!(url_protocol(s).as_deref(), Some("http:" | "https:"))
                && !host_has_stray_bracket(s)
        }
        _ => false,
    };
    if !protocol_ok {
        errs.push(FieldError::invalid_msg(
            field,
            format!("invalid image {label} URL protocol"),
        ));
    } else if js_length_exceeds(v, MAX_URL_LENGTH) {
        errs.push(FieldError::invalid_msg(
            field,
            format!("{what} is too long (max {MAX_URL_LENGTH} characters)"),
        ));
    }
}

/// `type` and `os`: the string "null" is allowed while an image is being
/// created; otherwise the value, as a property key, must name a valid value
/// (or, as in Node, a name every JavaScript object has).
fn check_enum(errs: &mut Vec<FieldError>, m: &Map<String, Value>, field: &str, valid: &[&str]) {
    let Some(v) = m.get(field) else {
        errs.push(FieldError::missing(field));
        return;
    };
    if v.as_str() == Some("null") {
        let state = m.get("state").and_then(Value::as_str);
        if !matches!(state, Some("creating" | "failed")) {
            errs.push(FieldError::invalid_msg(
                field,
                format!("invalid image {field}, \"null\""),
            ));
        }
        return;
    }
    let key = js::to_string(v);
    if !valid.contains(&key.as_str()) && !js::OBJECT_PROTOTYPE_NAMES.contains(&key.as_str()) {
        errs.push(FieldError::invalid_msg(
            field,
            format!(
                "invalid image {field}, \"{}\", must be one of: {}",
                js::format_s(v),
                valid.join(", ")
            ),
        ));
    }
}

fn check_zvol_only_string(errs: &mut Vec<FieldError>, m: &Map<String, Value>, field: &str) {
    match m.get(field) {
        None => {
            if is_zvol(m) {
                errs.push(FieldError::missing(field));
            }
        }
        Some(v) if js::truthy(v) && !is_zvol(m) => {
            // Node's disk_driver message has a doubled space; we keep it.
            let gap = if field == "disk_driver" { "  " } else { " " };
            errs.push(FieldError::invalid_msg(
                field,
                format!(
                    "invalid image {field}: \"{}\" (cannot have a value{gap}when image type is zvol)",
                    js::format_s(v)
                ),
            ));
        }
        Some(Value::String(_)) => {}
        Some(v) => errs.push(FieldError::invalid_msg(
            field,
            format!(
                "invalid image {field}: \"{}\" (must be a string)",
                js::format_s(v)
            ),
        )),
    }
}

fn check_files(errs: &mut Vec<FieldError>, m: &Map<String, Value>) {
    let Some(files) = m.get("files") else {
        if activated_is_true(m) {
            errs.push(FieldError {
                field: "files".into(),
                code: Code::MissingParameter,
                message: Some("if activated is \"true\" files must be present".into()),
            });
        }
        return;
    };
    let Value::Array(files) = files else {
        errs.push(FieldError::invalid_msg(
            "files",
            format!(
                "invalid image \"files\" (not an array): {}",
                js::format_s(files)
            ),
        ));
        return;
    };
    let is_lxd = matches!(m.get("type"), Some(Value::String(t)) if t == "lxd");
    if files.len() > 2 || (!is_lxd && files.len() > 1) {
        errs.push(FieldError::invalid_msg(
            "files",
            "invalid image \"files\": too many files",
        ));
        return;
    }
    for file in files {
        // A `null` entry makes Node throw; we treat it as an entry with no fields.
        let prop = |k: &str| js::get(file, k).map(|c| c.into_owned());
        if !prop("sha1").as_ref().is_some_and(js::truthy) {
            errs.push(FieldError::invalid_msg(
                "files",
                "invalid image \"files\": file missing \"sha1\" field",
            ));
        }
        if !prop("size").as_ref().is_some_and(js::truthy) {
            errs.push(FieldError::invalid_msg(
                "files",
                "invalid image \"files\": file missing \"size\" field",
            ));
        }
        match prop("compression") {
            Some(c) if js::truthy(&c) => {
                if !matches!(&c, Value::String(s) if VALID_FILE_COMPRESSIONS.contains(&s.as_str()))
                {
                    errs.push(FieldError::invalid_msg(
                        "files",
                        format!(
                            "invalid image \"files\": invalid compression \"{}\" (must be one of {})",
                            js::format_s(&c),
                            VALID_FILE_COMPRESSIONS.join(", ")
                        ),
                    ));
                }
            }
            _ => errs.push(FieldError::invalid_msg(
                "files",
                "invalid image \"files\": file missing \"compression\" field",
            )),
        }
    }
}

/// `(key, value)` pairs of an object or array, in JavaScript key order.
fn entries(v: &Value) -> Vec<(String, &Value)> {
    match v {
        Value::Object(o) => js::keys(o)
            .into_iter()
            .map(|k| (k.clone(), &o[k.as_str()]))
            .collect(),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, e)| (i.to_string(), e))
            .collect(),
        _ => Vec::new(),
    }
}

const KNOWN_REQUIREMENTS: &[&str] = &[
    "networks",
    "brand",
    "ssh_key",
    "min_ram",
    "max_ram",
    "min_platform",
    "max_platform",
    "bootrom",
];

fn check_requirements(errs: &mut Vec<FieldError>, value: Option<&Value>) {
    let Some(reqs) = value else {
        errs.push(FieldError::missing("requirements"));
        return;
    };
    // Node copies `requirements` with Object.keys: a string becomes one key
    // per UTF-16 unit, numbers and booleans nothing; `null` makes it throw.
    let Some(keys) = js::keys_of_any(reqs) else {
        errs.push(FieldError::invalid_msg(
            "requirements",
            format!(
                "invalid image \"requirements\" (not an object): {}",
                js::json_stringify(reqs)
            ),
        ));
        return;
    };
    // Node's copy assigns `__proto__`, which sets a prototype instead of a key.
    let keys: Vec<String> = keys.into_iter().filter(|k| k != "__proto__").collect();
    let obj = reqs.as_object();
    let get = |k: &str| obj.and_then(|o| o.get(k)).filter(|v| js::truthy(v));

    if let Some(networks) = get("networks") {
        match networks {
            Value::Array(nets) => {
                for n in nets {
                    let ok = matches!(n, Value::Object(o)
                        if o.contains_key("name") && o.contains_key("description") && o.len() == 2);
                    if !ok {
                        errs.push(FieldError::invalid_msg(
                            "requirements.networks",
                            format!(
                                "invalid image \"requirements.networks\" entry: {}",
                                js::json_stringify(n)
                            ),
                        ));
                    }
                }
            }
            v => errs.push(FieldError::invalid_msg(
                "requirements.networks",
                format!(
                    "invalid image \"requirements.networks\" (not an array): {}",
                    js::json_stringify(v)
                ),
            )),
        }
    }
    if let Some(brand) = get("brand").filter(|b| !b.is_string()) {
        errs.push(FieldError::invalid_msg(
            "requirements.brand",
            format!(
                "invalid image \"requirements.brand\" (not a string): {}",
                js::json_stringify(brand)
            ),
        ));
    }
    if let Some(ssh_key) = get("ssh_key").filter(|b| !b.is_boolean()) {
        errs.push(FieldError::invalid_msg(
            "requirements.ssh_key",
            format!(
                "invalid image \"requirements.ssh_key\" (not a boolean): {}",
                js::json_stringify(ssh_key)
            ),
        ));
    }
    let ram = |errs: &mut Vec<FieldError>, key: &str| -> Option<(f64, &Value)> {
        let v = get(key)?;
        match v {
            Value::Number(n) if js::to_f64(n).is_finite() && js::to_f64(n).fract() == 0.0 => {
                Some((js::to_f64(n), v))
            }
            _ => {
                errs.push(FieldError::invalid_msg(
                    &format!("requirements.{key}"),
                    format!(
                        "invalid image \"requirements.{key}\" (not a positive integer): {}",
                        js::json_stringify(v)
                    ),
                ));
                None
            }
        }
    };
    let min_ram = ram(errs, "min_ram");
    let max_ram = ram(errs, "max_ram");
    if let (Some((min, min_v)), Some((max, max_v))) = (min_ram, max_ram) {
        if max - min < 0.0 {
            errs.push(FieldError::invalid_msg(
                "requirements.max_ram",
                format!(
                    "min_ram must be <= max_ram, but:min_ram={}, max_ram={}",
                    js::format_s(min_v),
                    js::format_s(max_v)
                ),
            ));
        }
    }
    for key in ["min_platform", "max_platform"] {
        let Some(platforms) = get(key) else { continue };
        let field = format!("requirements.{key}");
        let is_obj = matches!(platforms, Value::Object(_) | Value::Array(_));
        if !is_obj || entries(platforms).is_empty() {
            errs.push(FieldError::invalid_msg(
                &field,
                format!(
                    "invalid image \"{field}\" (not an object): {}",
                    js::json_stringify(platforms)
                ),
            ));
            continue;
        }
        for (sdc_version, platform) in entries(platforms) {
            // Node throws on some non-strings (null, 16-element arrays); all
            // non-strings are invalid here.
            let ok = matches!(platform, Value::String(s) if is_platform_version(s));
            if !ok {
                errs.push(FieldError::invalid_msg(
                    &field,
                    format!(
                        "invalid image \"{field}\" entry: \"{sdc_version}: {}\" not a valid platform version",
                        js::format_s(platform)
                    ),
                ));
            }
        }
    }
    if let Some(bootrom) = get("bootrom") {
        let brand = obj.and_then(|o| o.get("brand"));
        match brand {
            Some(b) if js::truthy(b) => {
                if b.as_str() != Some("bhyve") {
                    errs.push(FieldError::invalid_msg(
                        "requirements.bootrom",
                        format!(
                            "invalid bootrom \"requirements.bootrom\" not supported with \"{}\" brand; \"requirements.brand\" must be \"bhyve\"",
                            js::format_s(b)
                        ),
                    ));
                } else if !matches!(bootrom, Value::String(s) if VALID_BOOTROMS.contains(&s.as_str())) {
                    errs.push(FieldError::invalid_msg(
                        "requirements.bootrom",
                        format!(
                            "invalid bootrom \"requirements.bootrom\" invalid entry \"{}\"; must be one of: {}",
                            js::format_s(bootrom),
                            VALID_BOOTROMS.join(", ")
                        ),
                    ));
                }
            }
            _ => errs.push(FieldError {
                field: "requirements.bootrom".into(),
                code: Code::MissingParameter,
                message: Some(
                    "\"requirements.brand\" not specified. \"requirements.bootrom\" requires \"requirements.brand\" to be set to \"bhyve\"".into(),
                ),
            }),
        }
    }
    for key in keys
        .iter()
        .filter(|k| !KNOWN_REQUIREMENTS.contains(&k.as_str()))
    {
        errs.push(FieldError::invalid_msg(
            key,
            format!("unsupported requirement \"{key}\""),
        ));
    }
}

/// Node's `validPlatformVersion`: `YYYYMMDDTHHMMSSZ`, checked field by field
/// with `Number()` (so non-digits slip through as NaN, as in Node).
pub fn is_platform_version(s: &str) -> bool {
    let units: Vec<u16> = s.encode_utf16().collect();
    if units.len() != 16 {
        return false;
    }
    let part = |start: usize, len: usize| String::from_utf16_lossy(&units[start..start + len]);
    let num = |start: usize, len: usize| js::string_to_number(&part(start, len));
    !(num(0, 4) < 2012.0
        || num(4, 2) > 12.0
        || num(4, 2) == 0.0
        || num(6, 2) > 31.0
        || num(6, 2) == 0.0
        || part(8, 1) != "T"
        || num(9, 2) > 23.0
        || num(11, 2) > 59.0
        || num(13, 2) > 59.0
        || part(15, 1) != "Z")
}
