//! Routing and the image endpoints. Each handler runs the real route's chain
//! in its order (sdc-imgapi 4.13.1 `lib/images.js` `mountApi`): e.g. for
//! AddImageFile auth, uuid, channel, image lookup, then the upload; so a
//! request wrong in two ways gets the error the real server gives first.

use std::fs::{self, File};
use std::io::{self, Read};

use serde_json::{json, Map, Value};
use sha1::{Digest as _, Sha1};

use crate::channels;
use crate::errors::ApiError;
use crate::http::{Body, RequestHead};
use crate::server::{Shared, State};
use crate::store::{self, Image, StoredFile, UNSET_OWNER};
use crate::{auth, version, Fault};

/// `constants.MAX_IMAGE_SIZE`: 20 GiB.
const MAX_IMAGE_SIZE: u64 = 20 * 1024 * 1024 * 1024;
/// `VALID_FILE_COMPRESSIONS`.
const COMPRESSIONS: [&str; 4] = ["gzip", "bzip2", "xz", "none"];
/// Largest JSON body read (the real bodyParser has no limit; a test server
/// has no use for more).
const MAX_JSON_BODY: u64 = 16 * 1024 * 1024;

/// What a handler answers; the connection code writes it.
pub(crate) enum Reply {
    Json {
        status: u16,
        body: Value,
        headers: Vec<(String, String)>,
    },
    NoContent,
    Error(ApiError),
    File {
        file: File,
        size: u64,
        headers: Vec<(String, String)>,
        fault: Option<Fault>,
    },
    /// The request body broke off: nothing can be answered.
    Abort,
}

impl From<ApiError> for Reply {
    fn from(e: ApiError) -> Reply {
        Reply::Error(e)
    }
}

fn ok(body: Value) -> Reply {
    Reply::Json { status: 200, body, headers: Vec::new() }
}

/// A manifest answer with `resSetEtag`'s `Etag`: the sha1 of its compact JSON.
fn manifest_reply(body: Value) -> Reply {
    let etag = store::hex(&Sha1::digest(body.to_string().as_bytes()));
    Reply::Json { status: 200, body, headers: vec![("Etag".into(), etag)] }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ep {
    Ping,
    ListChannels,
    ListImages,
    GetImage,
    UpdateImage,
    DeleteImage,
    AddImageFile,
    GetImageFile,
    /// A real endpoint this server does not implement.
    Other(&'static str),
}

/// A path pattern (`:` a parameter) and its methods in registration order,
/// which is the order of 405's `Allow`.
type RouteSpec = (&'static [&'static str], Methods);
type Methods = &'static [(&'static str, Ep)];

/// The real server's routes (`lib/app.js`, `lib/channels.js`,
/// `lib/images.js`, `lib/datasets.js`, `lib/authkeys.js`).
const ROUTES: &[RouteSpec] = &[
    (&[""], &[("GET", Ep::Other("GET /"))]),
    (&["favicon.ico"], &[("GET", Ep::Other("Favicon"))]),
    (&["docs"], &[("GET", Ep::Other("GET /docs"))]),
    (&["ping"], &[("GET", Ep::Ping)]),
    (&["state"], &[("GET", Ep::Other("AdminGetState")), ("POST", Ep::Other("AdminUpdateState"))]),
    (&["channels"], &[("GET", Ep::ListChannels)]),
    (&["images"], &[("GET", Ep::ListImages), ("POST", Ep::Other("CreateImage"))]),
    (&["images", ":"], &[("GET", Ep::GetImage), ("POST", Ep::UpdateImage), ("DELETE", Ep::DeleteImage)]),
    (&["images", ":", "file"], &[("PUT", Ep::AddImageFile), ("GET", Ep::GetImageFile)]),
    (&["images", ":", "file", "from-url"], &[("POST", Ep::Other("AddImageFileFromUrl"))]),
    (
        &["images", ":", "icon"],
        &[
            ("PUT", Ep::Other("AddImageIcon")),
            ("GET", Ep::Other("GetImageIcon")),
            ("DELETE", Ep::Other("DeleteImageIcon")),
        ],
    ),
    (&["images", ":", "push"], &[("POST", Ep::Other("AdminPushDockerImage"))]),
    (&["images", ":", "acl"], &[("POST", Ep::Other("AddImageAcl"))]),
    (&["images", ":", "jobs"], &[("GET", Ep::Other("GetImageJobs"))]),
    (&["datasets"], &[("GET", Ep::Other("ListDatasets"))]),
    (&["datasets", ":"], &[("GET", Ep::Other("GetDataset"))]),
    (&["authkeys", "reload"], &[("POST", Ep::Other("AdminReloadAuthKeys"))]),
];

