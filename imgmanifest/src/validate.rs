//! Manifest validation in the four modes of Triton's Node `imgmanifest`
//! (`validateMinimalManifest`, `validateDcManifest`,
//! `validatePublicManifest`, `validatePrivateManifest`).
//!
//! It works on any JSON value and gives the errors Node gives, in Node's
//! order. Where Node throws instead of answering (see the crate README's
//! list of deliberate differences) it reports an `Invalid` error for the
//! offending field.

use std::borrow::Cow;
use std::fmt;

use crate::js::{self, JsonValue, Kind};
use crate::json::{key_id as f, known_key_id, FIRST_FILE_FIELD, FIRST_REQUIREMENT, KNOWN_KEYS};

/// `format!` for error messages, into a string with room for most of them:
/// `format!` sizes its string from the literal text alone, and a message
/// quoting a value then grows it once or twice.
macro_rules! message {
    ($($arg:tt)*) => {{
        let mut text = String::with_capacity(128);
        fmt::Write::write_fmt(&mut text, format_args!($($arg)*)).expect("writing to a String");
        text
    }};
}
use serde::Serialize;

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
            other => Err(format!("unknown validation mode \"{other}\" (use minimal, dc, public or private)")),
        }
    }
}

/// The validation mode plus, for `public` and `private`, the IMGAPI's
/// channels (Node's `channelFromName`): when set, `channels` is required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Which rules to apply.
    pub mode: Mode,
    /// Channel names the IMGAPI is configured with. Only meaningful for
    /// `Public` and `Private`, as in Node.
    pub channels: Option<Vec<String>>,
}

impl Options {
    /// The rules of `mode`, without channels.
    pub fn new(mode: Mode) -> Self {
        Options { mode, channels: None }
    }

    fn channels_configured(&self) -> bool {
        matches!(self.mode, Mode::Public | Mode::Private) && self.channels.is_some()
    }
}

/// Error code, as IMGAPI reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Code {
    /// A required field is absent.
    MissingParameter,
    /// A field's value is not allowed.
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
    /// The field, e.g. `name` or `requirements.min_ram`. Static names and
    /// fixed messages are borrowed: validation allocates only for messages
    /// that quote a value.
    pub field: Cow<'static, str>,
    /// What is wrong.
    pub code: Code,
    /// Node's message, where it gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<Cow<'static, str>>,
}

