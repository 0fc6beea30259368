//! The `imgapi-testserver` binary the benchmark runs.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use imgapi_testserver::Server;

use crate::util::*;

/// Kills the child however the test ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The store directories a process of this pid has.
fn dirs_of(pid: u32) -> Vec<std::path::PathBuf> {
    let prefix = format!("imgapi-testserver-{pid}-");
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect()
}

#[test]
fn prints_one_line_then_serves() {
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_imgapi-testserver"))
            .args(["--listen", "127.0.0.1:0", "--channels"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut out = BufReader::new(child.0.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let url = line.strip_prefix("listening on http://").expect(&line).trim().to_string();
    let addr: std::net::SocketAddr = url.parse().unwrap();
    assert_eq!(addr.ip().to_string(), "127.0.0.1");

    // Talk to it through the same raw client.
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(TIMEOUT)).unwrap();
    write_request(&mut c, "GET", "/channels", &[("Connection", "close")], None);
    let r = read_response(&mut BufReader::new(c), "GET");
    assert_eq!(r.status, 200);
    assert_eq!(r.json().as_array().unwrap().len(), 5);

    // SIGTERM stops it cleanly: exit 0, its directory gone.
    let pid = child.0.id();
    assert_eq!(dirs_of(pid).len(), 1);
    let st = Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    assert!(st.success());
    let t = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(t.elapsed() < TIMEOUT, "still running after SIGTERM");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    assert!(dirs_of(pid).is_empty());
}

#[test]
fn a_killed_servers_directory_goes_at_the_next_start() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_imgapi-testserver")).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let pid = child.id();
    assert_eq!(dirs_of(pid).len(), 1);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(dirs_of(pid).len(), 1, "SIGKILL leaves it");
    drop(Server::start(Default::default()).unwrap());
    assert!(dirs_of(pid).is_empty());
}

#[test]
fn refuses_a_non_loopback_address() {
    let out = Command::new(env!("CARGO_BIN_EXE_imgapi-testserver")).args(["--listen", "0.0.0.0:0"]).output().unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    // And the library the same way.
    let e = Server::start_on(Default::default(), "0.0.0.0:0".parse().unwrap()).err().unwrap();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
}
