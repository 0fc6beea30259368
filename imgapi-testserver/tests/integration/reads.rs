//! Ping, GetImage, GetImageFile, ListImages: statuses, headers, bodies.

use std::io::BufReader;

use imgapi_testserver::{Config, Server};
use serde_json::json;

use crate::util::*;

const A: &str = "aaaaaaaa-1111-4111-8111-111111111111";
const B: &str = "bbbbbbbb-2222-4222-8222-222222222222";

#[test]
fn ping_answers_pong_with_imgapi_headers() {
    let s = Server::start(Config::default()).unwrap();
    let r = get(&s, "/ping");
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"ping": "pong", "version": "4.13.1", "imgapi": true}));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("server"), Some("imgapi/4.13.1"));
    assert!(r.header("date").is_some() && r.header("x-request-id").is_some());
    // IMGAPI indents its JSON by two.
    assert!(String::from_utf8(r.body).unwrap().starts_with("{\n  \"ping\": \"pong\""));
}

#[test]
fn get_image_and_its_not_found_answers() {
    let s = Server::start(Config::default()).unwrap();
    seed(&s, A, b"hello", &[]);
    let r = get(&s, &format!("/images/{A}"));
    assert_eq!(r.status, 200);
    let m = r.json();
    assert_eq!(m["uuid"], A);
    assert_eq!(m["state"], "active");
    // A server without a user database: the owner as given was seeded as is.
    assert_eq!(m["files"][0]["size"], 5);
    assert_eq!(r.header("etag").map(str::len), Some(40));

    let r = get(&s, &format!("/images/{B}"));
    assert_eq!(r.error(), (404, "ResourceNotFound".into()));
    assert_eq!(r.json()["message"], format!("image {B} not found"));

    // Not a UUID: the route's own 404, quoting the URL with its query.
    let r = get(&s, "/images/not-a-uuid?x=1");
    assert_eq!(r.error(), (404, "ResourceNotFound".into()));
    assert_eq!(r.json()["message"], "/images/not-a-uuid?x=1 does not exist");

    let r = get(&s, "/nowhere");
    assert_eq!(r.json(), json!({"code": "ResourceNotFound", "message": "/nowhere does not exist"}));
}

#[test]
fn get_image_file_headers_and_range_ignored() {
    let s = Server::start(Config::default()).unwrap();
    let content = bytes(100_000);
    seed(&s, A, &content, &[]);
    for headers in [vec![("Accept-Version", "~2")], vec![("Range", "bytes=10-20")]] {
        let r = send(&s, "GET", &format!("/images/{A}/file"), &headers, None);
        assert_eq!(r.status, 200, "a Range header is ignored");
        assert_eq!(r.body, content);
        assert_eq!(r.header("content-length"), Some("100000"));
        assert_eq!(r.header("content-type"), Some("application/octet-stream"));
        assert_eq!(r.header("content-md5"), Some(md5_b64(&content).as_str()));
        assert_eq!(r.header("etag"), Some(sha1_hex(&content).as_str()));
        assert!(r.header("last-modified").is_some_and(|d| d.ends_with(" GMT")));
        assert!(r.header("content-range").is_none());
    }
}

#[test]
fn head_is_405_with_the_routes_methods() {
    let s = Server::start(Config::default()).unwrap();
    seed(&s, A, b"x", &[]);
    for (path, allow) in [
        (format!("/images/{A}/file"), "PUT, GET"),
        (format!("/images/{A}"), "GET, POST, DELETE"),
        ("/images".to_string(), "GET, POST"),
        ("/ping".to_string(), "GET"),
    ] {
        let r = send(&s, "HEAD", &path, &[], None);
        assert_eq!(r.status, 405, "{path}");
        assert_eq!(r.header("allow"), Some(allow), "{path}");
        assert!(r.body.is_empty(), "HEAD answers carry no body");
    }
    // Same answer, with its body, for another method a route lacks.
    let r = send(&s, "PATCH", "/images", &[], None);
    assert_eq!(r.json(), json!({"code": "MethodNotAllowedError", "message": "PATCH is not allowed"}));
}