/// restify's `compileURL` patterns are `^(\/+segment)+$`: runs of slashes
/// separate segments, and a parameter may be empty (`/images/` is GetImage
/// with an empty uuid).
fn segments(path: &str) -> Option<Vec<String>> {
    let rest = path.strip_prefix('/')?.trim_start_matches('/');
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '/' {
            while chars.peek() == Some(&'/') {
                chars.next();
            }
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    Some(out)
}

/// Route lookup as restify's router does it: a path it knows with a method
/// it lacks is 405 (HEAD included: no route is registered for HEAD), an
/// unknown path 404, a version no route serves 400 `InvalidVersion`.
fn route(sh: &Shared, head: &RequestHead) -> Result<(Ep, Option<String>), ApiError> {
    let Some(segs) = segments(&head.path) else {
        return Err(ApiError::resource_not_found(format!("{} does not exist", head.path)));
    };
    let (methods, param) =
        match_path(sh, &segs).ok_or_else(|| ApiError::resource_not_found(format!("{} does not exist", head.path)))?;
    let Some((_, ep)) = methods.iter().find(|(m, _)| *m == head.method) else {
        let allow: Vec<&str> = methods.iter().map(|(m, _)| *m).collect();
        return Err(ApiError::method_not_allowed(&head.method, &allow));
    };
    let range = version_range(head);
    if version::negotiate(range).is_none() {
        return Err(ApiError::invalid_version(range, &head.method, &head.path));
    }
    Ok((*ep, param))
}

/// The methods of the route whose pattern the path fits, and its parameter.
fn match_path(sh: &Shared, segs: &[String]) -> Option<(Methods, Option<String>)> {
    // The docs route is a regex, `^\/docs\/(.+)?`, open at its end.
    if segs.len() > 1 && segs[0] == "docs" {
        return Some((&[("GET", Ep::Other("PublicDocs"))], None));
    }
    for (pattern, methods) in ROUTES {
        if *pattern == ["channels"] && sh.channels.is_none() {
            continue;
        }
        if segs.len() != pattern.len() {
            continue;
        }
        let mut param = None;
        let fits = pattern.iter().zip(segs).all(|(p, s)| {
            if *p == ":" {
                param = Some(crate::http::percent_decode_path(s));
                true
            } else {
                p == s
            }
        });
        if fits {
            return Some((methods, param));
        }
    }
    None
}

/// `req.getVersion()`: `Accept-Version`, else `X-Api-Version`, else `~1`.
fn version_range(head: &RequestHead) -> &str {
    head.header("accept-version").or(head.header("x-api-version")).unwrap_or("~1")
}

pub(crate) fn handle(sh: &Shared, head: &RequestHead, body: &mut Body) -> Reply {
    let (ep, uuid) = match route(sh, head) {
        Ok(r) => r,
        Err(e) => return e.into(),
    };
    // `semverGter(version, '2.0.0')`: whether `channels` is shown.
    let range = version_range(head);
    let v2 = range == "*" || version::satisfies(range, (2, 0, 0)) == Some(true);
    let cx = Cx { sh, head, v2 };
    let uuid = uuid.unwrap_or_default();
    let result = match ep {
        Ep::Ping => cx.ping(),
        Ep::ListChannels => cx.list_channels(),
        Ep::ListImages => cx.list_images(),
        Ep::GetImage => cx.get_image(&uuid),
        Ep::GetImageFile => cx.get_image_file(&uuid),
        Ep::AddImageFile => cx.add_image_file(&uuid, body),
        Ep::UpdateImage => cx.update_image(&uuid, body),
        Ep::DeleteImage => cx.delete_image(&uuid),
        Ep::Other(name) => Err(ApiError::not_available(name)),
    };
    result.unwrap_or_else(Reply::Error)
}

struct Cx<'a> {
    sh: &'a Shared,
    head: &'a RequestHead,
    v2: bool,
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        })
}

/// `boolFromString` on a query parameter.
fn bool_param(head: &RequestHead, name: &str, default: bool) -> Result<bool, ApiError> {
    match head.param(name) {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(ApiError::invalid_parameter(
            format!("invalid value for \"{name}\" param: {} is not a boolean", json!(other)),
            vec![ApiError::field(name, "Invalid")],
        )),
    }
}

/// `%s` of a JavaScript value in a message.
fn js_str(v: Option<&Value>) -> String {
    match v {
        None => "undefined".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) => "null".into(),
        Some(Value::Object(_)) => "[object Object]".into(),
        Some(Value::Array(a)) => a.iter().map(|x| js_str(Some(x))).collect::<Vec<_>>().join(","),
        Some(v) => v.to_string(),
    }
}

