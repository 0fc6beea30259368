//! A small IMGAPI (Triton's image server) for tests of `buildy import` and
//! `buildy publish`: it answers as a standalone sdc-imgapi 4.13.1 does
//! (headers, statuses, error bodies, channels, HTTP Signature auth), keeps
//! image files on disk, records every request, and can be made to fail in
//! the ways a real download or upload fails.
//!
//! ```no_run
//! use imgapi_testserver::{Config, Server};
//! let server = Server::start(Config::default()).unwrap();
//! println!("{}", server.url());
//! ```
//!
//! The server listens on 127.0.0.1 only and runs until dropped. It behaves
//! as a standalone server in `mode: "public"` (images.smartos.org's mode and
//! the standalone default): an import with `public: false` is refused.
//! [`Server::set_mode`] switches to `private`.

mod auth;
mod channels;
mod errors;
mod faults;
mod http;
mod routes;
mod server;
mod store;
mod version;

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;

use serde_json::{json, Value};

pub use channels::Channels;
pub use faults::Fault;

use server::{Injected, Shared};
use store::{Image, Store, StoredFile};

/// The IMGAPI version the server claims (`GET /ping`, `Server:`).
pub const IMGAPI_VERSION: &str = "4.13.1";

/// What the server is configured with.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// `None`: no channels, as images.smartos.org (`?channel=` is ignored).
    pub channels: Option<Channels>,
    /// The users signature auth knows (`keyId` is the login).
    pub users: Vec<User>,
    /// `authType: "signature"`: writes must be signed. Otherwise no request
    /// is checked (`authType: "none"`).
    pub require_signatures: bool,
}

/// A user of signature auth.
#[derive(Debug, Clone)]
pub struct User {
    pub login: String,
    /// An OpenSSH public key line (`ssh-rsa AAAA... comment`).
    pub public_key: String,
}

/// The standalone server's `mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Refuses `public: false` images; hides `billing_tags` and `traits`.
    Public,
    /// Refuses `public: true` images.
    Private,
}

