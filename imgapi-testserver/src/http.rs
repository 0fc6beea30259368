//! HTTP/1.1 by hand on a `TcpStream`: request heads, request bodies
//! (Content-Length or chunked), response heads. Hand-written because the
//! faults need byte-level control over what goes on the wire.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime};

/// Longest request head accepted (request line and headers together).
const MAX_HEAD: usize = 64 * 1024;

/// A parsed request line and headers.
#[derive(Debug, Clone)]
pub struct RequestHead {
    pub method: String,
    /// The request target as sent (path and query), for messages that quote
    /// `req.url` as the real server does.
    pub target: String,
    /// The path part of the target, not decoded.
    pub path: String,
    pub query: Vec<(String, String)>,
    /// `HTTP/1.x`: x.
    pub minor: u8,
    /// In order, names lower-cased.
    pub headers: Vec<(String, String)>,
}

impl RequestHead {
    /// The first value of a header (names are lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The first value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Whether the client lets the connection carry another request.
    pub fn keep_alive(&self) -> bool {
        let conn = self.header("connection").unwrap_or("").to_ascii_lowercase();
        let tokens: Vec<&str> = conn.split(',').map(str::trim).collect();
        if self.minor >= 1 {
            !tokens.contains(&"close")
        } else {
            tokens.contains(&"keep-alive")
        }
    }

    pub fn framing(&self) -> io::Result<Framing> {
        if let Some(te) = self.header("transfer-encoding") {
            // Only chunked is a framing we understand; anything else is refused.
            if te.to_ascii_lowercase().rsplit(',').map(str::trim).next() == Some("chunked") {
                return Ok(Framing::Chunked);
            }
            return Err(invalid("unsupported Transfer-Encoding"));
        }
        match self.header("content-length") {
            None => Ok(Framing::Length(0)),
            Some(v) => v.trim().parse::<u64>().map(Framing::Length).map_err(|_| invalid("bad Content-Length")),
        }
    }
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

/// Reads one request head. `Ok(None)` when the peer closed before sending
/// anything (the normal end of a keep-alive connection).
pub fn read_head(r: &mut BufReader<TcpStream>) -> io::Result<Option<RequestHead>> {
    let mut total = 0usize;
    let mut line = Vec::new();
    // RFC 9112 2.2: empty lines before the request line are ignored.
    let request_line = loop {
        line.clear();
        let n = r.by_ref().take((MAX_HEAD - total) as u64).read_until(b'\n', &mut line)?;
        if n == 0 {
            if total == 0 {
                return Ok(None);
            }
            return Err(invalid("connection closed inside the request head"));
        }
        total += n;
        let text = trim_eol(&line);
        if !text.is_empty() {
            break String::from_utf8_lossy(text).into_owned();
        }
        if total >= MAX_HEAD {
            return Err(invalid("request head too long"));
        }
    };
    let mut parts = request_line.split(' ');
    let (method, target, version) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v), None) if !m.is_empty() && !t.is_empty() => (m, t, v),
        _ => return Err(invalid("bad request line")),
    };
    let minor = match version {
        "HTTP/1.1" => 1,
        "HTTP/1.0" => 0,
        _ => return Err(invalid("unsupported HTTP version")),
    };
    let mut headers = Vec::new();
    loop {
        line.clear();
        let n = r.by_ref().take((MAX_HEAD.saturating_sub(total)) as u64).read_until(b'\n', &mut line)?;
        if n == 0 {
            return Err(invalid("request head too long or cut short"));
        }
        total += n;
        let text = trim_eol(&line);
        if text.is_empty() {
            break;
        }
        let text = String::from_utf8_lossy(text);
        let (name, value) = text.split_once(':').ok_or_else(|| invalid("bad header line"))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), parse_query(q)),
        None => (target.to_string(), Vec::new()),
    };
    Ok(Some(RequestHead { method: method.to_string(), target: target.to_string(), path, query, minor, headers }))
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// `a=1&b=x%20y` into pairs, decoded as Node's querystring does (`+` is a space).
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

/// `decodeURIComponent` for a path parameter (no `+` for space).
pub fn percent_decode_path(s: &str) -> String {
    decode(s, false)
}

pub fn percent_decode(s: &str) -> String {
    decode(s, true)
}