impl FieldError {
    fn missing(field: impl Into<Cow<'static, str>>) -> Self {
        FieldError { field: field.into(), code: Code::MissingParameter, message: None }
    }
    fn invalid(field: impl Into<Cow<'static, str>>) -> Self {
        FieldError { field: field.into(), code: Code::Invalid, message: None }
    }
    fn invalid_msg(field: impl Into<Cow<'static, str>>, message: impl Into<Cow<'static, str>>) -> Self {
        FieldError { field: field.into(), code: Code::Invalid, message: Some(message.into()) }
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
/// fields (its `fields` table): the head of [`KNOWN_KEYS`], so that a key's
/// id is its field's position.
pub const FIELDS: &[&str] = KNOWN_KEYS.as_slice().split_at(FIRST_REQUIREMENT).0;

const MINIMAL_REQUIRED: &[usize] = &[f::V, f::UUID, f::NAME, f::VERSION, f::TYPE, f::OS];

/// Required in dc, public and private modes; `channels` (last) only with
/// channels configured.
const FULL_REQUIRED_WITH_CHANNELS: &[usize] = &[
    f::V,
    f::UUID,
    f::OWNER,
    f::NAME,
    f::VERSION,
    f::DISABLED,
    f::ACTIVATED,
    f::PUBLISHED_AT,
    f::PUBLIC,
    f::STATE,
    f::TYPE,
    f::OS,
    f::FILES,
    f::NIC_DRIVER,
    f::DISK_DRIVER,
    f::CPU_TYPE,
    f::IMAGE_SIZE,
    f::CHANNELS,
];
const FULL_REQUIRED: &[usize] = FULL_REQUIRED_WITH_CHANNELS.split_at(FULL_REQUIRED_WITH_CHANNELS.len() - 1).0;

const MAX_URL_LENGTH: f64 = 1024.0;
const MAX_NAME_LENGTH: f64 = 1024.0;
const MAX_VERSION_LENGTH: f64 = 512.0;
const MAX_DESCRIPTION_LENGTH: f64 = 10.0 * 1024.0;
const MAX_BILLING_TAG_LENGTH: usize = 128;
const MAX_TAGS_LENGTH: usize = 100 * 1024;

/// Valid `type` values, in Node's order (its error message lists them).
pub const VALID_TYPES: &[&str] = &["zone-dataset", "zvol", "lx-dataset", "lxd", "docker", "other"];
/// Valid `os` values, in Node's order.
pub const VALID_OSES: &[&str] = &["smartos", "linux", "windows", "bsd", "illumos", "other"];
/// Valid `state` values.
pub const VALID_STATES: &[&str] = &["active", "unactivated", "disabled", "failed", "creating"];
/// Valid `files[].compression` values, in Node's order.
pub const VALID_FILE_COMPRESSIONS: &[&str] = &["gzip", "bzip2", "xz", "none"];
const VALID_BOOTROMS: &[&str] = &["bios", "uefi"];

/// Whether `key` names a manifest field.
fn is_field(key: &str) -> bool {
    known_key_id(key).is_some_and(|id| usize::from(id) < FIELDS.len())
}

/// A set of fields as a bit mask over their positions.
const fn mask(fields: &[usize]) -> u64 {
    let mut m = 0;
    let mut i = 0;
    while i < fields.len() {
        m |= 1 << fields[i];
        i += 1;
    }
    m
}

/// The manifest's known fields, found in one pass over its keys, so that the
/// validators look them up by position.
struct Present<'a, V> {
    slots: [Option<&'a V>; FIELDS.len()],
    /// The positions in `slots` that are set. Derivable from `slots`, but
    /// kept so that the optional fields present are found by bit scanning
    /// instead of a pass over all 33 slots on every validation.
    mask: u64,
    has_unknown_keys: bool,
}

impl<'a, V: JsonValue> Present<'a, V> {
    fn new(manifest: &'a V) -> Self {
        let mut p = Present { slots: [None; FIELDS.len()], mask: 0, has_unknown_keys: false };
        for (id, _, value) in manifest.keyed_members() {
            match id.filter(|&i| i < FIELDS.len()) {
                Some(i) => {
                    p.slots[i] = Some(value);
                    p.mask |= 1 << i;
                }
                None => p.has_unknown_keys = true,
            }
        }
        p
    }

    #[inline]
    fn get(&self, i: usize) -> Option<&'a V> {
        self.slots[i]
    }
}

/// Validates `manifest` (any JSON value: a serde_json `Value`, or the
/// compact [`Json`](crate::Json), which validates faster) under `opts`. An
/// empty result means valid.
pub fn validate<V: JsonValue>(manifest: &V, opts: &Options) -> Vec<FieldError> {
    let Kind::Object(_) = manifest.kind() else {
        return vec![FieldError::invalid_msg("manifest", "manifest is not a JSON object")];
    };
    let (required, required_mask) = match opts.mode {
        Mode::Minimal => (MINIMAL_REQUIRED, mask(MINIMAL_REQUIRED)),
        Mode::Dc => (FULL_REQUIRED, mask(FULL_REQUIRED)),
        Mode::Public | Mode::Private if opts.channels_configured() => {
            (FULL_REQUIRED_WITH_CHANNELS, mask(FULL_REQUIRED_WITH_CHANNELS))
        }
        Mode::Public | Mode::Private => (FULL_REQUIRED, mask(FULL_REQUIRED)),
    };
    let p = Present::new(manifest);
    // Most manifests break a few rules of the stricter modes, and an
    // unupgraded v1 manifest a dozen: room for them up front costs less
    // than growing the vector.
    let mut errs = Vec::with_capacity(16);
    for &i in required {
        validate_field(&mut errs, i, &p, opts);
    }
    // The other fields present, in FIELDS order.
    let mut optional = p.mask & !required_mask;
    while optional != 0 {
        validate_field(&mut errs, optional.trailing_zeros() as usize, &p, opts);
        optional &= optional - 1;
    }
    if p.has_unknown_keys {
        // In Object.keys order, which is insertion order unless a key looks
        // like an array index; in insertion order the keys' ids say which
        // are fields without looking each name up again.
        if js::has_index_keys(manifest) {
            for (key, _) in js::members_in_key_order(manifest) {
                if !is_field(key) {
                    errs.push(FieldError::invalid(key.to_string()));
                }
            }
        } else {
            for (id, key, _) in manifest.keyed_members() {
                if id.is_none_or(|id| id >= FIELDS.len()) {
                    errs.push(FieldError::invalid(key.to_string()));
                }
            }
        }
    }
    errs
}

/// A field's validator, in the shape of Node's (`None` is undefined): one
/// function per field, called through [`Checks::BY_FIELD`], so that each
/// pays only for its own work.
type Check<V> = fn(&mut Vec<FieldError>, &Present<V>, &Options, usize);

struct Checks<V>(std::marker::PhantomData<V>);

impl<V: JsonValue> Checks<V> {
    /// The validator of each field of [`FIELDS`], by position (the same order).
    const BY_FIELD: [Check<V>; FIELDS.len()] = [
        check_v,                     // v
        check_uuid_like,             // uuid
        check_urn,                   // urn
        check_uuid_like,             // owner
        check_name,                  // name
        check_version,               // version
        check_description,           // description
        check_homepage,              // homepage
        check_eula,                  // eula
        check_flag,                  // disabled
        check_flag,                  // activated
        check_published_at,          // published_at
        check_state,                 // state
        check_public,                // public
        check_type,                  // type
        check_os,                    // os
        check_uuid_like,             // origin
        check_error,                 // error
        check_files,                 // files
        check_boolean,               // icon
        check_acl,                   // acl
        check_requirements,          // requirements
        check_users,                 // users
        check_billing_tags,          // billing_tags
        check_traits,                // traits
        check_tags,                  // tags
        check_boolean,               // generate_passwords
        check_inherited_directories, // inherited_directories
        check_zvol_only,             // nic_driver
        check_zvol_only,             // disk_driver
        check_zvol_only,             // cpu_type
        check_image_size,            // image_size
        check_channels,              // channels
    ];
}

#[inline]
fn validate_field<V: JsonValue>(errs: &mut Vec<FieldError>, i: usize, m: &Present<V>, opts: &Options) {
    Checks::<V>::BY_FIELD[i](errs, m, opts, i)
}

fn check_v<V: JsonValue>(errs: &mut Vec<FieldError>, m: &Present<V>, _opts: &Options, i: usize) {
    let value = m.get(i);
    match value {
        None => errs.push(FieldError::missing("v")),
        Some(v) => {
            let n = js::to_number(v);
            if n.is_nan() || n < 0.0 {
                errs.push(FieldError::invalid_msg("v", "\"v\" must be a positive integer"));
            }
        }
    }
}

fn check_uuid_like<V: JsonValue>(errs: &mut Vec<FieldError>, m: &Present<V>, _opts: &Options, i: usize) {
    let field = FIELDS[i];
    let value = m.get(i);
    match value {
        None => errs.push(FieldError::missing(field)),
        Some(v) if !is_uuid_value(v) => errs.push(FieldError::invalid(field)),
        Some(_) => {}
    }
}

fn check_urn<V: JsonValue>(errs: &mut Vec<FieldError>, m: &Present<V>, _opts: &Options, i: usize) {
    let value = m.get(i);
    match value {
        None => errs.push(FieldError::missing("urn")),
        Some(v) if v.is_string() => {}
        Some(_) => errs.push(FieldError::invalid("urn")),
    }
}

/// Node's messages for characters outside the name and version rules.
const NAME_CHARSET_MESSAGE: &str = concat!(
    "image name has invalid characters (only alpha-numeric characters and ",
    "\" \", \".\", \"-\", \"_\" and \"/\" are allowed)"
);
const VERSION_CHARSET_MESSAGE: &str = concat!(
    "image version has invalid characters (only alpha-numeric characters and ",
    "\".\", \"-\", \"_\" and \"/\" are allowed)"
);

fn check_name<V: JsonValue>(errs: &mut Vec<FieldError>, m: &Present<V>, _opts: &Options, i: usize) {
    check_name_like(errs, m.get(i), "name", MAX_NAME_LENGTH, is_name, NAME_CHARSET_MESSAGE)
}

fn check_version<V: JsonValue>(errs: &mut Vec<FieldError>, m: &Present<V>, _opts: &Options, i: usize) {
    check_name_like(errs, m.get(i), "version", MAX_VERSION_LENGTH, is_version, VERSION_CHARSET_MESSAGE)
}

fn check_description<V: JsonValue>(errs: &mut Vec<FieldError>, m: &Present<V>, _opts: &Options, i: usize) {
    let value = m.get(i);
    match value {
        None => errs.push(FieldError::missing("description")),
        // Node throws reading `null.length`.
        Some(v) if v.is_null() => errs.push(FieldError::invalid_msg("description", "image description is null")),
        Some(v) => {
            if js_length_exceeds(v, MAX_DESCRIPTION_LENGTH) {
                errs.push(FieldError::invalid_msg(
                    "description",
                    message!("image description is too long, max {} characters", MAX_DESCRIPTION_LENGTH),
                ));
            }
        }
    }
}

fn check_homepage<V: JsonValue>(errs: &mut Vec<FieldError>, m: &Present<V>, _opts: &Options, i: usize) {
    let value = m.get(i);
    check_url(errs, value, "homepage", "homepage", "image homepage URL")
}

fn check_eula<V: JsonValue>(errs: &mut Vec<FieldError>, m: &Present<V>, _opts: &Options, i: usize) {
    let value = m.get(i);
    check_url(errs, value, "eula", "EULA", "image EULA URL")
}

fn check_flag<V: JsonValue>(errs: &mut Vec<FieldError>, m: &Present<V>, _opts: &Options, i: usize) {
    let field = FIELDS[i];
    let value = m.get(i);
    match value {
        None => errs.push(FieldError::missing(field)),
        Some(v) if bool_from_string(v).is_none() => errs.push(FieldError::invalid(field)),
        Some(_) => {}
    }
}

fn check_published_at<V: JsonValue>(errs: &mut Vec<FieldError>, m: &Present<V>, _opts: &Options, i: usize) {
    let value = m.get(i);
    if activated_is_true(m) && value.is_none() {
        errs.push(FieldError {
            field: "published_at".into(),
            code: Code::MissingParameter,
            message: Some("if activated is \"true\" published_at must be present".into()),
        });
    } else if let Some(v) = value {
        if js::truthy(v) && !is_published_at(&js::string_of(v)) {
            errs.push(FieldError::invalid_msg(
                "published_at",
                "published_at date not in \"YYYY-MM-DDTHH:MM:SS(.SSS)Z\" format",
            ));
        }
    }
}

fn check_state<V: JsonValue>(errs: &mut Vec<FieldError>, m: &Present<V>, _opts: &Options, i: usize) {
    let value = m.get(i);
    match value {
        None => errs.push(FieldError::missing("state")),
        Some(v) if v.as_str().is_some_and(|s| VALID_STATES.contains(&s)) => {}
        Some(_) => errs.push(FieldError::invalid("state")),
    }
}

fn check_public<V: JsonValue>(errs: &mut Vec<FieldError>, m: &Present<V>, opts: &Options, i: usize) {
    let value = m.get(i);
    match value {
        None => errs.push(FieldError::missing("public")),
        Some(v) => {
            match bool_from_string(v) {
                None => errs.push(FieldError::invalid_msg(
                    "public",
                    message!("TypeError: invalid value for \"undefined\": {}", js::Stringify(v)),
                )),
                Some(false) if opts.mode == Mode::Public => errs
                    .push(FieldError::invalid_msg("public", "private images are not allowed on a public Images API")),
                Some(true) if opts.mode == Mode::Private => errs
                    .push(FieldError::invalid_msg("public", "public images are not allowed on a private Images API")),
                Some(_) => {}
            }
        }
    }
}

fn check_type<V: JsonValue>(errs: &mut Vec<FieldError>, m: &Present<V>, _opts: &Options, _i: usize) {
    check_enum(errs, m, f::TYPE, VALID_TYPES)
}

fn check_os<V: JsonValue>(errs: &mut Vec<FieldError>, m: &Present<V>, _opts: &Options, _i: usize) {
    check_enum(errs, m, f::OS, VALID_OSES)
}

fn check_image_size<V: JsonValue>(errs: &mut Vec<FieldError>, m: &Present<V>, _opts: &Options, i: usize) {
    let value = m.get(i);
    match value {
        None => {
            if is_zvol(m) {
                errs.push(FieldError::missing("image_size"))
            }
        }
        Some(v) if js::truthy(v) && !is_zvol(m) => errs.push(FieldError::invalid_msg(
            "image_size",
            message!("invalid image image_size: \"{}\" (cannot have a value when image type is zvol)", js::FormatS(v)),
        )),
        Some(v) => {
            let n = js::to_number(v);
            if !(n.is_finite() && n.fract() == 0.0) {
                errs.push(FieldError::invalid_msg(
                    "image_size",
                    message!("invalid image image_size: \"{}\" (must be a positive integer)", js::FormatS(v)),
                ));
            }
        }
    }
}

fn check_channels<V: JsonValue>(errs: &mut Vec<FieldError>, m: &Present<V>, opts: &Options, i: usize) {
    match m.get(i) {
        None => errs.push(FieldError::missing("channels")),
        // Node throws here in minimal mode (no options object).
        Some(_) if !opts.channels_configured() => errs.push(FieldError::invalid_msg(
            "channels",
            "channels is invalid with an IMGAPI not configured for channels",
        )),
        Some(v) => check_array(errs, "channels", v, V::is_string, Show::AsJson),
    }
}

fn check_error<V: JsonValue>(errs: &mut Vec<FieldError>, m: &Present<V>, _opts: &Options, i: usize) {
    let value = m.get(i);
    match value {
        None => errs.push(FieldError::missing("error")),
        Some(v) if js::type_of(v) != "object" => errs.push(FieldError::invalid_msg(
            "error",
            message!("invalid image \"error\" (not an object): {}", js::Stringify(v)),
        )),
        Some(_) => {}
    }
}

fn check_boolean<V: JsonValue>(errs: &mut Vec<FieldError>, m: &Present<V>, _opts: &Options, i: usize) {
    let field = FIELDS[i];
    let value = m.get(i);
    match value {
        None => errs.push(FieldError::missing(field)),
        // Node throws on anything but a boolean or "true"/"false".
        Some(v) if bool_from_string(v).is_none() => errs.push(FieldError::invalid_msg(
            field,
            message!("invalid image \"{field}\" (not an accepted boolean value): {}", js::Stringify(v)),
        )),
        Some(_) => {}
    }
}

fn check_acl<V: JsonValue>(errs: &mut Vec<FieldError>, m: &Present<V>, _opts: &Options, i: usize) {
    let value = m.get(i);
    let Some(v) = value else {
        errs.push(FieldError::missing("acl"));
        return;
    };
    let Kind::Array(items) = v.kind() else {
        errs.push(FieldError::invalid_msg("acl", message!("invalid image \"acl\" (not an array): {}", js::FormatS(v))));
        return;
    };
    if let Some((i, item)) = items.iter().enumerate().find(|(_, a)| !is_uuid_value(*a)) {
        errs.push(FieldError::invalid_msg(
            "acl",
            message!("invalid image \"acl\" (item {i} is not a UUID): {}", js::FormatS(item)),
        ));
    }
}

fn check_users<V: JsonValue>(errs: &mut Vec<FieldError>, m: &Present<V>, _opts: &Options, i: usize) {
    match m.get(i) {
        None => errs.push(FieldError::missing("users")),
        Some(v) => check_array(errs, "users", v, is_user, Show::AsJson),
    }
}

fn check_billing_tags<V: JsonValue>(errs: &mut Vec<FieldError>, m: &Present<V>, _opts: &Options, i: usize) {
    let is_tag = |t: &V| t.as_str().is_some_and(|s| js::utf16_len(s) <= MAX_BILLING_TAG_LENGTH);
    match m.get(i) {
        None => errs.push(FieldError::missing("billing_tags")),
        Some(v) => check_array(errs, "billing_tags", v, is_tag, Show::AsString),
    }
}

fn check_traits<V: JsonValue>(errs: &mut Vec<FieldError>, m: &Present<V>, _opts: &Options, i: usize) {
    let value = m.get(i);
    match value {
        None => errs.push(FieldError::missing("traits")),
        // Node throws on `Object.keys(null)`.
        Some(v) if v.is_null() => errs.push(FieldError::invalid_msg(
            "traits",
            message!("invalid image \"traits\" (not an object): {}", js::Stringify(v)),
        )),
        Some(v) if js::type_of(v) != "object" => errs.push(FieldError::invalid_msg(
            "traits",
            message!("invalid image \"traits\" (not an object): {}", js::Stringify(v)),
        )),
        Some(v) if all_values(v, is_trait_value) => {}
        Some(v) => {
            for (key, tv) in entries(v) {
                if !is_trait_value(tv) {
                    errs.push(FieldError::invalid_msg(
                        "traits",
                        message!("invalid image \"traits\" entry: ({key}, {})", js::Stringify(tv)),
                    ));
                }
            }
        }
    }
}

fn check_tags<V: JsonValue>(errs: &mut Vec<FieldError>, m: &Present<V>, _opts: &Options, i: usize) {
    let value = m.get(i);
    match value {
        None => errs.push(FieldError::missing("tags")),
        Some(v) if matches!(v.kind(), Kind::Object(_)) => {
            let len = js::json_utf16_len(v);
            if len > MAX_TAGS_LENGTH {
                errs.push(FieldError::invalid_msg(
                    "tags",
                    message!("image \"tags\" object is too big: {len} characters (max {MAX_TAGS_LENGTH})"),
                ));
            }
        }
        // Arrays and primitives are rejected by Node; `null` makes it throw.
        Some(v) => errs.push(FieldError::invalid_msg(
            "tags",
            message!("invalid image \"tags\" (not an object): {}", js::Stringify(v)),
        )),
    }
}

fn check_inherited_directories<V: JsonValue>(errs: &mut Vec<FieldError>, m: &Present<V>, _opts: &Options, i: usize) {
    match m.get(i) {
        None => errs.push(FieldError::missing("inherited_directories")),
        Some(v) if !type_is(m, "zone-dataset") => errs.push(FieldError::invalid_msg(
            "inherited_directories",
            message!(
                "invalid image \"inherited_directories\" (only valid for a type:zone-dataset image): {}",
                js::Stringify(v)
            ),
        )),
        Some(v) => check_array(errs, "inherited_directories", v, V::is_string, Show::AsJson),
    }
}

/// `{"name": ...}` and nothing else.
fn is_user(u: &impl JsonValue) -> bool {
    matches!(u.kind(), Kind::Object(1)) && u.keyed_members().all(|(id, _, _)| id == Some(f::NAME))
}

/// An array whose entries must each pass `entry_ok`, with Node's messages:
/// `invalid image "<field>" entry: <entry>` for each bad entry (`entry :`
/// for billing_tags, as Node has it), or `invalid image "<field>" (not an
/// array): <value>`; `show` prints values as Node's `%j` or `%s` does.
fn check_array<V: JsonValue>(
    errs: &mut Vec<FieldError>,
    field: &'static str,
    value: &V,
    entry_ok: impl Fn(&V) -> bool,
    show: Show,
) {
    let Kind::Array(items) = value.kind() else {
        let message = message!("invalid image \"{field}\" (not an array): {}", show.of(value));
        errs.push(FieldError::invalid_msg(field, message));
        return;
    };
    let entry = if field == "billing_tags" { "entry :" } else { "entry:" };
    for item in items.iter().filter(|item| !entry_ok(item)) {
        errs.push(FieldError::invalid_msg(field, message!("invalid image \"{field}\" {entry} {}", show.of(item))));
    }
}

/// A list as Node's `list.join(', ')` prints it, written straight into a
/// message.
struct Joined<'a>(&'a [&'a str]);

impl fmt::Display for Joined<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(item)?;
        }
        Ok(())
    }
}