impl Cx<'_> {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.sh.lock()
    }

    /// Strict (`reqAuth`) or passive (`reqPassiveAuth`) signature auth; with
    /// `authType: "none"` nothing is checked and no one is authenticated.
    fn auth(&self, strict: bool) -> Result<Option<String>, ApiError> {
        if !self.sh.require_signatures {
            return Ok(None);
        }
        auth::check(&self.sh.keys, self.head, strict)
    }

    fn channel(&self, allow_star: bool) -> Result<Option<String>, ApiError> {
        channels::resolve(self.sh.channels.as_ref(), self.head.param("channel"), allow_star)
    }

    fn valid_uuid(&self, uuid: &str) -> Result<(), ApiError> {
        if is_uuid(uuid) {
            Ok(())
        } else {
            // `reqValidUuid` quotes `req.url`, query string included.
            Err(ApiError::resource_not_found(format!("{} does not exist", self.head.target)))
        }
    }

    fn public_mode(&self) -> bool {
        self.sh.public_mode()
    }

    fn serialize(&self, image: &Image, admin: bool) -> Value {
        image.serialize(self.public_mode(), self.v2, admin)
    }

    /// `reqInclAdminFields`: only for authenticated requests on a non-"dc"
    /// server.
    fn incl_admin(&self, user: &Option<String>) -> Result<bool, ApiError> {
        let incl = bool_param(self.head, "inclAdminFields", false)?;
        if incl && user.is_none() {
            return Err(ApiError::unauthorized("Unauthorized (auth required to use \"inclAdminFields\" parameter)"));
        }
        Ok(incl)
    }

    /// `reqGetImage`: the image, if visible in the channel and to `?account=`.
    fn lookup(&self, st: &State, uuid: &str, channel: Option<&str>) -> Result<Image, ApiError> {
        let account = self.head.param("account");
        if let Some(a) = account {
            if !is_uuid(a) {
                return Err(ApiError::invalid_parameter(
                    format!("invalid \"account\": not a UUID: \"{a}\""),
                    vec![ApiError::field("account", "Invalid")],
                ));
            }
        }
        let image =
            st.store.images.get(uuid).ok_or_else(|| ApiError::resource_not_found(format!("image {uuid} not found")))?;
        if let Some(c) = channel {
            if !image.in_channel(c) {
                return Err(ApiError::resource_not_found("image not found"));
            }
        }
        if let Some(a) = account {
            let acl = image.fields.get("acl").and_then(Value::as_array);
            let access = image.owner() == Some(a)
                || (image.activated && (image.public() || acl.is_some_and(|l| l.iter().any(|x| x == a))));
            if !access {
                return Err(ApiError::resource_not_found("image not found"));
            }
        }
        Ok(image.clone())
    }

    /// `reqEnsureAccountIsImageOwner`.
    fn ensure_owner(&self, image: &Image) -> Result<(), ApiError> {
        match self.head.param("account") {
            Some(a) if image.owner() != Some(a) => Err(ApiError::not_image_owner(a, &image.uuid)),
            _ => Ok(()),
        }
    }

    // ---- endpoints

    fn ping(&self) -> Result<Reply, ApiError> {
        let user = self.auth(false)?;
        let mut body = json!({ "ping": "pong", "version": crate::IMGAPI_VERSION, "imgapi": true });
        // The pid only for an authenticated request on a non-"dc" server.
        if let Some(u) = user {
            body["pid"] = json!(std::process::id());
            body["user"] = json!(u);
        }
        Ok(ok(body))
    }

    fn list_channels(&self) -> Result<Reply, ApiError> {
        self.auth(false)?;
        Ok(ok(self.sh.channels.as_ref().map(|c| c.listing()).unwrap_or_default()))
    }

    fn list_images(&self) -> Result<Reply, ApiError> {
        let head = self.head;
        let user = self.auth(false)?;
        let channel = self.channel(true)?;
        let admin = self.incl_admin(&user)?;
        // Non-"dc" servers list only active images to unauthenticated callers.
        let limit_to_active = user.is_none();

        let limit = match head.param("limit").filter(|l| !l.is_empty()) {
            None => None,
            Some(l) => {
                let n: f64 = l.trim().parse().map_err(|_| {
                    ApiError::invalid_parameter(
                        format!("invalid limit: \"{l}\""),
                        // (sic: the real server names the wrong field)
                        vec![ApiError::field("state", "Invalid")],
                    )
                })?;
                (n >= 1.0).then_some(n as usize)
            }
        };
        // (activated, disabled) wanted; `None` for "any".
        let (activated, disabled): (Option<bool>, Option<bool>) = match head.param("state") {
            None | Some("") | Some("active") => (Some(true), Some(false)),
            Some("disabled" | "unactivated" | "creating" | "failed") if limit_to_active => return Ok(ok(json!([]))),
            Some("disabled") => (Some(true), Some(true)),
            Some("unactivated") => (Some(false), None),
            // This server never holds placeholder images.
            Some("creating" | "failed") => return Ok(ok(json!([]))),
            Some("all") if limit_to_active => (Some(true), Some(false)),
            Some("all") => (None, None),
            Some(s) => {
                return Err(ApiError::invalid_parameter(
                    format!("invalid state: \"{s}\""),
                    vec![ApiError::field("state", "Invalid")],
                ))
            }
        };
        let public = match head.param("public") {
            None => None,
            Some(_) => Some(bool_param(head, "public", true)?),
        };
        let (sort_attr, ascending) = match head.param("sort") {
            None => ("published_at".to_string(), true),
            Some(s) => {
                let mut parts = s.split('.');
                let attr = parts.next().unwrap_or("").to_string();
                (attr, parts.next().is_none_or(|o| o == "ASC" || o == "asc"))
            }
        };
        if sort_attr != "published_at" {
            return Err(ApiError::invalid_parameter(
                format!("invalid 'sort': not a valid sorting attribute: '{sort_attr}'"),
                vec![ApiError::field("sort", "Invalid")],
            ));
        }
        let tags: Vec<(String, String)> =
            head.query.iter().filter_map(|(k, v)| k.strip_prefix("tag.").map(|t| (t.to_string(), v.clone()))).collect();

        let st = self.state();
        let marker = match head.param("marker").filter(|m| !m.is_empty()) {
            None => None,
            Some(m) if is_uuid(m) => match st.store.images.get(m) {
                None => return Err(ApiError::resource_not_found(format!("image {m} not found"))),
                Some(i) => i.published_at.clone(),
            },
            Some(m) => match store::parse_iso_millis(m) {
                Some(ms) => Some(store::iso_from_millis(ms)),
                None => {
                    return Err(ApiError::invalid_parameter(
                        format!("invalid value for \"marker\" param: {} is not a UUID or date string", json!(m)),
                        vec![ApiError::field("marker", "Invalid")],
                    ))
                }
            },
        };
        let text_match = |field: Option<&Value>, want: Option<&str>, kind: char| -> bool {
            let Some(want) = want else { return true };
            let have = js_str(field);
            match (kind, want.strip_prefix('~'), want.strip_prefix('!')) {
                ('~', Some(sub), _) => field.is_some() && have.contains(sub),
                ('!', _, Some(not)) => have != not,
                _ => have == want,
            }
        };
        let matches = |i: &Image| -> bool {
            let f = &i.fields;
            activated.is_none_or(|a| i.activated == a)
                && disabled.is_none_or(|d| i.disabled == d)
                && public.is_none_or(|p| i.public() == p)
                && text_match(f.get("name"), head.param("name"), '~')
                && text_match(f.get("version"), head.param("version"), '~')
                && text_match(f.get("owner"), head.param("owner"), '=')
                && text_match(f.get("os"), head.param("os"), '=')
                && text_match(f.get("type"), head.param("type"), '!')
                && channel.as_deref().is_none_or(|c| i.in_channel(c))
                && tags.iter().all(|(k, v)| {
                    f.get("tags").and_then(|t| t.get(k)).is_some_and(|x| !x.is_object() && js_str(Some(x)) == *v)
                })
                && marker.as_deref().is_none_or(|m| match &i.published_at {
                    // JavaScript compares the strings; undefined compares false.
                    None => true,
                    Some(p) => {
                        if ascending {
                            p.as_str() >= m
                        } else {
                            p.as_str() <= m
                        }
                    }
                })
        };
        // The local database stops at `limit` hits in its own (published_at)
        // order, then the hits are sorted as asked.
        let mut hits: Vec<&Image> = st.store.sorted().into_iter().filter(|i| matches(i)).collect();
        if let Some(l) = limit {
            hits.truncate(l);
        }
        if !ascending {
            hits.sort_by_key(|i| {
                std::cmp::Reverse(i.published_at.as_deref().and_then(store::parse_iso_millis).unwrap_or(0))
            });
        }
        let list: Vec<Value> = hits.iter().map(|i| self.serialize(i, admin)).collect();
        Ok(ok(Value::Array(list)))
    }

    fn get_image(&self, uuid: &str) -> Result<Reply, ApiError> {
        self.valid_uuid(uuid)?;
        let user = self.auth(false)?;
        let channel = self.channel(true)?;
        let image = self.lookup(&self.state(), uuid, channel.as_deref())?;
        let admin = self.incl_admin(&user)?;
        Ok(manifest_reply(self.serialize(&image, admin)))
    }

    fn get_image_file(&self, uuid: &str) -> Result<Reply, ApiError> {
        // No auth at all on this route, even on a signature server.
        self.valid_uuid(uuid)?;
        let channel = self.channel(true)?;
        let mut st = self.state();
        let image = self.lookup(&st, uuid, channel.as_deref())?;
        let Some(file) = image.file else {
            return Err(ApiError::resource_not_found(format!("image \"{uuid}\" has no file")));
        };
        // `parseInt(req.query.index, 10) || 0`
        let index: i64 = js_parse_int(self.head.param("index"));
        if index != 0 {
            return Err(ApiError::resource_not_found(format!("image \"{uuid}\" has no file at index {index}")));
        }
        let fault = st.faults.get(uuid).cloned();
        if let Some(Fault::ServerErrorOnce) = fault {
            st.faults.remove(uuid);
            return Err(ApiError::internal("error getting image file"));
        }
        // Opened under the lock: an upload or delete may rename or remove
        // the path right after, and the open file keeps its bytes.
        let handle =
            File::open(&file.path).map_err(|e| ApiError::internal(format!("error getting image file: {e}")))?;
        drop(st);
        let headers = vec![
            ("Etag".to_string(), file.sha1.clone()),
            ("Last-Modified".to_string(), crate::http::http_date(file.mtime)),
            ("Content-Length".to_string(), file.size.to_string()),
            ("Content-Type".to_string(), "application/octet-stream".to_string()),
            ("Content-MD5".to_string(), file.md5.clone()),
        ];
        Ok(Reply::File { file: handle, size: file.size, headers, fault })
    }

    fn add_image_file(&self, uuid: &str, body: &mut Body) -> Result<Reply, ApiError> {
        let head = self.head;
        self.auth(true)?;
        self.valid_uuid(uuid)?;
        let channel = self.channel(false)?;
        let image = self.lookup(&self.state(), uuid, channel.as_deref())?;
        self.ensure_owner(&image)?;
        if head.param("source").is_some() {
            return Err(ApiError::not_available("AddImageFileFromSource"));
        }
        if image.activated {
            return Err(ApiError::image_files_immutable(uuid));
        }
        let compression = match head.param("compression").filter(|c| !c.is_empty()) {
            None => {
                return Err(ApiError::invalid_parameter(
                    "missing \"compression\"",
                    vec![ApiError::field("compression", "Missing")],
                ))
            }
            Some(c) if !COMPRESSIONS.contains(&c) => {
                return Err(ApiError::invalid_parameter(
                    format!("invalid compression \"{c}\" (must be one of {})", COMPRESSIONS.join(", ")),
                    vec![ApiError::field("compression", "Invalid")],
                ))
            }
            Some(c) => c.to_string(),
        };
        if let Some(s) = head.param("storage").filter(|s| !s.is_empty()) {
            if head.param("account").is_some() {
                return Err(ApiError::invalid_parameter(
                    format!("invalid storage \"{s}\""),
                    vec![json!({"field": "storage", "code": "NotAllowed",
                        "message": "Parameter cannot be specified by non-operators"})],
                ));
            }
            if s != "local" && s != "manta" {
                return Err(ApiError::invalid_parameter(
                    format!("invalid storage \"{s}\" (must be one of local, manta)"),
                    vec![ApiError::field("storage", "Invalid")],
                ));
            }
        }
        let content_length = head.header("content-length").and_then(|v| v.trim().parse::<u64>().ok());
        if let Some(cl) = content_length.filter(|cl| *cl > MAX_IMAGE_SIZE) {
            return Err(ApiError::upload(format!(
                "image file size {cl} (from Content-Length) exceeds the maximum allowed size, 20 GiB"
            )));
        }

        // Stream the body to a file of its own, hashing as it goes.
        let tmp = self.state().store.tmp_path(uuid);
        let received = File::create(&tmp).and_then(|mut f| {
            let mut limited = body.by_ref().take(MAX_IMAGE_SIZE + 1);
            store::copy_hashing(&mut limited, Some(&mut f))
        });
        let cleanup = |e: ApiError| {
            let _ = fs::remove_file(&tmp);
            e
        };
        let digests = match received {
            Ok(d) => d,
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return match e.kind() {
                    // The client went away mid-body: no one to answer.
                    io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::TimedOut
                    | io::ErrorKind::WouldBlock
                    | io::ErrorKind::InvalidData => Ok(Reply::Abort),
                    _ => Err(ApiError::internal(format!("error receiving image file: {e}"))),
                };
            }
        };
        if digests.size == 0 {
            return Err(cleanup(ApiError::download("image file size is 0 bytes, empty files are not allowed")));
        }
        if digests.size > MAX_IMAGE_SIZE {
            return Err(cleanup(ApiError::upload("image file size exceeds the maximum allowed size, 20 GiB")));
        }
        if let Some(cl) = content_length.filter(|cl| *cl != digests.size) {
            return Err(cleanup(ApiError::download(format!(
                "\"Content-Length\" header, {cl}, does not match uploaded size, {}",
                digests.size
            ))));
        }
        if let Some(want) = head.param("sha1").filter(|s| !s.is_empty()) {
            if want != digests.sha1 {
                return Err(cleanup(ApiError::download(format!(
                    "\"sha1\" hash, {want}, does not match the uploaded file sha1 hash, {}",
                    digests.sha1
                ))));
            }
        }

        // `finishMoveImageFile`: look the image up again, it may have changed.
        let mut st = self.state();
        let image = self.lookup(&st, uuid, channel.as_deref()).map_err(cleanup)?;
        if image.activated {
            return Err(cleanup(ApiError::image_already_activated(uuid)));
        }
        let path = st.store.file_path(uuid);
        fs::rename(&tmp, &path).map_err(|e| cleanup(ApiError::internal(format!("could not save image: {e}"))))?;
        let file = StoredFile {
            sha1: digests.sha1,
            size: digests.size,
            compression,
            dataset_guid: head.param("dataset_guid").filter(|g| !g.is_empty()).map(str::to_string),
            md5: digests.md5,
            mtime: std::time::SystemTime::now(),
            path,
        };
        let stored = st.store.images.get_mut(uuid).expect("looked up under the same lock");
        stored.file = Some(file);
        let body = self.serialize(stored, false);
        Ok(manifest_reply(body))
    }

    fn update_image(&self, uuid: &str, body: &mut Body) -> Result<Reply, ApiError> {
        let head = self.head;
        self.auth(true)?;
        self.valid_uuid(uuid)?;
        let channel = self.channel(false)?;
        let data = read_json(head, body)?;
        let action = head.param("action");
        match action {
            Some("import-remote") => return Err(ApiError::not_available("AdminImportRemoteImage")),
            Some("import") if head.param("source").is_some() => {
                return Err(ApiError::not_available("AdminImportImageFromSource"))
            }
            Some("import") => return self.import(uuid, data, channel),
            Some("import-from-datacenter") => return Err(ApiError::not_available("ImportFromDatacenter")),
            _ => {}
        }
        let mut st = self.state();
        let image = self.lookup(&st, uuid, channel.as_deref())?;
        if action == Some("change-stor") {
            return Err(ApiError::not_available("AdminChangeImageStor"));
        }
        self.ensure_owner(&image)?;
        let stored = st.store.images.get_mut(uuid).expect("looked up under the same lock");
        match action {
            Some("export") => Err(ApiError::not_available("ExportImage")),
            Some("activate") => {
                if stored.activated {
                    return Err(ApiError::image_already_activated(uuid));
                }
                if stored.file.is_none() {
                    return Err(ApiError::no_activation_no_file(uuid));
                }
                // An imported image keeps its `published_at`.
                if stored.published_at.is_none() {
                    stored.published_at = Some(store::iso_now());
                }
                stored.activated = true;
                Ok(manifest_reply(self.serialize(stored, false)))
            }
            Some(a @ ("enable" | "disable")) => {
                stored.disabled = a == "disable";
                Ok(manifest_reply(self.serialize(stored, false)))
            }
            // Without channels the action does not exist and falls through.
            Some("channel-add") if self.sh.channels.is_some() => {
                let chans = self.sh.channels.as_ref().expect("checked");
                let name = data.as_ref().and_then(|d| d.get("channel"));
                let name = match name.and_then(Value::as_str) {
                    Some(n) if chans.contains(n) => n.to_string(),
                    _ => return Err(channels::unknown(&js_str(name))),
                };
                let list = stored.channels.get_or_insert_with(Vec::new);
                if !list.contains(&name) {
                    list.push(name);
                }
                Ok(manifest_reply(self.serialize(stored, false)))
            }
            Some("update") => Err(ApiError::not_available("UpdateImage")),
            Some(a) => Err(ApiError::invalid_parameter(
                format!("\"{a}\" is not a valid action"),
                vec![ApiError::field("action", "Invalid")],
            )),
            None => Err(ApiError::invalid_parameter(
                "no image \"action\" was specified",
                vec![ApiError::field("action", "MissingParameter")],
            )),
        }
    }

    /// AdminImportImage (`apiAdminImportImage` and `Image.create(isImport)`).
    fn import(&self, uuid: &str, data: Option<Value>, channel: Option<String>) -> Result<Reply, ApiError> {
        let head = self.head;
        if head.param("account").is_some() {
            return Err(ApiError::operator_only());
        }
        let mut data = match data {
            Some(Value::Object(m)) => m,
            other => {
                let u = other.as_ref().and_then(|d| d.get("uuid")).cloned();
                return Err(uuid_mismatch(uuid, u.as_ref()));
            }
        };
        if data.get("uuid").and_then(Value::as_str) != Some(uuid) {
            return Err(uuid_mismatch(uuid, data.get("uuid")));
        }
        bool_param(head, "skip_owner_check", false)?;
        data.remove("channels");

        let mut st = self.state();
        if st.store.images.contains_key(uuid) {
            return Err(ApiError::image_uuid_already_exists(uuid));
        }
        let origin_image = match data.get("origin").filter(|o| store::truthy(Some(o))) {
            None => None,
            Some(o) => {
                let o = js_str(Some(o));
                match st.store.images.get(&o) {
                    Some(i) => Some(i.clone()),
                    None => return Err(ApiError::origin_does_not_exist(&o)),
                }
            }
        };
        // A server without a user database owns every image as nobody.
        data.insert("owner".into(), json!(UNSET_OWNER));
        lx_min_platform_workaround(head, &mut data, origin_image.as_ref());

        let published_at = match data.remove("published_at") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::String(s)) => Some(s),
            Some(v) if !store::truthy(Some(&v)) => None,
            Some(_) => {
                return Err(ApiError::invalid_parameter(
                    "invalid \"published_at\"",
                    vec![ApiError::field("published_at", "Invalid")],
                ))
            }
        };
        data.remove("uuid");
        let disabled = store::truthy(data.remove("disabled").as_ref());
        data.remove("files");
        data.remove("state");
        let zvol = data.get("type").and_then(Value::as_str) == Some("zvol");
        let extra: Vec<String> = data
            .keys()
            .filter(|k| {
                let zvol_only = matches!(k.as_str(), "nic_driver" | "disk_driver" | "cpu_type" | "image_size");
                !store::is_kept(k) || (zvol_only && !zvol)
            })
            .cloned()
            .collect();
        if !extra.is_empty() {
            return Err(ApiError::invalid_parameter(
                format!("invalid extra parameters: \"{}\"", extra.join("\", \"")),
                extra.iter().map(|f| ApiError::field(f, "Invalid")).collect(),
            ));
        }
        let public = store::truthy(data.get("public"));
        data.insert("public".into(), json!(public));
        let errs = validate(&data, uuid, published_at.as_deref(), self.public_mode());
        if !errs.is_empty() {
            let fields: Vec<&str> = errs.iter().filter_map(|e| e["field"].as_str()).collect();
            let message = format!("invalid image data: {}", fields.join(", "));
            return Err(ApiError::validation_failed(message, errs));
        }
        let seq = st.store.next_seq();
        let image = Image {
            uuid: uuid.to_string(),
            fields: data,
            activated: false,
            disabled,
            published_at,
            channels: channel.map(|c| vec![c]),
            file: None,
            seq,
        };
        let body = self.serialize(&image, false);
        st.store.images.insert(uuid.to_string(), image);
        Ok(manifest_reply(body))
    }

    fn delete_image(&self, uuid: &str) -> Result<Reply, ApiError> {
        self.auth(true)?;
        self.valid_uuid(uuid)?;
        let channel = self.channel(false)?;
        let mut st = self.state();
        let image = self.lookup(&st, uuid, channel.as_deref())?;
        self.ensure_owner(&image)?;
        let force_all = bool_param(self.head, "force_all_channels", false)?;
        let deps: Vec<String> = st
            .store
            .sorted()
            .into_iter()
            .filter(|i| i.origin() == Some(uuid) && channel.as_deref().is_none_or(|c| i.in_channel(c)))
            .map(|i| i.uuid.clone())
            .collect();
        if !deps.is_empty() {
            return Err(ApiError::image_has_dependent_images(uuid, &deps));
        }
        // In more than one channel: only leave the request's channel.
        let in_many = image.channels.as_ref().is_some_and(|c| c.len() > 1);
        match channel {
            Some(c) if in_many && !force_all => {
                let stored = st.store.images.get_mut(uuid).expect("looked up under the same lock");
                if let Some(list) = stored.channels.as_mut() {
                    list.retain(|n| *n != c);
                }
            }
            _ => {
                if let Some(removed) = st.store.images.remove(uuid) {
                    if let Some(f) = removed.file {
                        let _ = fs::remove_file(f.path);
                    }
                }
                st.faults.remove(uuid);
            }
        }
        Ok(Reply::NoContent)
    }
}

