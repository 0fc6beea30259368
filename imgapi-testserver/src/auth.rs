//! HTTP Signature auth as standalone sdc-imgapi does it (`authType:
//! "signature"`, `getAuthMiddleware` in `lib/app.js`) with the
//! `http-signature` 0.10.0 parser: `keyId` is the user's login, and the
//! signature is checked against each of that login's SSH keys. Every failure
//! is restify's 401 `UnauthorizedError`.

use std::collections::HashMap;
use std::time::SystemTime;

use base64::Engine as _;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier as _;
use rsa::RsaPublicKey;

use crate::errors::ApiError;
use crate::http::RequestHead;

/// The algorithms `http-signature` 0.10.0 parses.
const PARSED: [&str; 7] =
    ["rsa-sha1", "rsa-sha256", "rsa-sha512", "dsa-sha1", "hmac-sha1", "hmac-sha256", "hmac-sha512"];
/// The ones sdc-imgapi accepts (no HMAC: node-http-signature#40).
const VALID: [&str; 3] = ["RSA-SHA1", "RSA-SHA256", "DSA-SHA1"];
/// `http-signature`'s default allowed clock skew, seconds.
const CLOCK_SKEW: f64 = 300.0;

/// Login to RSA public keys. Keys that do not parse are left out, as the real
/// server skips ("bad ssh key") keys it cannot turn into PEM.
#[derive(Default)]
pub(crate) struct Keys(HashMap<String, Vec<RsaPublicKey>>);

impl Keys {
    pub(crate) fn new(users: &[crate::User]) -> Keys {
        let mut keys: HashMap<String, Vec<RsaPublicKey>> = HashMap::new();
        for u in users {
            let entry = keys.entry(u.login.clone()).or_default();
            if let Some(k) = parse_rsa(&u.public_key) {
                entry.push(k);
            }
        }
        Keys(keys)
    }
}

fn parse_rsa(openssh: &str) -> Option<RsaPublicKey> {
    let key = ssh_key::PublicKey::from_openssh(openssh.trim()).ok()?;
    let rsa = key.key_data().rsa()?;
    RsaPublicKey::try_from(rsa).ok()
}

/// Checks a request's signature. `strict`: a request without
/// `Authorization` is refused (writes); otherwise it passes unauthenticated
/// (reads). Returns the authenticated login.
pub(crate) fn check(keys: &Keys, req: &RequestHead, strict: bool) -> Result<Option<String>, ApiError> {
    if req.header("authorization").is_none() {
        return if strict { Err(ApiError::unauthorized("Unauthorized")) } else { Ok(None) };
    }
    let sig = parse(req).map_err(ApiError::unauthorized)?;
    let alg = sig.algorithm.to_ascii_uppercase();
    if !VALID.contains(&alg.as_str()) {
        return Err(ApiError::unauthorized(format!(
            "Unauthorized (\"{alg}\" is not a supported http-signature signing algorithm)"
        )));
    }
    let Some(candidates) = keys.0.get(&sig.key_id) else { return Err(ApiError::unauthorized("Unauthorized")) };
    // Node's base64 decoding is lenient; a signature that is not base64 at
    // all simply fails to verify.
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(sig.signature.as_bytes()) else {
        return Err(ApiError::unauthorized("Unauthorized"));
    };
    let Ok(signature) = Signature::try_from(raw.as_slice()) else {
        return Err(ApiError::unauthorized("Unauthorized"));
    };
    let msg = sig.signing_string.as_bytes();
    for key in candidates {
        let ok = match alg.as_str() {
            "RSA-SHA256" => VerifyingKey::<sha2::Sha256>::new(key.clone()).verify(msg, &signature).is_ok(),
            "RSA-SHA1" => VerifyingKey::<sha1::Sha1>::new(key.clone()).verify(msg, &signature).is_ok(),
            // An RSA key cannot check a DSA signature.
            _ => false,
        };
        if ok {
            return Ok(Some(sig.key_id));
        }
    }
    Err(ApiError::unauthorized("Unauthorized"))
}

struct Parsed {
    key_id: String,
    algorithm: String,
    signature: String,
    signing_string: String,
}

/// `http-signature` 0.10.0 `parseRequest`, with its messages: the scheme up
/// to the first space, then `name="value"` pairs separated by bare commas.
fn parse(req: &RequestHead) -> Result<Parsed, String> {
    let authz = req.header("authorization").unwrap_or_default();
    let (scheme, rest) = match authz.split_once(' ') {
        Some((s, r)) => (s, Some(r)),
        None => (authz, None),
    };
    let mut params: HashMap<String, String> = HashMap::new();
    if let Some(rest) = rest {
        #[derive(PartialEq)]
        enum St {
            Name,
            Quote,
            Value,
            Comma,
        }
        let (mut st, mut name, mut value) = (St::Name, String::new(), String::new());
        for c in rest.chars() {
            match st {
                St::Name if c.is_ascii_alphabetic() => name.push(c),
                St::Name if c == '=' && !name.is_empty() => st = St::Quote,
                St::Quote if c == '"' => {
                    value.clear();
                    st = St::Value;
                }
                St::Value if c == '"' => {
                    params.insert(name.clone(), value.clone());
                    st = St::Comma;
                }
                St::Value => value.push(c),
                St::Comma if c == ',' => {
                    name.clear();
                    st = St::Name;
                }
                _ => return Err("bad param format".into()),
            }
        }
    }
    let date_header = if req.header("x-date").is_some() { "x-date" } else { "date" };
    let headers: Vec<String> = match params.get("headers").filter(|h| !h.is_empty()) {
        Some(h) => h.split(' ').map(str::to_ascii_lowercase).collect(),
        None => vec![date_header.to_string()],
    };
    if scheme != "Signature" {
        return Err("scheme was not \"Signature\"".into());
    }
    let get = |k: &str| params.get(k).filter(|v| !v.is_empty()).cloned();
    let key_id = get("keyId").ok_or("keyId was not specified")?;
    let algorithm = get("algorithm").ok_or("algorithm was not specified")?.to_ascii_lowercase();
    let signature = get("signature").ok_or("signature was not specified")?;
    if !PARSED.contains(&algorithm.as_str()) {
        return Err(format!("{algorithm} is not supported"));
    }
    let mut lines = Vec::new();
    for h in &headers {
        if h == "request-line" {
            lines.push(format!("{} {} HTTP/1.{}", req.method, req.target, req.minor));
        } else {
            match req.header(h).filter(|v| !v.is_empty()) {
                Some(v) => lines.push(format!("{h}: {v}")),
                None => return Err(format!("{h} was not in the request")),
            }
        }
    }
    if let Some(date) = req.header("x-date").or(req.header("date")) {
        // An unparseable date is NaN in JavaScript, and NaN is never over the
        // limit: it passes.
        if let Ok(t) = httpdate::parse_http_date(date) {
            let skew = match SystemTime::now().duration_since(t) {
                Ok(d) => d,
                Err(e) => e.duration(),
            };
            let skew = skew.as_millis() as f64 / 1000.0;
            if skew > CLOCK_SKEW {
                return Err(format!("clock skew of {skew}s was greater than {CLOCK_SKEW}s"));
            }
        }
    }
    if !headers.iter().any(|h| h == date_header) {
        return Err(format!("{date_header} was not a signed header"));
    }
    Ok(Parsed { key_id, algorithm, signature, signing_string: lines.join("\n") })
}