/// How a message prints a value: as Node's `%s` or `%j`.
#[derive(Clone, Copy)]
enum Show {
    AsString,
    AsJson,
}

impl Show {
    fn of(self, v: &impl JsonValue) -> impl fmt::Display + '_ {
        fmt::from_fn(move |f| match self {
            Show::AsString => fmt::Display::fmt(&js::FormatS(v), f),
            Show::AsJson => fmt::Display::fmt(&js::Stringify(v), f),
        })
    }
}

/// Node's `boolFromString` without a default: a boolean, or "true"/"false".
/// `None` where Node throws.
pub fn bool_from_string(v: &impl JsonValue) -> Option<bool> {
    match v.kind() {
        Kind::Bool(b) => Some(b),
        Kind::String("true") => Some(true),
        Kind::String("false") => Some(false),
        _ => None,
    }
}

/// `boolFromString(manifest.activated) === true`. Where Node would throw
/// (a non-boolean `activated`), `activated` is not true; its own validator
/// reports it.
fn activated_is_true<V: JsonValue>(m: &Present<V>) -> bool {
    m.get(f::ACTIVATED).and_then(bool_from_string) == Some(true)
}

/// `manifest.type === t` (a strict comparison: only the string matches).
fn type_is<V: JsonValue>(m: &Present<V>, t: &str) -> bool {
    m.get(f::TYPE).and_then(V::as_str) == Some(t)
}