fn js_parse_int(v: Option<&str>) -> i64 {
    let Some(s) = v.map(str::trim) else { return 0 };
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let digits: String = digits.chars().take_while(char::is_ascii_digit).collect();
    let n: i64 = digits.parse().unwrap_or(0);
    if neg {
        -n
    } else {
        n
    }
}

fn uuid_mismatch(url: &str, body: Option<&Value>) -> ApiError {
    ApiError::invalid_parameter(
        format!("URL UUID, \"{url}\" and body UUID, \"{}\" do not match", js_str(body)),
        vec![ApiError::field("uuid", "Invalid")],
    )
}

/// restify's bodyParser: JSON only with `Content-Type: application/json`
/// and a body; otherwise there is no parsed body.
fn read_json(head: &RequestHead, body: &mut Body) -> Result<Option<Value>, ApiError> {
    let mut raw = Vec::new();
    body.take(MAX_JSON_BODY + 1)
        .read_to_end(&mut raw)
        .map_err(|e| ApiError::bad_request(format!("error reading the request body: {e}")))?;
    if raw.len() as u64 > MAX_JSON_BODY {
        return Err(ApiError::new(
            413,
            "RequestEntityTooLargeError",
            format!("Request body size exceeds {MAX_JSON_BODY}"),
        ));
    }
    let ctype = head.header("content-type").unwrap_or("application/octet-stream");
    let media = ctype.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if media != "application/json" || raw.is_empty() {
        return Ok(None);
    }
    serde_json::from_slice(&raw).map(Some).map_err(|e| ApiError::invalid_content(format!("Invalid JSON: {e}")))
}

