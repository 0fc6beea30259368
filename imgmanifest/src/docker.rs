//! The Docker helpers of Node's `imgmanifest` 3.2.1: image UUIDs from
//! Docker layer digests (RFD 57), Docker ids, and an IMGAPI manifest from
//! a Docker image's config ("image json").
//!
//! Each answers as its Node namesake, errors included: where Node throws,
//! these return a [`DockerError`] whose text is Node's message.
//!
//! ```
//! use imgmanifest::docker::{docker_id_from_digest, img_uuid_from_docker_digests, short_docker_id};
//! let digest = "sha256:8ddc19f16526912237dd8af81971d5e4dd0587907234be2b83e249518d5b673f";
//! let id = docker_id_from_digest(digest)?;
//! assert_eq!(short_docker_id(&id)?, "8ddc19f16526");
//! assert_eq!(img_uuid_from_docker_digests(&[digest])?, "922b0c89-4e9e-5b57-6562-8680704b3b7a");
//! # Ok::<(), imgmanifest::docker::DockerError>(())
//! ```

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::js;
use crate::v8_date;

/// Why a Docker helper fails: Node's exception, by its class, with Node's
/// message as the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DockerError {
    /// An `AssertionError` (assert-plus or `assert.ok`), e.g.
    /// `opts.imgJson (object) is required`.
    #[error("{0}")]
    Assertion(String),
    /// The plain `Error` for digests not of the form `sha256:<64 characters>`.
    #[error("docker digests should be of the form \"sha256:xxx\", got: {0}")]
    BadDigests(String),
    /// A `TypeError`, e.g. `imgJson.container_config.Cmd.join is not a function`.
    #[error("{0}")]
    Type(String),
    /// The `RangeError` of `toISOString` for a `created` that is no time.
    #[error("Invalid time value")]
    InvalidTime,
    /// Not Node's: a string Node cuts (`substr`, `slice`) in the middle of a
    /// UTF-16 surrogate pair, which it keeps as a lone surrogate but a Rust
    /// string cannot hold. Names what was cut.
    #[error("{0} would end in half of a UTF-16 surrogate pair")]
    LoneSurrogate(&'static str),
}

impl DockerError {
    /// The JavaScript class of Node's exception (`AssertionError`, `Error`,
    /// `TypeError`, `RangeError`), or `None` where Node does not throw.
    pub fn js_class(&self) -> Option<&'static str> {
        match self {
            DockerError::Assertion(_) => Some("AssertionError"),
            DockerError::BadDigests(_) => Some("Error"),
            DockerError::Type(_) => Some("TypeError"),
            DockerError::InvalidTime => Some("RangeError"),
            DockerError::LoneSurrogate(_) => None,
        }
    }
}

const NIL_UUID: &str = "00000000-0000-0000-0000-000000000000";
const MAX_DESCRIPTION_LENGTH: usize = 10 * 1024;

/// Node's `imgUuidFromDockerDigests`: the SmartOS image UUID for a Docker
/// layer digest chain (base first), the first 128 bits of the SHA-256 of
/// the digests joined by spaces.
pub fn img_uuid_from_docker_digests(digests: &[&str]) -> Result<String, DockerError> {
    let bad: Vec<&str> = digests
        .iter()
        .copied()
        .filter(|d| {
            let parts: Vec<&str> = d.split(':').collect();
            parts.len() != 2 || parts[0] != "sha256" || js::utf16_len(parts[1]) != 64
        })
        .collect();
    if !bad.is_empty() {
        return Err(DockerError::BadDigests(bad.join(",")));
    }
    let hash = Sha256::digest(digests.join(" ").as_bytes());
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32]))
}

/// Node's `dockerIdFromDigest`: what follows the one colon of a digest
/// (`sha256:<id>`).
pub fn docker_id_from_digest(digest: &str) -> Result<String, DockerError> {
    match digest.split(':').collect::<Vec<_>>()[..] {
        [_, id] => Ok(id.to_string()),
        _ => Err(DockerError::Assertion("digest should contain exactly one colon".into())),
    }
}

/// Node's `shortDockerId`: the first 12 characters (UTF-16 units) of a
/// 64-character Docker id.
pub fn short_docker_id(id: &str) -> Result<String, DockerError> {
    if js::utf16_len(id) != 64 {
        return Err(DockerError::Assertion(
            "The expression evaluated to a falsy value:\n\n  assert.ok(dockerId.length === 64)\n".into(),
        ));
    }
    utf16_prefix(id, 12).map(str::to_string).ok_or(DockerError::LoneSurrogate("the short docker id"))
}