fn is_zvol<V: JsonValue>(m: &Present<V>) -> bool {
    type_is(m, "zvol")
}

/// The UUID regex tested on `String(v)`. Only a string, or an array whose
/// elements join to one, can match: the others are settled without
/// printing them.
fn is_uuid_value(v: &impl JsonValue) -> bool {
    match v.kind() {
        Kind::String(s) => is_uuid(s),
        Kind::Array(_) => is_uuid(&js::to_string(v)),
        _ => false,
    }
}

/// `/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/`
pub fn is_uuid(s: &str) -> bool {
    let Ok(b) = <&[u8; 36]>::try_from(s.as_bytes()) else { return false };
    uuid_bytes_ok(b)
}

/// The UUID check, eight bytes at a time in ordinary registers: four UUID
/// fields in every manifest make this the validator's most frequent test.
fn uuid_bytes_ok(b: &[u8; 36]) -> bool {
    let word = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
    let half = |i: usize| u64::from(u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes")));
    // The 32 hex digits as four words: 0..8, 9..13 + 14..18, 19..23 + 24..28, 28..36.
    b[8] == b'-'
        && b[13] == b'-'
        && b[18] == b'-'
        && b[23] == b'-'
        && all_lower_hex(word(0))
        && all_lower_hex(half(9) | half(14) << 32)
        && all_lower_hex(half(19) | half(24) << 32)
        && all_lower_hex(word(28))
}

/// Whether all eight bytes of `x` are `0-9` or `a-f`, eight at a time.
fn all_lower_hex(x: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // For bytes below 0x80: the high bit of each byte is set where it is >= n.
    let at_least = |n: u8| ((x | HIGH) - ONES * u64::from(n)) & HIGH;
    let digit = at_least(b'0') & !at_least(b'9' + 1);
    let letter = at_least(b'a') & !at_least(b'f' + 1);
    x & HIGH == 0 && (digit | letter) == HIGH
}

/// A byte class as a lookup table: alphanumerics plus `extra`.
const fn alnum_plus(extra: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = (c as u8).is_ascii_alphanumeric();
        c += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        t[extra[i] as usize] = true;
        i += 1;
    }
    t
}