/// IMGAPI-651: `imgadm publish` before 3.7.4 of an lx-dataset image inherits
/// the origin's `min_platform`, or loses its own without an origin.
fn lx_min_platform_workaround(head: &RequestHead, data: &mut Map<String, Value>, origin: Option<&Image>) {
    let Some(ua) = head.header("user-agent") else { return };
    let Some(ver) = ua.strip_prefix("imgadm/").and_then(|r| r.split_once(' ')).map(|(v, _)| v) else { return };
    if ver.is_empty() || !ver.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return;
    }
    let parts: Vec<u64> = ver.split('.').map(|p| p.parse().unwrap_or(0)).collect();
    let key = (parts.first().copied(), parts.get(1).copied(), parts.get(2).copied());
    let old = match key {
        (Some(a), Some(b), Some(c)) => (a, b, c) < (3, 7, 4),
        _ => false,
    };
    if !old || data.get("type").and_then(Value::as_str) != Some("lx-dataset") {
        return;
    }
    let Some(req) = data.get_mut("requirements").and_then(Value::as_object_mut) else { return };
    if !store::truthy(req.get("min_platform")) {
        return;
    }
    let inherited = origin.and_then(|o| o.fields.get("requirements")).and_then(|r| r.get("min_platform")).cloned();
    match inherited.filter(|m| store::truthy(Some(m))) {
        Some(m) => {
            req.insert("min_platform".into(), m);
        }
        None => {
            req.remove("min_platform");
        }
    }
}

