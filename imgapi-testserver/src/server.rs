//! The listener, one thread per connection, and writing the answers.

use std::collections::HashMap;
use std::io::{self, BufReader, BufWriter, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use crate::auth::Keys;
use crate::channels::Channels;
use crate::errors::ApiError;
use crate::faults::{self, Fault};
use crate::http::{self, Body, RequestHead};
use crate::routes::{self, Reply};
use crate::store::Store;
use crate::Request;

/// How long a connection may sit idle between requests or inside a body.
const IDLE: Duration = Duration::from_secs(120);
/// How long the rest of an unread request body may take to arrive after an
/// early answer (reading it lets the client see the answer instead of a reset).
const DRAIN: Duration = Duration::from_secs(30);

/// A `fail_next` waiting for its request.
pub(crate) struct Injected {
    pub method: String,
    pub path_suffix: String,
    pub status: u16,
    pub code: String,
}

/// What the handlers change, under one lock (never held across I/O).
pub(crate) struct State {
    pub store: Store,
    pub faults: HashMap<String, Fault>,
    pub fail_next: Vec<Injected>,
    pub requests: Vec<Request>,
}

pub(crate) struct Shared {
    pub channels: Option<Channels>,
    pub require_signatures: bool,
    pub keys: Keys,
    public_mode: AtomicBool,
    state: Mutex<State>,
    /// Set once, when the server drops; the condvar wakes stalled and
    /// trickling answers.
    stopping: Mutex<bool>,
    stop_cv: Condvar,
    conns: Mutex<Conns>,
    next_id: AtomicU64,
}

#[derive(Default)]
struct Conns {
    next: u64,
    /// A handle on each open connection, to shut it down on drop.
    open: HashMap<u64, TcpStream>,
    threads: Vec<JoinHandle<()>>,
}

impl Shared {
    pub(crate) fn new(channels: Option<Channels>, require_signatures: bool, keys: Keys, store: Store) -> Shared {
        Shared {
            channels,
            require_signatures,
            keys,
            public_mode: AtomicBool::new(true),
            state: Mutex::new(State { store, faults: HashMap::new(), fail_next: Vec::new(), requests: Vec::new() }),
            stopping: Mutex::new(false),
            stop_cv: Condvar::new(),
            conns: Mutex::new(Conns::default()),
            next_id: AtomicU64::new(0),
        }
    }

    /// The state; a handler thread that panicked leaves it usable.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn public_mode(&self) -> bool {
        self.public_mode.load(Ordering::Relaxed)
    }

    pub(crate) fn set_public_mode(&self, on: bool) {
        self.public_mode.store(on, Ordering::Relaxed)
    }

    fn is_stopping(&self) -> bool {
        *self.stopping.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sleeps unless the server stops first; false if it is stopping.
    pub(crate) fn sleep(&self, d: Duration) -> bool {
        let guard = self.stopping.lock().unwrap_or_else(|e| e.into_inner());
        let (guard, _) = self.stop_cv.wait_timeout_while(guard, d, |s| !*s).unwrap_or_else(|e| e.into_inner());
        !*guard
    }

    pub(crate) fn wait_for_stop(&self) {
        let guard = self.stopping.lock().unwrap_or_else(|e| e.into_inner());
        drop(self.stop_cv.wait_while(guard, |s| !*s).unwrap_or_else(|e| e.into_inner()));
    }
}

/// Accepts until the server stops; each connection gets a thread.
pub(crate) fn accept_loop(sh: Arc<Shared>, listener: TcpListener) {
    for conn in listener.incoming() {
        if sh.is_stopping() {
            break;
        }
        let Ok(stream) = conn else {
            // Out of descriptors or the like: wait a moment rather than spin.
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        let Ok(handle) = stream.try_clone() else { continue };
        let mut conns = sh.conns.lock().unwrap_or_else(|e| e.into_inner());
        conns.threads.retain(|t| !t.is_finished());
        conns.next += 1;
        let id = conns.next;
        conns.open.insert(id, handle);
        let sh2 = Arc::clone(&sh);
        conns.threads.push(thread::spawn(move || {
            connection(&sh2, stream);
            sh2.conns.lock().unwrap_or_else(|e| e.into_inner()).open.remove(&id);
        }));
    }
}

/// Stops the server: wakes the accept loop and every connection, and waits
/// for their threads.
pub(crate) fn stop(sh: &Shared, addr: SocketAddr, accept: Option<JoinHandle<()>>) {
    *sh.stopping.lock().unwrap_or_else(|e| e.into_inner()) = true;
    sh.stop_cv.notify_all();
    // The accept loop is blocked in accept(): give it one last connection.
    let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
    if let Some(t) = accept {
        let _ = t.join();
    }
    let threads = {
        let mut conns = sh.conns.lock().unwrap_or_else(|e| e.into_inner());
        for s in conns.open.values() {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        std::mem::take(&mut conns.threads)
    };
    for t in threads {
        let _ = t.join();
    }
}

fn connection(sh: &Shared, stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(IDLE));
    let _ = stream.set_write_timeout(Some(IDLE));
    let _ = stream.set_nodelay(true);
    let Ok(write_half) = stream.try_clone() else { return };
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    let mut out = write_half;
    loop {
        let head = match http::read_head(&mut reader) {
            Ok(Some(h)) => h,
            Ok(None) => break,
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                // Node's parser answers a bare 400 and closes.
                let _ = out.write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
                break;
            }
            Err(_) => break,
        };
        let started = Instant::now();
        sh.lock().requests.push(Request {
            method: head.method.clone(),
            path: head.path.clone(),
            query: head.query.clone(),
            headers: head.headers.clone(),
        });
        let framing = match head.framing() {
            Ok(f) => f,
            Err(_) => {
                let _ = out.write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
                break;
            }
        };
        // Node answers `Expect: 100-continue` itself, before any handler.
        let has_body = framing != http::Framing::Length(0);
        let expects = head.header("expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue"));
        if has_body && expects && out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err() {
            break;
        }
        let mut body = Body::new(&mut reader, framing);
        let reply = match injected(sh, &head) {
            Some(e) => Reply::Error(e),
            None => routes::handle(sh, &head, &mut body),
        };
        let keep = write_reply(sh, &mut out, &head, reply, started).unwrap_or_default();
        if !keep || sh.is_stopping() {
            break;
        }
        if !body.is_done() {
            // Answered before reading the whole body: read the rest so the
            // client sees the answer, then go on if it came in time.
            if !body.drain_within(DRAIN) {
                break;
            }
        }
    }
    let _ = out.flush();
    let _ = out.shutdown(std::net::Shutdown::Both);
}