const NAME_CHARS: [bool; 256] = alnum_plus(b"._/ -");
const VERSION_CHARS: [bool; 256] = alnum_plus(b"._/+-");

/// `/^[A-Za-z0-9._/ -]+$/`
fn is_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| NAME_CHARS[c as usize])
}

/// `/^[A-Za-z0-9._/+-]+$/`
fn is_version(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| VERSION_CHARS[c as usize])
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
    head && (&b[19..] == b"Z" || (b.len() == 24 && b[19] == b'.' && digits(20..23) && b[23] == b'Z'))
}

/// `value.length > max`, for any value (`undefined > max` is false).
fn js_length_exceeds(v: &impl JsonValue, max: f64) -> bool {
    match v.kind() {
        // A string has no more UTF-16 units than UTF-8 bytes: most are
        // settled without counting.
        Kind::String(s) => s.len() as f64 > max && js::utf16_len(s) as f64 > max,
        _ => js::length(v).is_some_and(|len| len > max),
    }
}

fn check_name_like(
    errs: &mut Vec<FieldError>,
    value: Option<&impl JsonValue>,
    field: &'static str,
    max: f64,
    charset_ok: fn(&str) -> bool,
    charset_message: &'static str,
) {
    match value {
        None => errs.push(FieldError::missing(field)),
        // Node throws reading `null.length`.
        Some(v) if v.is_null() => errs.push(FieldError::invalid_msg(field, message!("image {field} is null"))),
        Some(v) if js_length_exceeds(v, max) => {
            errs.push(FieldError::invalid_msg(field, message!("image {field} is too long, max {max} characters")))
        }
        Some(v) if !charset_ok(&js::string_of(v)) => errs.push(FieldError::invalid_msg(field, charset_message)),
        Some(_) => {}
    }
}

