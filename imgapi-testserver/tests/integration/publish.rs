//! AdminImportImage, AddImageFile, ActivateImage, DeleteImage, fail_next:
//! what `buildy publish` goes through.

use std::io::{BufReader, Write};

use imgapi_testserver::{Config, Mode, Server};
use serde_json::json;

use crate::util::*;

const U: &str = "f3078f0c-a53b-4140-b7af-fbb6308a8e35";
const ORIGIN: &str = "0ee8bb1c-0000-4000-8000-000000000001";

fn import(s: &Server, uuid: &str, m: &serde_json::Value) -> Resp {
    post_json(s, &format!("/images/{uuid}?action=import"), m)
}

fn put_file(s: &Server, uuid: &str, query: &str, content: &[u8]) -> Resp {
    send(
        s,
        "PUT",
        &format!("/images/{uuid}/file?{query}"),
        &[("Content-Type", "application/octet-stream")],
        Some(content),
    )
}

#[test]
fn import_add_file_activate() {
    let s = Server::start(Config::default()).unwrap();
    let content = bytes(300_000);
    let sha1 = sha1_hex(&content);

    let r = import(&s, U, &manifest(U));
    assert_eq!(r.status, 200, "{:?}", r.json());
    let m = r.json();
    assert_eq!(m["state"], "unactivated");
    assert_eq!(m["published_at"], "2018-10-11T12:13:14.123Z", "import keeps published_at");
    assert_eq!(m["owner"], "00000000-0000-0000-0000-000000000000", "a standalone server owns images as nobody");
    assert_eq!(m["files"], json!([]));

    let r = send(&s, "POST", &format!("/images/{U}?action=activate"), &[], None);
    assert_eq!(r.error(), (422, "NoActivationNoFile".into()));
    assert_eq!(r.json()["message"], format!("image \"{U}\" cannot be activated: it has no file"));

    let r = put_file(&s, U, &format!("compression=gzip&sha1={sha1}&dataset_guid=123"), &content);
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(
        r.json()["files"],
        json!([{"sha1": sha1, "size": 300_000, "compression": "gzip", "dataset_guid": "123"}])
    );
    assert_eq!(s.file(U).unwrap(), content);

    let r = send(&s, "POST", &format!("/images/{U}?action=activate"), &[], None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["state"], "active");
    assert_eq!(s.manifest(U).unwrap()["published_at"], "2018-10-11T12:13:14.123Z");
    let r = send(&s, "POST", &format!("/images/{U}?action=activate"), &[], None);
    assert_eq!(r.error(), (422, "ImageAlreadyActivated".into()));
    let r = put_file(&s, U, "compression=gzip", &content);
    assert_eq!(r.error(), (422, "ImageFilesImmutable".into()));

    // Downloads give back what was uploaded.
    let r = get(&s, &format!("/images/{U}/file"));
    assert_eq!(sha1_hex(&r.body), sha1);
}

#[test]
fn activate_sets_published_at_when_unset() {
    let s = Server::start(Config::default()).unwrap();
    let mut m = manifest(U);
    m.as_object_mut().unwrap().remove("published_at");
    assert_eq!(import(&s, U, &m).status, 200);
    assert!(s.manifest(U).unwrap().get("published_at").is_none());
    assert_eq!(put_file(&s, U, "compression=none", b"abc").status, 200);
    let r = send(&s, "POST", &format!("/images/{U}?action=activate"), &[], None);
    let p = r.json()["published_at"].as_str().unwrap().to_string();
    assert!(p.len() == 24 && p.ends_with('Z'), "{p}");
}

#[test]
fn import_refusals() {
    let s = Server::start(Config::default()).unwrap();
    assert_eq!(import(&s, U, &manifest(U)).status, 200);

    let r = import(&s, U, &manifest(U));
    assert_eq!(
        r.json(),
        json!({"code": "ImageUuidAlreadyExists", "message": format!("image uuid \"{U}\" already exists")})
    );
    assert_eq!(r.status, 409);

    let other = "99999999-9999-4999-8999-999999999999";
    let mut m = manifest(other);
    m["origin"] = json!(ORIGIN);
    let r = import(&s, other, &m);
    assert_eq!(r.error(), (422, "OriginDoesNotExist".into()));
    assert_eq!(r.json()["message"], format!("origin image \"{ORIGIN}\" does not exist"));

    let r = import(&s, other, &manifest(U));
    assert_eq!(r.error(), (422, "InvalidParameter".into()));
    assert_eq!(r.json()["message"], format!("URL UUID, \"{other}\" and body UUID, \"{U}\" do not match"));
    assert_eq!(r.json()["errors"], json!([{"field": "uuid", "code": "Invalid"}]));

    // Fields an image does not take (an installed image's `activated`).
    let mut m = manifest(other);
    m["activated"] = json!(true);
    let r = import(&s, other, &m);
    assert_eq!(r.json()["message"], "invalid extra parameters: \"activated\"");

    // A public-mode server takes public images only; a private one the reverse.
    let mut m = manifest(other);
    m["public"] = json!(false);
    let r = import(&s, other, &m);
    assert_eq!(r.error(), (422, "ValidationFailed".into()));
    assert_eq!(r.json()["message"], "invalid image data: public");
    s.set_mode(Mode::Private);
    assert_eq!(import(&s, other, &m).status, 200);

    let r =
        send(&s, "POST", &format!("/images/{U}?action=import"), &[("Content-Type", "application/json")], Some(b"{"));
    assert_eq!(r.error(), (400, "InvalidContent".into()));
    let r = send(&s, "POST", &format!("/images/{U}?action=frobnicate"), &[], None);
    assert_eq!(r.json()["message"], "\"frobnicate\" is not a valid action");
}