/// A pending `fail_next` this request matches, taken off the list.
fn injected(sh: &Shared, head: &RequestHead) -> Option<ApiError> {
    let mut st = sh.lock();
    let i = st
        .fail_next
        .iter()
        .position(|f| f.method.eq_ignore_ascii_case(&head.method) && head.path.ends_with(&f.path_suffix))?;
    let f = st.fail_next.remove(i);
    Some(ApiError::new(f.status, &f.code, format!("{} (injected by imgapi-testserver fail_next)", f.code)))
}

/// Headers IMGAPI adds to every answer (its `res.on('header')` hook).
fn common_headers(sh: &Shared, started: Instant, keep: bool) -> Vec<(String, String)> {
    let id = sh.next_id.fetch_add(1, Ordering::Relaxed) + 1;
    vec![
        ("Date".into(), http::http_date(SystemTime::now())),
        ("Server".into(), format!("imgapi/{}", crate::IMGAPI_VERSION)),
        ("x-request-id".into(), format!("00000000-0000-4000-8000-{id:012x}")),
        ("x-response-time".into(), started.elapsed().as_millis().to_string()),
        ("x-server-name".into(), "imgapi-testserver".into()),
        ("Connection".into(), if keep { "keep-alive" } else { "close" }.into()),
    ]
}

/// Writes the answer; whether the connection may carry another request.
fn write_reply(
    sh: &Shared,
    out: &mut TcpStream,
    head: &RequestHead,
    reply: Reply,
    started: Instant,
) -> io::Result<bool> {
    let keep = head.keep_alive();
    let is_head = head.method == "HEAD";
    match reply {
        Reply::Abort => Ok(false),
        Reply::NoContent => {
            let mut w = BufWriter::new(out);
            http::write_head(&mut w, 204, &common_headers(sh, started, keep))?;
            w.flush()?;
            Ok(keep)
        }
        Reply::Json { status, body, headers } => write_json(sh, out, status, &body, headers, keep, is_head, started),
        Reply::Error(e) => {
            let body = e.body();
            write_json(sh, out, e.status, &body, e.headers, keep, is_head, started)
        }
        Reply::File { file, size, mut headers, fault } => {
            let keep = keep && !faults::closes(fault.as_ref());
            headers.extend(common_headers(sh, started, keep));
            let mut w = BufWriter::with_capacity(64 * 1024, out);
            http::write_head(&mut w, 200, &headers)?;
            let whole = faults::send_body(&mut w, sh, file, size, fault.as_ref())?;
            w.flush()?;
            Ok(keep && whole)
        }
    }
}

/// A JSON answer, indented by two as IMGAPI's `formatJSON` does. A HEAD
/// answer has the headers only.
#[allow(clippy::too_many_arguments)]
fn write_json(
    sh: &Shared,
    out: &mut TcpStream,
    status: u16,
    body: &serde_json::Value,
    extra: Vec<(String, String)>,
    keep: bool,
    is_head: bool,
    started: Instant,
) -> io::Result<bool> {
    let data = serde_json::to_string_pretty(body).unwrap_or_default();
    let mut headers = vec![
        ("Content-Type".to_string(), "application/json".to_string()),
        ("Content-Length".to_string(), data.len().to_string()),
    ];
    headers.extend(extra);
    headers.extend(common_headers(sh, started, keep));
    let mut w = BufWriter::new(out);
    http::write_head(&mut w, status, &headers)?;
    if !is_head {
        w.write_all(data.as_bytes())?;
    }
    w.flush()?;
    Ok(keep)
}