fn check_url(errs: &mut Vec<FieldError>, value: Option<&impl JsonValue>, field: &'static str, label: &str, what: &str) {
    let Some(v) = value else {
        errs.push(FieldError::missing(field));
        return;
    };
    // Node's url.parse throws on a non-string, and on some host names
    // (crate::node_url): no protocol to speak of either way.
    let protocol_ok = v.as_str().is_some_and(crate::node_url::is_http_url);
    if !protocol_ok {
        errs.push(FieldError::invalid_msg(field, message!("invalid image {label} URL protocol")));
    } else if js_length_exceeds(v, MAX_URL_LENGTH) {
        errs.push(FieldError::invalid_msg(field, message!("{what} is too long (max {MAX_URL_LENGTH} characters)")));
    }
}

/// `type` and `os`: the string "null" is allowed while an image is being
/// created; otherwise the value, as a property key, must name a valid value
/// (or, as in Node, a name every JavaScript object has).
fn check_enum<V: JsonValue>(errs: &mut Vec<FieldError>, m: &Present<V>, i: usize, valid: &[&str]) {
    let field = FIELDS[i];
    let Some(v) = m.get(i) else {
        errs.push(FieldError::missing(field));
        return;
    };
    if v.as_str() == Some("null") {
        let state = m.get(f::STATE).and_then(V::as_str);
        if !matches!(state, Some("creating" | "failed")) {
            errs.push(FieldError::invalid_msg(field, message!("invalid image {field}, \"null\"")));
        }
        return;
    }
    let key = js::string_of(v);
    if !valid.contains(&key.as_ref()) && !js::OBJECT_PROTOTYPE_NAMES.contains(&key.as_ref()) {
        errs.push(FieldError::invalid_msg(
            field,
            message!("invalid image {field}, \"{}\", must be one of: {}", js::FormatS(v), Joined(valid)),
        ));
    }
}

/// `nic_driver`, `disk_driver`, `cpu_type`: a string, only on zvol images.
fn check_zvol_only<V: JsonValue>(errs: &mut Vec<FieldError>, m: &Present<V>, _opts: &Options, i: usize) {
    let field = FIELDS[i];
    match m.get(i) {
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
                message!(
                    "invalid image {field}: \"{}\" (cannot have a value{gap}when image type is zvol)",
                    js::FormatS(v)
                ),
            ));
        }
        Some(v) if v.is_string() => {}
        Some(v) => errs.push(FieldError::invalid_msg(
            field,
            message!("invalid image {field}: \"{}\" (must be a string)", js::FormatS(v)),
        )),
    }
}

fn check_files<V: JsonValue>(errs: &mut Vec<FieldError>, m: &Present<V>, _opts: &Options, _i: usize) {
    let Some(files) = m.get(f::FILES) else {
        if activated_is_true(m) {
            errs.push(FieldError {
                field: "files".into(),
                code: Code::MissingParameter,
                message: Some("if activated is \"true\" files must be present".into()),
            });
        }
        return;
    };
    let Kind::Array(files) = files.kind() else {
        errs.push(FieldError::invalid_msg(
            "files",
            message!("invalid image \"files\" (not an array): {}", js::FormatS(files)),
        ));
        return;
    };
    let is_lxd = type_is(m, "lxd");
    if files.len() > 2 || (!is_lxd && files.len() > 1) {
        errs.push(FieldError::invalid_msg("files", "invalid image \"files\": too many files"));
        return;
    }
    for file in files {
        // A `null` entry makes Node throw; we treat it as an entry with no fields.
        // One pass over the entry instead of three hashed lookups.
        let (mut sha1, mut size, mut compression) = (None, None, None);
        for (id, _, value) in file.keyed_members() {
            match id {
                Some(f::SHA1) => sha1 = Some(value),
                Some(f::SIZE) => size = Some(value),
                Some(f::COMPRESSION) => compression = Some(value),
                _ => {}
            }
        }
        if !sha1.is_some_and(js::truthy) {
            errs.push(FieldError::invalid_msg("files", "invalid image \"files\": file missing \"sha1\" field"));
        }
        if !size.is_some_and(js::truthy) {
            errs.push(FieldError::invalid_msg("files", "invalid image \"files\": file missing \"size\" field"));
        }
        match compression {
            Some(c) if js::truthy(c) => {
                if !c.as_str().is_some_and(|s| VALID_FILE_COMPRESSIONS.contains(&s)) {
                    errs.push(FieldError::invalid_msg(
                        "files",
                        message!(
                            "invalid image \"files\": invalid compression \"{}\" (must be one of {})",
                            js::FormatS(c),
                            Joined(VALID_FILE_COMPRESSIONS)
                        ),
                    ));
                }
            }
            _ => errs
                .push(FieldError::invalid_msg("files", "invalid image \"files\": file missing \"compression\" field")),
        }
    }
}

fn is_trait_value(v: &impl JsonValue) -> bool {
    matches!(v.kind(), Kind::String(_) | Kind::Bool(_) | Kind::Array(_))
}

/// Whether every value of an object or array passes `ok`: the common case,
/// settled without listing keys in JavaScript order.
fn all_values<V: JsonValue>(v: &V, ok: impl Fn(&V) -> bool) -> bool {
    match v.kind() {
        Kind::Object(_) => v.members().all(|(_, member)| ok(member)),
        Kind::Array(a) => a.iter().all(ok),
        _ => true,
    }
}

/// `(key, value)` pairs of an object or array, in JavaScript key order.
fn entries<V: JsonValue>(v: &V) -> Vec<(Cow<'_, str>, &V)> {
    match v.kind() {
        Kind::Object(_) => js::members_in_key_order(v).map(|(k, v)| (Cow::Borrowed(k), v)).collect(),
        Kind::Array(a) => a.iter().enumerate().map(|(i, e)| (Cow::Owned(i.to_string()), e)).collect(),
        _ => Vec::new(),
    }
}