fn decode(s: &str, plus_is_space: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' if plus_is_space => out.push(b' '),
            b'%' => match (hex(b.get(i + 1)), hex(b.get(i + 2))) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: Option<&u8>) -> Option<u8> {
    let c = *c?;
    (c as char).to_digit(16).map(|d| d as u8)
}

/// How a request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Length(u64),
    Chunked,
}

/// The request body as a `Read`: it stops at the end of the body, so the
/// connection can carry the next request.
pub struct Body<'a> {
    r: &'a mut BufReader<TcpStream>,
    state: BodyState,
    /// Bytes of body read so far.
    pub read: u64,
}

enum BodyState {
    Length(u64),
    /// Bytes left in the current chunk; 0 means a chunk-size line comes next.
    Chunk(u64),
    Done,
}

impl<'a> Body<'a> {
    pub fn new(r: &'a mut BufReader<TcpStream>, framing: Framing) -> Body<'a> {
        let state = match framing {
            Framing::Length(0) => BodyState::Done,
            Framing::Length(n) => BodyState::Length(n),
            Framing::Chunked => BodyState::Chunk(0),
        };
        Body { r, state, read: 0 }
    }

    pub fn is_done(&self) -> bool {
        matches!(self.state, BodyState::Done)
    }

    /// Reads and drops the rest of the body if it all comes within `limit`.
    pub fn drain_within(&mut self, limit: Duration) -> bool {
        let start = Instant::now();
        let _ = self.r.get_ref().set_read_timeout(Some(limit));
        let mut buf = vec![0u8; 64 * 1024];
        while !self.is_done() {
            if start.elapsed() > limit || !matches!(self.read(&mut buf), Ok(n) if n > 0) {
                return false;
            }
        }
        true
    }

    fn chunk_line(&mut self) -> io::Result<String> {
        let mut line = Vec::new();
        let n = self.r.by_ref().take(4096).read_until(b'\n', &mut line)?;
        if n == 0 || !line.ends_with(b"\n") {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "chunked body cut short"));
        }
        Ok(String::from_utf8_lossy(trim_eol(&line)).into_owned())
    }
}

impl Read for Body<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.state {
                BodyState::Done => return Ok(0),
                BodyState::Length(left) => {
                    let want = buf.len().min(left.min(usize::MAX as u64) as usize);
                    let n = self.r.read(&mut buf[..want])?;
                    if n == 0 {
                        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "body shorter than Content-Length"));
                    }
                    self.read += n as u64;
                    self.state = if left == n as u64 { BodyState::Done } else { BodyState::Length(left - n as u64) };
                    return Ok(n);
                }
                BodyState::Chunk(0) => {
                    let line = self.chunk_line()?;
                    let size = line.split(';').next().unwrap_or("").trim();
                    let size = u64::from_str_radix(size, 16).map_err(|_| invalid("bad chunk size"))?;
                    if size == 0 {
                        // Trailer fields up to the empty line.
                        while !self.chunk_line()?.is_empty() {}
                        self.state = BodyState::Done;
                    } else {
                        self.state = BodyState::Chunk(size);
                    }
                }
                BodyState::Chunk(left) => {
                    let want = buf.len().min(left.min(usize::MAX as u64) as usize);
                    let n = self.r.read(&mut buf[..want])?;
                    if n == 0 {
                        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "chunk cut short"));
                    }
                    self.read += n as u64;
                    if left == n as u64 {
                        // The CRLF after the chunk data.
                        if !self.chunk_line()?.is_empty() {
                            return Err(invalid("chunk data longer than its size"));
                        }
                    }
                    self.state = BodyState::Chunk(left - n as u64);
                    return Ok(n);
                }
            }
        }
    }
}

/// Writes a status line and headers (and the empty line after them).
pub fn write_head(w: &mut impl Write, status: u16, headers: &[(String, String)]) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", status, reason(status));
    for (n, v) in headers {
        head.push_str(n);
        head.push_str(": ");
        head.push_str(v);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    w.write_all(head.as_bytes())
}

/// Node's reason phrases (`fail_next` may ask for any status).
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        204 => "No Content",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        412 => "Precondition Failed",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// RFC 1123 date, as in `Date` and `Last-Modified`.
pub fn http_date(t: SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        assert_eq!(
            parse_query("a=1&b=x%20y+z&c&&d=%zz%4"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y z".into()),
                ("c".into(), "".into()),
                ("d".into(), "%zz%4".into())
            ]
        );
    }
}