/// One request as received (recorded before it is handled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The path, as sent (not decoded).
    pub path: String,
    /// Query parameters in order, decoded.
    pub query: Vec<(String, String)>,
    /// Headers in order, names lower-case.
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// The first value of a header (give the name in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The first value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// A running server; dropping it stops it and removes its files.
pub struct Server {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    /// Starts on 127.0.0.1, on a free port.
    pub fn start(config: Config) -> io::Result<Server> {
        Server::start_on(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
    }

    /// Starts on the given loopback address.
    pub fn start_on(config: Config, addr: SocketAddr) -> io::Result<Server> {
        if !addr.ip().is_loopback() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "imgapi-testserver listens on loopback only"));
        }
        if let Some(c) = &config.channels {
            c.check().map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        }
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let keys = auth::Keys::new(&config.users);
        let shared = Arc::new(Shared::new(config.channels, config.require_signatures, keys, Store::new()?));
        let sh = Arc::clone(&shared);
        let accept = std::thread::Builder::new()
            .name("imgapi-testserver-accept".into())
            .spawn(move || server::accept_loop(sh, listener))?;
        Ok(Server { shared, addr, accept: Some(accept) })
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Switches between `mode: "public"` (the default) and `"private"`.
    pub fn set_mode(&self, mode: Mode) {
        self.shared.set_public_mode(mode == Mode::Public);
    }

    /// Seeds an active image. Its `files[0]` size, sha1 and compression are
    /// kept as the manifest gives them (so a test can serve a file that does
    /// not match its manifest); missing ones come from `file`. `channels`
    /// (ignored without channels configured) defaults to the default channel.
    ///
    /// Panics on a manifest without a `uuid`, an unknown channel or an
    /// unreadable file: these are mistakes in the test.
    pub fn add_image(&self, manifest: Value, file: &Path, channels: &[&str]) {
        let mut fields = match manifest {
            Value::Object(m) => m,
            other => panic!("add_image: manifest is not an object: {other}"),
        };
        let uuid = match fields.remove("uuid") {
            Some(Value::String(u)) => u,
            _ => panic!("add_image: manifest has no uuid"),
        };
        let chans = self.shared.channels.as_ref().map(|c| {
            if channels.is_empty() {
                vec![c.default.clone()]
            } else {
                for name in channels {
                    assert!(c.contains(name), "add_image: unknown channel {name:?}");
                }
                channels.iter().map(|s| s.to_string()).collect()
            }
        });
        let given = fields.remove("files").and_then(|f| f.get(0).cloned()).unwrap_or_else(|| json!({}));
        let disabled = store::as_bool(fields.remove("disabled").as_ref(), false);
        let published_at = match fields.remove("published_at") {
            Some(Value::String(s)) => s,
            _ => store::iso_now(),
        };
        for computed in ["state", "activated", "channels"] {
            fields.remove(computed);
        }
        let mut st = self.shared.lock();
        let path = st.store.file_path(&uuid);
        std::fs::copy(file, &path).unwrap_or_else(|e| panic!("add_image: copying {}: {e}", file.display()));
        let digests = store::hash_file(&path).unwrap_or_else(|e| panic!("add_image: reading {}: {e}", path.display()));
        let stored = StoredFile {
            sha1: given.get("sha1").and_then(Value::as_str).map_or(digests.sha1, str::to_string),
            size: given.get("size").and_then(Value::as_u64).unwrap_or(digests.size),
            compression: given.get("compression").and_then(Value::as_str).unwrap_or("none").to_string(),
            dataset_guid: given.get("dataset_guid").and_then(Value::as_str).map(str::to_string),
            md5: digests.md5,
            mtime: std::time::SystemTime::now(),
            path,
        };
        let seq = st.store.next_seq();
        let image = Image {
            uuid: uuid.clone(),
            fields,
            activated: true,
            disabled,
            published_at: Some(published_at),
            channels: chans,
            file: Some(stored),
            seq,
        };
        st.store.images.insert(uuid, image);
    }

    /// The manifest as the server holds it (all fields, `channels` included
    /// when the server has channels).
    pub fn manifest(&self, uuid: &str) -> Option<Value> {
        let st = self.shared.lock();
        st.store.images.get(uuid).map(|i| i.serialize(false, true, false))
    }

    /// The stored file's bytes (for small test files; the server itself
    /// never holds a whole file in memory).
    pub fn file(&self, uuid: &str) -> Option<Vec<u8>> {
        let path = self.shared.lock().store.images.get(uuid)?.file.as_ref()?.path.clone();
        std::fs::read(path).ok()
    }

    /// Sets the fault GetImageFile of this image shows (replacing any).
    pub fn set_fault(&self, uuid: &str, fault: Fault) {
        self.shared.lock().faults.insert(uuid.to_string(), fault);
    }

    pub fn clear_fault(&self, uuid: &str) {
        self.shared.lock().faults.remove(uuid);
    }

    /// The next request with this method whose path ends with `path_suffix`
    /// is answered `{"code": code, ...}` with `status`, whatever it asked.
    pub fn fail_next(&self, method: &str, path_suffix: &str, status: u16, code: &str) {
        self.shared.lock().fail_next.push(Injected {
            method: method.to_string(),
            path_suffix: path_suffix.to_string(),
            status,
            code: code.to_string(),
        });
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.lock().requests.clone()
    }

    /// The uuids of the images held, in insertion order.
    pub fn uuids(&self) -> Vec<String> {
        let st = self.shared.lock();
        let mut v: Vec<&Image> = st.store.images.values().collect();
        v.sort_by_key(|i| i.seq);
        v.into_iter().map(|i| i.uuid.clone()).collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        server::stop(&self.shared, self.addr, self.accept.take());
        let dir = self.shared.lock().store.dir.clone();
        let _ = std::fs::remove_dir_all(dir);
    }
}