/// The first `units` UTF-16 code units of `s` (all of it if shorter);
/// `None` if that cuts a surrogate pair.
fn utf16_prefix(s: &str, units: usize) -> Option<&str> {
    let mut n = 0;
    for (i, c) in s.char_indices() {
        if n == units {
            return Some(&s[..i]);
        }
        n += c.len_utf16();
        if n > units {
            return None;
        }
    }
    Some(s)
}

/// A property lookup `v.name` on a JSON value: an object's own member; no
/// JSON value has another property the helpers read.
fn get<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.as_object().and_then(|m| m.get(name))
}

/// assert-plus: `typeof v === 'object' && v !== null` (arrays pass).
fn assert_object(v: Option<&Value>, name: &str) -> Result<(), DockerError> {
    match v {
        Some(Value::Object(_) | Value::Array(_)) => Ok(()),
        _ => Err(DockerError::Assertion(format!("{name} (object) is required"))),
    }
}

fn strings_of(v: &Value) -> Option<Vec<&str>> {
    v.as_array()?.iter().map(Value::as_str).collect()
}

fn assert_array_of_string<'a>(v: Option<&'a Value>, name: &str) -> Result<Vec<&'a str>, DockerError> {
    v.and_then(strings_of).ok_or_else(|| DockerError::Assertion(format!("{name} ([string]) is required")))
}

/// `undefined` and `null` pass the optional asserts.
fn absent(v: Option<&Value>) -> bool {
    matches!(v, None | Some(Value::Null))
}

fn assert_optional(v: Option<&Value>, ok: impl Fn(&Value) -> bool, name: &str, what: &str) -> Result<(), DockerError> {
    if absent(v) || v.is_some_and(ok) {
        Ok(())
    } else {
        Err(DockerError::Assertion(format!("{name} ({what}) is required")))
    }
}

const CANNOT_CONVERT: &str = "Cannot convert object to primitive value";

/// `String(v)` where JavaScript may throw: an object with its own
/// `toString` member (never callable in JSON) has no primitive value.
fn to_string_checked(v: &Value) -> Result<String, DockerError> {
    match v {
        Value::Object(m) if m.contains_key("toString") => Err(DockerError::Type(CANNOT_CONVERT.into())),
        Value::Array(a) => join(a, ","),
        _ => Ok(js::to_string(v)),
    }
}

/// `Array.prototype.join(sep)`: `null` entries empty, the others `String()`.
fn join(items: &[Value], sep: &str) -> Result<String, DockerError> {
    let parts: Vec<String> = items
        .iter()
        .map(|e| if e.is_null() { Ok(String::new()) } else { to_string_checked(e) })
        .collect::<Result<_, _>>()?;
    Ok(parts.join(sep))
}

/// `new Date(v)` as a time value: strings parsed, other primitives as
/// numbers, objects and arrays through their primitive value.
fn date_of(v: Option<&Value>) -> Result<v8_date::TimeValue, DockerError> {
    let Some(v) = v else { return Ok(None) };
    Ok(match v {
        Value::String(s) => v8_date::parse(s),
        Value::Object(_) | Value::Array(_) => v8_date::parse(&to_string_checked(v)?),
        other => v8_date::time_clip(js::to_number(other)),
    })
}

/// `x > limit` for a JSON value `x` against a number.
fn greater_than(x: &Value, limit: f64) -> Result<bool, DockerError> {
    let n = match x {
        Value::Object(_) | Value::Array(_) => js::string_to_number(&to_string_checked(x)?),
        other => js::to_number(other),
    };
    Ok(n > limit)
}

/// Node's `clip(s, length)`: `''` for a falsy value, the first `length`
/// units of a longer string or entries of a longer array.
fn clip(s: &Value, length: usize) -> Result<Value, DockerError> {
    if !js::truthy(s) {
        return Ok(Value::String(String::new()));
    }
    match s {
        Value::String(text) => {
            if js::utf16_len(text) > length {
                let cut = utf16_prefix(text, length).ok_or(DockerError::LoneSurrogate("the description"))?;
                Ok(Value::String(cut.to_string()))
            } else {
                Ok(s.clone())
            }
        }
        Value::Array(a) if a.len() > length => Ok(Value::Array(a[..length].to_vec())),
        Value::Object(m) => match m.get("length") {
            Some(len) if greater_than(len, length as f64)? => {
                Err(DockerError::Type("s.slice is not a function".into()))
            }
            _ => Ok(s.clone()),
        },
        _ => Ok(s.clone()),
    }
}