#[test]
fn accept_version_ranges_and_the_channels_field() {
    let s =
        Server::start(Config { channels: Some(imgapi_testserver::Channels::standard()), ..Config::default() }).unwrap();
    seed(&s, A, b"x", &[]);
    let path = format!("/images/{A}");
    for v in ["~2", "*", "2.x", ">=1", "^2.0.0"] {
        let r = send(&s, "GET", &path, &[("Accept-Version", v)], None);
        assert_eq!(r.status, 200, "{v}");
        assert_eq!(r.json()["channels"], json!(["dev"]), "{v}");
    }
    // No header is ~1: no channels field.
    let r = send(&s, "GET", &path, &[], None);
    assert_eq!(r.status, 200);
    assert!(r.json().get("channels").is_none());
    let r = send(&s, "GET", &path, &[("Accept-Version", "~1")], None);
    assert!(r.json().get("channels").is_none());
    let r = send(&s, "GET", &path, &[("Accept-Version", "~9")], None);
    assert_eq!(r.error(), (400, "InvalidVersion".into()));
    assert_eq!(r.json()["message"], format!("~9 is not supported by GET {path}"));
}

#[test]
fn list_images_filters() {
    let s = Server::start(Config::default()).unwrap();
    let dir = TempDir::new("list");
    let f = dir.file("f", b"data");
    for (uuid, name, version, published) in
        [(A, "base-64", "1.0.0", "2020-01-01T00:00:00.000Z"), (B, "minimal-64", "2.0.0", "2021-01-01T00:00:00.000Z")]
    {
        let mut m = manifest(uuid);
        m["name"] = json!(name);
        m["version"] = json!(version);
        m["published_at"] = json!(published);
        s.add_image(m, &f, &[]);
    }
    // One unactivated image, imported.
    let c = "cccccccc-3333-4333-8333-333333333333";
    assert_eq!(post_json(&s, &format!("/images/{c}?action=import"), &manifest(c)).status, 200);

    let uuids = |target: &str| -> Vec<String> {
        let r = get(&s, target);
        assert_eq!(r.status, 200, "{target}: {:?}", String::from_utf8_lossy(&r.body));
        r.json().as_array().unwrap().iter().map(|m| m["uuid"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(uuids("/images"), [A, B], "active only, by published_at");
    assert_eq!(uuids("/images?state=all"), [A, B], "unauthenticated: still active only");
    assert!(uuids("/images?state=unactivated").is_empty());
    assert_eq!(uuids("/images?name=base-64"), [A]);
    assert_eq!(uuids("/images?name=~64"), [A, B]);
    assert_eq!(uuids("/images?version=2.0.0"), [B]);
    assert_eq!(uuids("/images?limit=1"), [A]);
    assert_eq!(uuids(&format!("/images?marker={B}")), [B], "the marker's own date is included");
    assert_eq!(uuids("/images?marker=2020-06-01T00:00:00Z"), [B]);
    assert_eq!(uuids("/images?sort=published_at.DESC"), [B, A]);
    assert_eq!(uuids("/images?tag.role=os"), [A, B]);
    assert!(uuids("/images?tag.role=db").is_empty());
    let r = get(&s, "/images?state=bogus");
    assert_eq!(r.error(), (422, "InvalidParameter".into()));
    assert_eq!(r.json()["message"], "invalid state: \"bogus\"");
}

#[test]
fn keep_alive_carries_several_requests() {
    let s = Server::start(Config::default()).unwrap();
    seed(&s, A, b"abc", &[]);
    let mut conn = connect(&s);
    let mut r = BufReader::new(conn.try_clone().unwrap());
    for _ in 0..3 {
        write_request(&mut conn, "GET", &format!("/images/{A}/file"), &[], None);
        let resp = read_response(&mut r, "GET");
        assert_eq!((resp.status, resp.body.as_slice()), (200, &b"abc"[..]));
        assert_eq!(resp.header("connection"), Some("keep-alive"));
    }
    write_request(&mut conn, "GET", "/ping", &[("Connection", "close")], None);
    let resp = read_response(&mut r, "GET");
    assert_eq!(resp.header("connection"), Some("close"));
    assert_eq!(s.requests().len(), 4);
}

#[test]
fn requests_are_recorded_in_order() {
    let s = Server::start(Config::default()).unwrap();
    send(&s, "GET", "/ping?a=1&b=x%20y", &[("User-Agent", "buildy/0.1.0"), ("Accept-Version", "~2")], None);
    send(&s, "DELETE", &format!("/images/{A}"), &[], None);
    let reqs = s.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!((reqs[0].method.as_str(), reqs[0].path.as_str()), ("GET", "/ping"));
    assert_eq!(reqs[0].query, vec![("a".into(), "1".into()), ("b".into(), "x y".into())]);
    assert_eq!(reqs[0].header("user-agent"), Some("buildy/0.1.0"));
    assert_eq!(reqs[0].header("accept-version"), Some("~2"));
    assert_eq!((reqs[1].method.as_str(), reqs[1].path.as_str()), ("DELETE", format!("/images/{A}").as_str()));
}