const KNOWN_REQUIREMENTS: &[&str] = KNOWN_KEYS.as_slice().split_at(FIRST_FILE_FIELD).0.split_at(FIRST_REQUIREMENT).1;

/// Positions in [`KNOWN_REQUIREMENTS`].
mod req {
    use crate::json::{key_id, FIRST_REQUIREMENT};
    pub const NETWORKS: usize = key_id::NETWORKS - FIRST_REQUIREMENT;
    pub const BRAND: usize = key_id::BRAND - FIRST_REQUIREMENT;
    pub const SSH_KEY: usize = key_id::SSH_KEY - FIRST_REQUIREMENT;
    pub const MIN_RAM: usize = key_id::MIN_RAM - FIRST_REQUIREMENT;
    pub const MAX_RAM: usize = key_id::MAX_RAM - FIRST_REQUIREMENT;
    pub const MIN_PLATFORM: usize = key_id::MIN_PLATFORM - FIRST_REQUIREMENT;
    pub const MAX_PLATFORM: usize = key_id::MAX_PLATFORM - FIRST_REQUIREMENT;
    pub const BOOTROM: usize = key_id::BOOTROM - FIRST_REQUIREMENT;
}

/// Position of a requirement in [`KNOWN_REQUIREMENTS`].
#[inline]
fn requirement_index(key_id: Option<usize>) -> Option<usize> {
    key_id.filter(|id| (FIRST_REQUIREMENT..FIRST_FILE_FIELD).contains(id)).map(|id| id - FIRST_REQUIREMENT)
}

