//! HTTP Signature auth with a key made by ssh-keygen and signatures made
//! here with the `rsa` crate.

use std::process::Command;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use imgapi_testserver::{Config, Server, User};
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding as _, Signer as _};
use rsa::{BigUint, RsaPrivateKey};
use serde_json::json;

use crate::util::*;

const U: &str = "a0742000-1111-4111-8111-111111111111";

/// A fresh 2048-bit RSA key: (OpenSSH public line, private key).
fn keypair(dir: &TempDir, name: &str) -> (String, RsaPrivateKey) {
    let path = dir.path().join(name);
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "rsa", "-b", "2048", "-N", "", "-f"])
        .arg(&path)
        .status()
        .expect("ssh-keygen is installed");
    assert!(st.success());
    let public = std::fs::read_to_string(path.with_extension("pub")).unwrap();
    let private = ssh_key::PrivateKey::from_openssh(std::fs::read_to_string(&path).unwrap()).unwrap();
    let k = private.key_data().rsa().unwrap();
    // By hand: ssh-key 0.6.7's own conversion passes p twice instead of p, q.
    let big = |m: &ssh_key::Mpint| BigUint::from_bytes_be(m.as_positive_bytes().unwrap());
    let rsa = RsaPrivateKey::from_components(
        big(&k.public.n),
        big(&k.public.e),
        big(&k.private.d),
        vec![big(&k.private.p), big(&k.private.q)],
    )
    .unwrap();
    (public, rsa)
}

fn sign(key: &RsaPrivateKey, alg: &str, text: &str) -> String {
    let sig = match alg {
        "rsa-sha1" => SigningKey::<sha1::Sha1>::new(key.clone()).sign(text.as_bytes()).to_vec(),
        _ => SigningKey::<sha2::Sha256>::new(key.clone()).sign(text.as_bytes()).to_vec(),
    };
    base64::engine::general_purpose::STANDARD.encode(sig)
}

/// `Date` and `Authorization` as sdc-clients' IMGAPI client sends them.
fn auth_headers(login: &str, key: &RsaPrivateKey, alg: &str, at: SystemTime) -> Vec<(String, String)> {
    let date = httpdate::fmt_http_date(at);
    let sig = sign(key, alg, &format!("date: {date}"));
    vec![
        ("Date".into(), date),
        ("Authorization".into(), format!("Signature keyId=\"{login}\",algorithm=\"{alg}\",signature=\"{sig}\"")),
    ]
}

fn send_with(s: &Server, method: &str, target: &str, extra: &[(String, String)], body: Option<&[u8]>) -> Resp {
    let mut headers: Vec<(&str, &str)> = vec![("Content-Type", "application/json"), ("Accept-Version", "~2")];
    headers.extend(extra.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    send(s, method, target, &headers, body)
}

#[test]
fn signed_writes_pass_and_unsigned_or_badly_signed_get_401() {
    let dir = TempDir::new("auth");
    let (public, key) = keypair(&dir, "key");
    let (_, other_key) = keypair(&dir, "other");
    let s = Server::start(Config {
        users: vec![User { login: "builder".into(), public_key: public }],
        require_signatures: true,
        ..Config::default()
    })
    .unwrap();
    let now = SystemTime::now();
    let body = manifest(U).to_string();
    let import = format!("/images/{U}?action=import");

    let unauthorized = json!({"code": "UnauthorizedError", "message": "Unauthorized"});
    let r = send_with(&s, "POST", &import, &[], Some(body.as_bytes()));
    assert_eq!((r.status, r.json()), (401, unauthorized.clone()));
    let r =
        send_with(&s, "POST", &import, &auth_headers("builder", &other_key, "rsa-sha256", now), Some(body.as_bytes()));
    assert_eq!((r.status, r.json()), (401, unauthorized.clone()), "signed with a key the user does not have");
    let r = send_with(&s, "POST", &import, &auth_headers("nobody", &key, "rsa-sha256", now), Some(body.as_bytes()));
    assert_eq!((r.status, r.json()), (401, unauthorized.clone()), "unknown keyId");
    let mut forged = auth_headers("builder", &key, "rsa-sha256", now);
    forged[0].1 = httpdate::fmt_http_date(now - Duration::from_secs(5));
    let r = send_with(&s, "POST", &import, &forged, Some(body.as_bytes()));
    assert_eq!((r.status, r.json()), (401, unauthorized.clone()), "signature over another date");
    let r = send_with(&s, "POST", &import, &auth_headers("builder", &key, "rsa-sha512", now), Some(body.as_bytes()));
    assert_eq!(
        r.json()["message"],
        "Unauthorized (\"RSA-SHA512\" is not a supported http-signature signing algorithm)"
    );
    let old = now - Duration::from_secs(3600);
    let r = send_with(&s, "POST", &import, &auth_headers("builder", &key, "rsa-sha256", old), Some(body.as_bytes()));
    assert_eq!(r.status, 401);
    let msg = r.json()["message"].as_str().unwrap().to_string();
    assert!(msg.starts_with("clock skew of 360") && msg.ends_with("s was greater than 300s"), "{msg}");
    assert!(s.manifest(U).is_none(), "nothing was imported");

    let r = send_with(&s, "POST", &import, &auth_headers("builder", &key, "rsa-sha256", now), Some(body.as_bytes()));
    assert_eq!(r.status, 200, "{:?}", r.json());
    // rsa-sha1 is accepted too.
    let put = format!("/images/{U}/file?compression=none");
    assert_eq!(send_with(&s, "PUT", &put, &[], Some(b"data")).status, 401);
    let r = send_with(&s, "PUT", &put, &auth_headers("builder", &key, "rsa-sha1", now), Some(b"data"));
    assert_eq!(r.status, 200, "{:?}", r.json());
    let activate = format!("/images/{U}?action=activate");
    assert_eq!(send_with(&s, "POST", &activate, &[], None).status, 401);
    assert_eq!(send_with(&s, "POST", &activate, &auth_headers("builder", &key, "rsa-sha256", now), None).status, 200);

    // Reads stay open; a signed ping says who it was.
    assert_eq!(get(&s, &format!("/images/{U}")).status, 200);
    assert_eq!(get(&s, &format!("/images/{U}/file")).body, b"data");
    assert_eq!(get(&s, "/images").json().as_array().unwrap().len(), 1);
    let r = send_with(&s, "GET", "/ping", &auth_headers("builder", &key, "rsa-sha256", now), None);
    assert_eq!(r.json()["user"], "builder");
    // A read that carries a bad signature is refused, not read anonymously.
    let r = send_with(&s, "GET", "/ping", &auth_headers("builder", &other_key, "rsa-sha256", now), None);
    assert_eq!(r.status, 401);

    let del = format!("/images/{U}");
    assert_eq!(send_with(&s, "DELETE", &del, &[], None).status, 401);
    assert_eq!(send_with(&s, "DELETE", &del, &auth_headers("builder", &key, "rsa-sha256", now), None).status, 204);
}

#[test]
fn without_require_signatures_nothing_is_checked() {
    let s = Server::start(Config::default()).unwrap();
    let bogus = vec![("Authorization".to_string(), "Signature garbage".to_string())];
    let r =
        send_with(&s, "POST", &format!("/images/{U}?action=import"), &bogus, Some(manifest(U).to_string().as_bytes()));
    assert_eq!(r.status, 200);
}