/// The description Node writes: `imgJson.comment`, else the container's
/// command joined by spaces, clipped.
fn description(img: &Value) -> Result<Value, DockerError> {
    let comment = get(img, "comment");
    let source = if let Some(c) = comment.filter(|c| js::truthy(*c)) {
        c.clone()
    } else {
        match get(img, "container_config") {
            Some(cc) if js::truthy(cc) => match get(cc, "Cmd") {
                Some(cmd) if js::truthy(cmd) => match cmd {
                    Value::Array(items) => Value::String(join(items, " ")?),
                    _ => return Err(DockerError::Type("imgJson.container_config.Cmd.join is not a function".into())),
                },
                cmd => cmd.cloned().unwrap_or(Value::Null),
            },
            cc => cc.cloned().unwrap_or(Value::Null),
        }
    };
    clip(&source, MAX_DESCRIPTION_LENGTH)
}

/// `{linux: 'linux'}[os]`, as JSON writes it: `"linux"`, `{}` for
/// `Object.prototype` (`"__proto__"`), nothing for the other inherited
/// names (functions) and everything else (`undefined`).
fn os_of(os: Option<&Value>) -> Result<Option<Value>, DockerError> {
    let Some(os) = os else { return Ok(None) };
    let key = to_string_checked(os)?;
    Ok(match key.as_str() {
        "linux" => Some(Value::String("linux".into())),
        "__proto__" => Some(Value::Object(Map::new())),
        _ => None,
    })
}

