//! Each fault on GetImageFile, seen from the client's side of the socket.

use std::io::{BufReader, ErrorKind, Read};
use std::time::{Duration, Instant};

use imgapi_testserver::{Config, Fault, Server};

use crate::util::*;

const U: &str = "fa017000-1111-4111-8111-111111111111";

/// A server holding one image of `n` bytes with `fault` set.
fn faulty(n: usize, fault: Fault) -> (Server, Vec<u8>) {
    let s = Server::start(Config::default()).unwrap();
    let content = bytes(n);
    seed(&s, U, &content, &[]);
    s.set_fault(U, fault);
    (s, content)
}

/// Sends GetImageFile and reads the head; the reader is left at the body.
fn start_download(s: &Server) -> (u16, Option<u64>, BufReader<std::net::TcpStream>) {
    let mut c = connect(s);
    write_request(&mut c, "GET", &format!("/images/{U}/file"), &[("Accept-Version", "~2")], None);
    let mut r = BufReader::new(c);
    let (status, headers) = read_head(&mut r);
    let len = headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("content-length")).map(|(_, v)| v.parse().unwrap());
    (status, len, r)
}

#[test]
fn cut_short_sends_half_then_closes() {
    let (s, content) = faulty(200_000, Fault::CutShort);
    let (status, len, mut r) = start_download(&s);
    assert_eq!((status, len), (200, Some(200_000)));
    let mut got = Vec::new();
    r.read_to_end(&mut got).expect("EOF, not a timeout");
    assert_eq!(got.len(), 100_000);
    assert_eq!(got, content[..100_000]);
}

#[test]
fn wrong_byte_keeps_the_length_not_the_sha1() {
    let (s, content) = faulty(100_001, Fault::WrongByte);
    let r = get(&s, &format!("/images/{U}/file"));
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), content.len());
    assert_ne!(sha1_hex(&r.body), sha1_hex(&content));
    assert_eq!(r.header("etag"), Some(sha1_hex(&content).as_str()), "the headers describe the good file");
    assert_eq!(r.body.iter().zip(&content).filter(|(a, b)| a != b).count(), 1);
}

#[test]
fn server_error_once_then_success() {
    let (s, content) = faulty(1000, Fault::ServerErrorOnce);
    let r = get(&s, &format!("/images/{U}/file"));
    assert_eq!(r.error(), (500, "InternalError".into()));
    let r = get(&s, &format!("/images/{U}/file"));
    assert_eq!(r.status, 200);
    assert_eq!(r.body, content);
}

#[test]
fn trickle_arrives_slowly_and_whole() {
    let (s, content) = faulty(8000, Fault::Trickle { bytes_per_sec: 16_000 });
    let t = Instant::now();
    let r = get(&s, &format!("/images/{U}/file"));
    let took = t.elapsed();
    assert_eq!(r.body, content);
    assert!(took >= Duration::from_millis(350), "took {took:?}");
}

#[test]
fn stall_sends_a_little_then_nothing_until_the_server_drops() {
    let (s, _) = faulty(100_000, Fault::Stall);
    let (status, len, mut r) = start_download(&s);
    assert_eq!((status, len), (200, Some(100_000)));
    r.get_ref().set_read_timeout(Some(Duration::from_millis(700))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let err = loop {
        match r.read(&mut buf) {
            Ok(0) => panic!("EOF during a stall"),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => break e,
        }
    };
    assert!(matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut), "{err:?}");
    assert!(!got.is_empty() && got.len() < 100, "{} bytes", got.len());

    // Dropping the server ends the stalled answer, promptly.
    let t = Instant::now();
    drop(s);
    assert!(t.elapsed() < Duration::from_secs(5));
    r.get_ref().set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut rest = Vec::new();
    let end = r.read_to_end(&mut rest);
    assert!(end.is_ok() || end.unwrap_err().kind() == ErrorKind::ConnectionReset);
}

#[test]
fn faults_apply_to_their_image_only_and_clear() {
    let (s, content) = faulty(1000, Fault::CutShort);
    let other = "0717e700-2222-4222-8222-222222222222";
    seed(&s, other, b"fine", &[]);
    assert_eq!(get(&s, &format!("/images/{other}/file")).body, b"fine");
    s.clear_fault(U);
    assert_eq!(get(&s, &format!("/images/{U}/file")).body, content);
}

#[test]
fn a_dropped_server_refuses_connections() {
    let s = Server::start(Config::default()).unwrap();
    let addr = s.addr();
    let idle = connect(&s);
    drop(s);
    assert!(std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err());
    drop(idle);
}
