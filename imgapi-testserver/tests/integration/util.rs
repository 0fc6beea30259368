//! A plain HTTP/1.1 client on `TcpStream`, written here so the tests see the
//! bytes the server sends, and helpers to seed images.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use imgapi_testserver::Server;
use md5::Md5;
use serde_json::{json, Value};
use sha1::{Digest as _, Sha1};

/// No read in these tests waits longer.
pub const TIMEOUT: Duration = Duration::from_secs(10);

pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// `(status, code)` of an error answer.
    pub fn error(&self) -> (u16, String) {
        (self.status, self.json()["code"].as_str().unwrap_or_default().to_string())
    }
}

pub fn connect(server: &Server) -> TcpStream {
    let s = TcpStream::connect(server.addr()).expect("connect");
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s.set_write_timeout(Some(TIMEOUT)).unwrap();
    s
}

/// Writes one request (with `Content-Length` when there is a body).
pub fn write_request(s: &mut TcpStream, method: &str, target: &str, headers: &[(&str, &str)], body: Option<&[u8]>) {
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    if let Some(b) = body {
        s.write_all(b).unwrap();
    }
}

/// Reads a status line and headers.
pub fn read_head(r: &mut impl BufRead) -> (u16, Vec<(String, String)>) {
    let mut line = String::new();
    r.read_line(&mut line).expect("status line");
    let status = line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("status line {line:?}"));
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).expect("header line");
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (n, v) = h.split_once(':').expect("header");
        headers.push((n.trim().to_string(), v.trim().to_string()));
    }
    (status, headers)
}

/// Reads one response; the body by `Content-Length` (none for HEAD, 204
/// and 100).
pub fn read_response(r: &mut impl BufRead, method: &str) -> Resp {
    let (mut status, mut headers) = read_head(r);
    while status == 100 {
        (status, headers) = read_head(r);
    }
    let len = headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("content-length")).map(|(_, v)| v.parse().unwrap());
    let mut body = Vec::new();
    if method != "HEAD" && status != 204 {
        match len {
            Some(n) => {
                body.resize(n, 0);
                r.read_exact(&mut body).expect("body");
            }
            None => {
                r.read_to_end(&mut body).expect("body to EOF");
            }
        }
    }
    Resp { status, headers, body }
}

/// One request on its own connection.
pub fn send(server: &Server, method: &str, target: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Resp {
    let mut s = connect(server);
    let mut all = vec![("Connection", "close")];
    all.extend_from_slice(headers);
    write_request(&mut s, method, target, &all, body);
    let mut r = BufReader::new(s);
    let resp = read_response(&mut r, method);
    // Connection: close means nothing follows.
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).expect("EOF after the answer");
    assert!(rest.is_empty(), "bytes after the answer: {rest:?}");
    resp
}

pub fn get(server: &Server, target: &str) -> Resp {
    send(server, "GET", target, &[("Accept-Version", "~2")], None)
}

pub fn post_json(server: &Server, target: &str, body: &Value) -> Resp {
    let b = body.to_string();
    send(server, "POST", target, &[("Content-Type", "application/json"), ("Accept-Version", "~2")], Some(b.as_bytes()))
}

pub fn sha1_hex(b: &[u8]) -> String {
    Sha1::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

pub fn md5_b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(b))
}

/// Bytes that are not all alike, so a flipped byte shows.
pub fn bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// A manifest AdminImportImage accepts on a public-mode server.
pub fn manifest(uuid: &str) -> Value {
    json!({
        "v": 2,
        "uuid": uuid,
        "owner": "352971aa-31ba-496c-9ade-a379feaecd52",
        "name": "base-64",
        "version": "18.4.0",
        "description": "A test image.",
        "public": true,
        "type": "zone-dataset",
        "os": "smartos",
        "published_at": "2018-10-11T12:13:14.123Z",
        "requirements": {"min_platform": {"7.0": "20181011T004530Z"}},
        "tags": {"role": "os"}
    })
}

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "imgapi-testserver-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn file(&self, name: &str, content: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, content).unwrap();
        p
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Seeds an active image holding `content`, its manifest's files[0] true.
pub fn seed(server: &Server, uuid: &str, content: &[u8], channels: &[&str]) {
    let dir = TempDir::new("seed");
    let path = dir.file("file", content);
    let mut m = manifest(uuid);
    m["files"] = json!([{"sha1": sha1_hex(content), "size": content.len(), "compression": "gzip"}]);
    server.add_image(m, &path, channels);
}