fn check_requirements<V: JsonValue>(errs: &mut Vec<FieldError>, m: &Present<V>, _opts: &Options, i: usize) {
    let value = m.get(i);
    let Some(reqs) = value else {
        errs.push(FieldError::missing("requirements"));
        return;
    };
    // Node copies `requirements` with Object.keys: a string becomes one key
    // per UTF-16 unit, numbers and booleans nothing; `null` makes it throw.
    if reqs.is_null() {
        errs.push(FieldError::invalid_msg(
            "requirements",
            message!("invalid image \"requirements\" (not an object): {}", js::Stringify(reqs)),
        ));
        return;
    }
    // One pass over the object instead of eight hashed lookups.
    let mut known: [Option<&V>; KNOWN_REQUIREMENTS.len()] = [None; KNOWN_REQUIREMENTS.len()];
    let mut has_unknown = !matches!(reqs.kind(), Kind::Object(_));
    for (id, key, value) in reqs.keyed_members() {
        match requirement_index(id) {
            Some(i) => known[i] = Some(value),
            None => has_unknown |= key != "__proto__",
        }
    }
    let get = |i: usize| known[i].filter(|v| js::truthy(*v));

    if let Some(networks) = get(req::NETWORKS) {
        match networks.kind() {
            Kind::Array(nets) => {
                for n in nets {
                    let ok = matches!(n.kind(), Kind::Object(2))
                        && n.keyed_members().all(|(id, _, _)| matches!(id, Some(f::NAME | f::DESCRIPTION)));
                    if !ok {
                        errs.push(FieldError::invalid_msg(
                            "requirements.networks",
                            message!("invalid image \"requirements.networks\" entry: {}", js::Stringify(n)),
                        ));
                    }
                }
            }
            _ => errs.push(FieldError::invalid_msg(
                "requirements.networks",
                message!("invalid image \"requirements.networks\" (not an array): {}", js::Stringify(networks)),
            )),
        }
    }
    if let Some(brand) = get(req::BRAND).filter(|b| !b.is_string()) {
        errs.push(FieldError::invalid_msg(
            "requirements.brand",
            message!("invalid image \"requirements.brand\" (not a string): {}", js::Stringify(brand)),
        ));
    }
    if let Some(ssh_key) = get(req::SSH_KEY).filter(|b| !matches!(b.kind(), Kind::Bool(_))) {
        errs.push(FieldError::invalid_msg(
            "requirements.ssh_key",
            message!("invalid image \"requirements.ssh_key\" (not a boolean): {}", js::Stringify(ssh_key)),
        ));
    }
    let ram = |errs: &mut Vec<FieldError>, i: usize| -> Option<(f64, &V)> {
        let v = get(i)?;
        let key = KNOWN_REQUIREMENTS[i];
        match v.kind() {
            Kind::Number(n) if js::to_f64(n).is_finite() && js::to_f64(n).fract() == 0.0 => Some((js::to_f64(n), v)),
            _ => {
                errs.push(FieldError::invalid_msg(
                    message!("requirements.{key}"),
                    message!("invalid image \"requirements.{key}\" (not a positive integer): {}", js::Stringify(v)),
                ));
                None
            }
        }
    };
    let min_ram = ram(errs, req::MIN_RAM);
    let max_ram = ram(errs, req::MAX_RAM);
    if let (Some((min, min_v)), Some((max, max_v))) = (min_ram, max_ram) {
        if max - min < 0.0 {
            errs.push(FieldError::invalid_msg(
                "requirements.max_ram",
                message!(
                    "min_ram must be <= max_ram, but:min_ram={}, max_ram={}",
                    js::FormatS(min_v),
                    js::FormatS(max_v)
                ),
            ));
        }
    }
    for (i, field) in
        [(req::MIN_PLATFORM, "requirements.min_platform"), (req::MAX_PLATFORM, "requirements.max_platform")]
    {
        let Some(platforms) = get(i) else { continue };
        let non_empty_object = match platforms.kind() {
            Kind::Object(len) => len > 0,
            Kind::Array(a) => !a.is_empty(),
            _ => false,
        };
        if !non_empty_object {
            errs.push(FieldError::invalid_msg(
                field,
                message!("invalid image \"{field}\" (not an object): {}", js::Stringify(platforms)),
            ));
            continue;
        }
        // Node throws on some non-strings (null, 16-element arrays); all
        // non-strings are invalid here.
        let valid = |platform: &V| platform.as_str().is_some_and(is_platform_version);
        if all_values(platforms, valid) {
            continue;
        }
        for (sdc_version, platform) in entries(platforms) {
            if !valid(platform) {
                errs.push(FieldError::invalid_msg(
                    field,
                    message!(
                        "invalid image \"{field}\" entry: \"{sdc_version}: {}\" not a valid platform version",
                        js::FormatS(platform)
                    ),
                ));
            }
        }
    }
    if let Some(bootrom) = get(req::BOOTROM) {
        let brand = known[req::BRAND];
        match brand {
            Some(b) if js::truthy(b) => {
                if b.as_str() != Some("bhyve") {
                    errs.push(FieldError::invalid_msg(
                        "requirements.bootrom",
                        message!(
                            "invalid bootrom \"requirements.bootrom\" not supported with \"{}\" brand; \"requirements.brand\" must be \"bhyve\"",
                            js::FormatS(b)
                        ),
                    ));
                } else if !bootrom.as_str().is_some_and(|s| VALID_BOOTROMS.contains(&s)) {
                    errs.push(FieldError::invalid_msg(
                        "requirements.bootrom",
                        message!(
                            "invalid bootrom \"requirements.bootrom\" invalid entry \"{}\"; must be one of: {}",
                            js::FormatS(bootrom),
                            Joined(VALID_BOOTROMS)
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
    // Unknown keys, in Object.keys order. Node's copy assigns `__proto__`,
    // which sets a prototype instead of a key, so it is never listed.
    if !has_unknown {
        return;
    }
    let is_unknown = |k: &str| !KNOWN_REQUIREMENTS.contains(&k) && k != "__proto__";
    let unknown: Vec<String> =
        js::keys_of_any(reqs).unwrap_or_default().into_iter().filter(|k| is_unknown(k)).collect();
    for key in unknown {
        let message = message!("unsupported requirement \"{key}\"");
        errs.push(FieldError::invalid_msg(key, message));
    }
}

/// Node's `validPlatformVersion`: `YYYYMMDDTHHMMSSZ`, checked field by field
/// with `Number()` (so non-digits slip through as NaN, as in Node).
pub fn is_platform_version(s: &str) -> bool {
    if s.is_ascii() {
        if s.len() != 16 {
            return false;
        }
        let b = s.as_bytes();
        // The usual case, every field all digits: read each once.
        if b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit) {
            let n =
                |start: usize, len: usize| b[start..start + len].iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
            return n(0, 4) >= 2012
                && (1..=12).contains(&n(4, 2))
                && (1..=31).contains(&n(6, 2))
                && b[8] == b'T'
                && n(9, 2) <= 23
                && n(11, 2) <= 59
                && n(13, 2) <= 59
                && b[15] == b'Z';
        }
        let num = |start: usize, len: usize| {
            let part = &b[start..start + len];
            if part.iter().all(u8::is_ascii_digit) {
                part.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')) as f64
            } else {
                js::string_to_number(&s[start..start + len])
            }
        };
        return !(num(0, 4) < 2012.0
            || num(4, 2) > 12.0
            || num(4, 2) == 0.0
            || num(6, 2) > 31.0
            || num(6, 2) == 0.0
            || b[8] != b'T'
            || num(9, 2) > 23.0
            || num(11, 2) > 59.0
            || num(13, 2) > 59.0
            || b[15] != b'Z');
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::Key;

    /// FIELDS, the `f` positions and the known-key lookup name the same
    /// fields; so do the requirement tables.
    #[test]
    fn field_tables_agree() {
        for (i, name) in FIELDS.iter().enumerate() {
            assert_eq!(Key::new(name).id(), Some(i), "{name}");
        }
        assert_eq!(FIELDS.len(), 33);
        assert_eq!(FIELDS[f::CHANNELS], "channels");
        assert_eq!(FIELDS[f::IMAGE_SIZE], "image_size");
        assert_eq!(KNOWN_REQUIREMENTS[req::NETWORKS], "networks");
        assert_eq!(KNOWN_REQUIREMENTS[req::BOOTROM], "bootrom");
        assert_eq!(requirement_index(Key::new("max_ram").id()), Some(req::MAX_RAM));
        assert_eq!(requirement_index(Key::new("name").id()), None);
        assert_eq!(FULL_REQUIRED.len() + 1, FULL_REQUIRED_WITH_CHANNELS.len());
    }

    /// Names and versions take exactly their character classes.
    #[test]
    fn name_and_version_charsets() {
        for c in (0..=0x7f_u8).map(char::from).chain(['\u{80}', 'é', '\u{1F600}']) {
            let s = message!("a{c}1");
            assert_eq!(is_name(&s), c.is_ascii_alphanumeric() || "._/ -".contains(c), "{c:?}");
            assert_eq!(is_version(&s), c.is_ascii_alphanumeric() || "._/+-".contains(c), "{c:?}");
        }
        assert!(!is_name("") && !is_version(""));
        assert!(is_name(&"a".repeat(1000)) && !is_name(&message!("{}!", "a".repeat(1000))));
    }

    /// The word-at-a-time check agrees with the regex, byte by byte, for
    /// every byte value at every position of a valid UUID.
    #[test]
    fn uuid_check_is_the_regex() {
        let regex = |b: &[u8; 36]| {
            b.iter().enumerate().all(|(i, &c)| {
                if [8, 13, 18, 23].contains(&i) {
                    c == b'-'
                } else {
                    c.is_ascii_digit() || (b'a'..=b'f').contains(&c)
                }
            })
        };
        let valid: [u8; 36] = *b"f3078f0c-a53b-4140-b7af-fbb6308a8e35";
        assert!(uuid_bytes_ok(&valid));
        for at in 0..36 {
            for byte in 0..=255u8 {
                let mut b = valid;
                b[at] = byte;
                assert_eq!(uuid_bytes_ok(&b), regex(&b), "byte {byte:#x} at {at}");
            }
        }
    }
}