/// The part of `imgmanifest.validatePublicManifest`/`validatePrivateManifest`
/// that an unactivated imported image can fail.
fn validate(data: &Map<String, Value>, uuid: &str, published_at: Option<&str>, public_mode: bool) -> Vec<Value> {
    let mut errs = Vec::new();
    let missing = |f: &str| ApiError::field(f, "MissingParameter");
    let invalid = |f: &str, m: String| json!({"field": f, "code": "Invalid", "message": m});
    match data.get("v") {
        None => errs.push(missing("v")),
        Some(v) => {
            let n = match v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            };
            if !n.is_some_and(|n| n >= 0.0) {
                errs.push(invalid("v", "\"v\" must be a positive integer".into()));
            }
        }
    }
    if !is_uuid(uuid) {
        errs.push(ApiError::field("uuid", "Invalid"));
    }
    let text = |f: &str, max: usize, ok: fn(char) -> bool, chars: &str, errs: &mut Vec<Value>| match data.get(f) {
        None => errs.push(missing(f)),
        Some(v) => {
            let s = js_str(Some(v));
            if s.chars().count() > max {
                errs.push(invalid(f, format!("image {f} is too long, max {max} characters")));
            } else if s.is_empty() || !s.chars().all(ok) {
                errs.push(invalid(
                    f,
                    format!("image {f} has invalid characters (only alpha-numeric characters and {chars} are allowed)"),
                ));
            }
        }
    };
    text(
        "name",
        1024,
        |c| c.is_ascii_alphanumeric() || " ._/-".contains(c),
        "\" \", \".\", \"-\", \"_\" and \"/\"",
        &mut errs,
    );
    text(
        "version",
        512,
        |c| c.is_ascii_alphanumeric() || "._/+-".contains(c),
        "\".\", \"-\", \"_\" and \"/\"",
        &mut errs,
    );
    if let Some(p) = published_at {
        if !published_at_ok(p) {
            errs.push(invalid("published_at", "published_at date not in \"YYYY-MM-DDTHH:MM:SS(.SSS)Z\" format".into()));
        }
    }
    let public = data.get("public").and_then(Value::as_bool).unwrap_or(false);
    if public_mode && !public {
        errs.push(invalid("public", "private images are not allowed on a public Images API".into()));
    } else if !public_mode && public {
        errs.push(invalid("public", "public images are not allowed on a private Images API".into()));
    }
    let one_of = |f: &str, valid: &[&str], errs: &mut Vec<Value>| match data.get(f) {
        None => errs.push(missing(f)),
        Some(v) => {
            let s = js_str(Some(v));
            if s == "null" {
                errs.push(invalid(f, format!("invalid image {f}, \"null\"")));
            } else if !valid.contains(&s.as_str()) {
                errs.push(invalid(f, format!("invalid image {f}, \"{s}\", must be one of: {}", valid.join(", "))));
            }
        }
    };
    one_of("type", &["zone-dataset", "zvol", "lx-dataset", "lxd", "docker", "other"], &mut errs);
    one_of("os", &["smartos", "linux", "windows", "bsd", "illumos", "other"], &mut errs);
    errs
}

/// `/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/`
fn published_at_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let shape = |pat: &[u8]| {
        b.len() == pat.len() && b.iter().zip(pat).all(|(c, p)| if *p == b'd' { c.is_ascii_digit() } else { c == p })
    };
    shape(b"dddd-dd-ddTdd:dd:ddZ") || shape(b"dddd-dd-ddTdd:dd:dd.dddZ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments() {
        assert_eq!(segments("/images/").unwrap(), vec!["images", ""]);
        assert_eq!(segments("//images//x/file").unwrap(), vec!["images", "x", "file"]);
        assert_eq!(segments("/").unwrap(), vec![""]);
        assert!(segments("images").is_none());
    }

    #[test]
    fn published_at_shape() {
        assert!(published_at_ok("2018-10-11T12:13:14.123Z"));
        assert!(published_at_ok("2018-10-11T12:13:14Z"));
        assert!(!published_at_ok("2018-10-11T12:13:14.1Z"));
    }
}