#[test]
fn add_image_file_refusals() {
    let s = Server::start(Config::default()).unwrap();
    assert_eq!(import(&s, U, &manifest(U)).status, 200);
    let r = put_file(&s, U, "", b"abc");
    assert_eq!(r.error(), (422, "InvalidParameter".into()));
    assert_eq!(r.json()["message"], "missing \"compression\"");
    let r = put_file(&s, U, "compression=zstd", b"abc");
    assert_eq!(r.json()["message"], "invalid compression \"zstd\" (must be one of gzip, bzip2, xz, none)");
    let r = put_file(&s, U, "compression=none&sha1=0000000000000000000000000000000000000000", b"abc");
    assert_eq!(r.error(), (400, "Download".into()));
    assert_eq!(
        r.json()["message"],
        format!(
            "\"sha1\" hash, 0000000000000000000000000000000000000000, does not match the uploaded file sha1 hash, {}",
            sha1_hex(b"abc")
        )
    );
    // No body: no Content-Length is an empty body to the real server too.
    let r = send(&s, "PUT", &format!("/images/{U}/file?compression=none"), &[], None);
    assert_eq!(r.error(), (400, "Download".into()));
    assert_eq!(r.json()["message"], "image file size is 0 bytes, empty files are not allowed");
    assert!(s.manifest(U).unwrap()["files"].as_array().unwrap().is_empty());
    let r = put_file(&s, "99999999-9999-4999-8999-999999999999", "compression=none", b"abc");
    assert_eq!(r.error(), (404, "ResourceNotFound".into()));
}

#[test]
fn add_image_file_chunked_with_expect_continue() {
    let s = Server::start(Config::default()).unwrap();
    assert_eq!(import(&s, U, &manifest(U)).status, 200);
    let mut conn = connect(&s);
    write!(
        conn,
        "PUT /images/{U}/file?compression=xz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\
         Expect: 100-continue\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut r = BufReader::new(conn.try_clone().unwrap());
    let (status, _) = read_head(&mut r);
    assert_eq!(status, 100);
    conn.write_all(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n").unwrap();
    let resp = read_response(&mut r, "PUT");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["files"][0]["size"], 11);
    assert_eq!(s.file(U).unwrap(), b"hello world");
}

#[test]
fn delete_image() {
    let s = Server::start(Config::default()).unwrap();
    seed(&s, ORIGIN, b"base", &[]);
    let mut m = manifest(U);
    m["origin"] = json!(ORIGIN);
    assert_eq!(import(&s, U, &m).status, 200);

    let r = send(&s, "DELETE", &format!("/images/{ORIGIN}"), &[], None);
    assert_eq!(r.error(), (422, "ImageHasDependentImages".into()));
    assert_eq!(r.json()["message"], format!("image \"{ORIGIN}\" has 1 dependent incremental image(s): {U}"));

    let r = send(&s, "DELETE", &format!("/images/{U}"), &[], None);
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty() && r.header("content-length").is_none());
    assert!(s.manifest(U).is_none());
    assert_eq!(send(&s, "DELETE", &format!("/images/{ORIGIN}"), &[], None).status, 204);
    assert_eq!(get(&s, &format!("/images/{ORIGIN}")).status, 404);
}

#[test]
fn fail_next_answers_once_then_the_rollback_delete_is_seen() {
    let s = Server::start(Config::default()).unwrap();
    assert_eq!(import(&s, U, &manifest(U)).status, 200);
    s.fail_next("PUT", "/file", 503, "StorageIsDown");
    let r = put_file(&s, U, "compression=none", &bytes(50_000));
    assert_eq!(r.error(), (503, "StorageIsDown".into()));
    // The body was read off, so the client saw the answer; nothing was stored.
    assert!(s.manifest(U).unwrap()["files"].as_array().unwrap().is_empty());
    assert_eq!(send(&s, "DELETE", &format!("/images/{U}"), &[], None).status, 204);
    let reqs = s.requests();
    let last = reqs.last().unwrap();
    assert_eq!((last.method.as_str(), last.path.as_str()), ("DELETE", format!("/images/{U}").as_str()));
    // Only the next one.
    assert_eq!(import(&s, U, &manifest(U)).status, 200);
    assert_eq!(put_file(&s, U, "compression=none", b"ok").status, 200);
}