/// Node's `imgManifestFromDockerInfo(opts)`: the IMGAPI manifest for a
/// Docker image, from `opts` as Node reads it:
///
/// - `layerDigests` (required, non-empty array of strings): the layer
///   digest chain, base first; the last is this image's;
/// - `imgJson` (required object): the Docker image config, of which
///   `created`, `os`, `comment`, `container_config.Cmd`, `architecture`,
///   `parent` and `config` (`Cmd`, `Entrypoint`, `Env`, `WorkingDir`) are
///   read;
/// - `repo.localName` (required string);
/// - optional `uuid`, `owner`, `origin` (strings), `tags` (strings),
///   `public` (boolean).
///
/// The manifest comes as `JSON.stringify` writes Node's (members left
/// `undefined` are left out), keys in Node's order.
pub fn img_manifest_from_docker_info(opts: &Value) -> Result<Value, DockerError> {
    assert_object(Some(opts), "opts")?;
    let digests = assert_array_of_string(get(opts, "layerDigests"), "opts.layerDigests")?;
    if digests.is_empty() {
        return Err(DockerError::Assertion("opts.layerDigests.length >= 1".into()));
    }
    let img = get(opts, "imgJson");
    assert_object(img, "opts.imgJson")?;
    let img = img.expect("asserted");
    let repo = get(opts, "repo");
    assert_object(repo, "opts.repo")?;
    let local_name = match repo.and_then(|r| get(r, "localName")) {
        Some(Value::String(s)) => s.clone(),
        _ => return Err(DockerError::Assertion("opts.repo.localName (string) is required".into())),
    };
    let is_string = |v: &Value| v.is_string();
    assert_optional(get(opts, "uuid"), is_string, "opts.uuid", "string")?;
    assert_optional(get(opts, "owner"), is_string, "opts.owner", "string")?;
    assert_optional(get(opts, "tags"), |v| strings_of(v).is_some(), "opts.tags", "[string]")?;
    assert_optional(get(opts, "public"), Value::is_boolean, "opts.public", "bool")?;
    assert_optional(get(opts, "origin"), is_string, "opts.origin", "string")?;

    let digest = digests[digests.len() - 1];
    let public = get(opts, "public").cloned().unwrap_or(Value::Bool(true));
    let short_id = short_docker_id(&docker_id_from_digest(digest)?)?;
    let given = |name: &str| get(opts, name).and_then(Value::as_str).filter(|s| !s.is_empty());
    let uuid = match given("uuid") {
        Some(u) => u.to_string(),
        None => img_uuid_from_docker_digests(&digests)?,
    };

    let mut m = Map::new();
    m.insert("v".into(), Value::from(2));
    m.insert("uuid".into(), Value::String(uuid));
    m.insert("owner".into(), Value::String(given("owner").unwrap_or(NIL_UUID).to_string()));
    m.insert("name".into(), Value::String("docker-layer".into()));
    m.insert("version".into(), Value::String(short_id));
    m.insert("disabled".into(), Value::Bool(false));
    m.insert("public".into(), public);
    let published = v8_date::to_iso_string(date_of(get(img, "created"))?).ok_or(DockerError::InvalidTime)?;
    m.insert("published_at".into(), Value::String(published));
    m.insert("type".into(), Value::String("docker".into()));
    if let Some(os) = os_of(get(img, "os"))? {
        m.insert("os".into(), os);
    }
    m.insert("description".into(), description(img)?);
    let mut tags = Map::new();
    tags.insert("docker:repo".into(), Value::String(local_name));
    tags.insert("docker:id".into(), Value::String(digest.to_string()));
    if let Some(arch) = get(img, "architecture") {
        tags.insert("docker:architecture".into(), arch.clone());
    }
    m.insert("tags".into(), Value::Object(tags));
    if get(img, "parent").is_some_and(js::truthy) || digests.len() > 1 {
        let origin = match given("origin") {
            Some(o) => o.to_string(),
            None => img_uuid_from_docker_digests(&digests[..digests.len() - 1])?,
        };
        m.insert("origin".into(), Value::String(origin));
    }
    let tags = m.get_mut("tags").and_then(Value::as_object_mut).expect("tags were just made");
    if let Some(repo_tags) = get(opts, "tags").and_then(strings_of) {
        for tag in repo_tags {
            tags.insert(format!("docker:tag:{tag}"), Value::Bool(true));
        }
    }
    if let Some(config) = get(img, "config").filter(|c| js::truthy(*c)) {
        let mut subset = Map::new();
        for key in ["Cmd", "Entrypoint", "Env", "WorkingDir"] {
            if let Some(v) = get(config, key) {
                subset.insert(key.into(), v.clone());
            }
        }
        tags.insert("docker:config".into(), Value::Object(subset));
    }
    Ok(js::json_round_trip(&Value::Object(m)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const D: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    #[test]
    fn helpers_answer_as_node() {
        assert_eq!(img_uuid_from_docker_digests(&[]).unwrap(), "e3b0c442-98fc-1c14-9afb-f4c8996fb924");
        assert_eq!(
            img_uuid_from_docker_digests(&["sha256:x", "y"]).unwrap_err().to_string(),
            "docker digests should be of the form \"sha256:xxx\", got: sha256:x,y"
        );
        assert_eq!(docker_id_from_digest("a:b:c").unwrap_err().to_string(), "digest should contain exactly one colon");
        assert!(short_docker_id("abc")
            .unwrap_err()
            .to_string()
            .starts_with("The expression evaluated to a falsy value"));
        let lone = format!("a{}b", "\u{1F600}".repeat(31));
        assert_eq!(short_docker_id(&lone), Err(DockerError::LoneSurrogate("the short docker id")));
    }

    #[test]
    fn manifest_as_node_writes_it() {
        let opts = json!({"layerDigests": [D, D], "imgJson": {"created": 5, "os": "__proto__",
            "config": {"Cmd": ["a"], "Env": null}, "architecture": "amd64"},
            "repo": {"localName": "b"}, "tags": ["latest", "x"], "public": null});
        let m = img_manifest_from_docker_info(&opts).unwrap();
        assert_eq!(
            js::json_stringify(&m),
            r#"{"v":2,"uuid":"9d2cc34d-c7dc-748d-ba0e-d439e6987c2f","owner":"00000000-0000-0000-0000-000000000000","name":"docker-layer","version":"aaaaaaaaaaaa","disabled":false,"public":null,"published_at":"1970-01-01T00:00:00.005Z","type":"docker","os":{},"description":"","tags":{"docker:repo":"b","docker:id":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","docker:architecture":"amd64","docker:tag:latest":true,"docker:tag:x":true,"docker:config":{"Cmd":["a"],"Env":null}},"origin":"9f447b1b-473d-3598-84f2-b8541a1ad0b7"}"#
        );
        let err = |imgjson: Value| {
            img_manifest_from_docker_info(&json!({"layerDigests": [D], "imgJson": imgjson, "repo": {"localName": "b"}}))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(err(json!({})), "Invalid time value");
        assert_eq!(err(json!({"created": {"toString": 1}})), "Cannot convert object to primitive value");
        assert_eq!(err(json!({"created": "2015", "comment": {"length": "20000"}})), "s.slice is not a function");
        assert_eq!(
            err(json!({"created": "2015", "container_config": {"Cmd": "x"}})),
            "imgJson.container_config.Cmd.join is not a function"
        );
        assert_eq!(img_manifest_from_docker_info(&json!(null)).unwrap_err().to_string(), "opts (object) is required");
    }
}
