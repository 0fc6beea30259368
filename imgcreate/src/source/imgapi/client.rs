//! Requests to one IMGAPI server, as imgadm makes them: `Accept-Version:
//! ~2`, `User-Agent: buildy/<version>`, `?channel=` on every request when
//! the source has a channel, TLS verified unless the source is insecure.
//! Every request has timeouts (connecting, and each read); reads (GET) are
//! retried a bounded number of times, with back-off, on a broken connection
//! or a 5xx answer; writes only when the connection could not be made.

use std::io::Read;
use std::time::Duration;

use serde_json::Value;

use super::auth::Signer;
use crate::host::exec::Exec;
use crate::source::Source;

/// The largest JSON answer read (manifests are a few kB).
const MAX_JSON: u64 = 16 << 20;

/// Timeouts and retries.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub connect_timeout: Duration,
    /// How long one read may wait for bytes: a stalled server fails here.
    pub read_timeout: Duration,
    /// Attempts of a request that can be retried.
    pub attempts: u32,
    /// The first back-off; each retry doubles it.
    pub backoff: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(60),
            attempts: 4,
            backoff: Duration::from_millis(500),
        }
    }
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{url}: {error}")]
    Transport { url: String, error: String },
    #[error("{url} answered {status} {code}: {message}")]
    Status { url: String, status: u16, code: String, message: String },
    #[error("{url} answered with something that is not JSON ({error})")]
    NotJson { url: String, error: String },
    #[error("interrupted")]
    Cancelled,
}

impl ClientError {
    /// A 5xx answer or a broken connection: worth another try.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Transport { .. } => true,
            ClientError::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// The IMGAPI error code of an error answer.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Status { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// An image file's answer, being read.
pub struct FileResponse {
    pub content_length: Option<u64>,
    /// Base64 md5 of the whole file, as the server says.
    pub content_md5: Option<String>,
    /// The server offered byte ranges (the real IMGAPI does not).
    pub accept_ranges: bool,
    /// This answer holds the bytes from this offset (a 206 to a Range).
    pub offset: u64,
    pub body: Box<dyn Read + Send>,
}

/// One IMGAPI server.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    source: Source,
    signer: Option<Signer>,
    options: ClientOptions,
    exec: Exec,
}

impl Client {
    pub fn new(exec: &Exec, source: &Source, signer: Option<Signer>, options: ClientOptions) -> Client {
        let tls = ureq::tls::TlsConfig::builder().disable_verification(source.insecure).build();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(format!("buildy/{}", env!("CARGO_PKG_VERSION")))
            .tls_config(tls)
            .timeout_connect(Some(options.connect_timeout))
            .timeout_per_read(Some(options.read_timeout))
            .timeout_recv_response(Some(options.read_timeout))
            .timeout_per_write(Some(options.read_timeout))
            .max_redirects(5)
            .build()
            .new_agent();
        Client { agent, source: source.clone(), signer, options, exec: exec.clone() }
    }

    pub fn source(&self) -> &Source {
        &self.source
    }

    /// `<url><path>?<query>&channel=<channel>`.
    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> String {
        let mut pairs: Vec<String> = query.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
        if let Some(c) = &self.source.channel {
            pairs.push(format!("channel={}", encode(c)));
        }
        let mut url = format!("{}{path}", self.source.url);
        if !pairs.is_empty() {
            url.push('?');
            url.push_str(&pairs.join("&"));
        }
        url
    }

    /// `GET /ping`.
    pub fn ping(&self) -> Result<Value, ClientError> {
        let url = self.url("/ping", &[]);
        self.retried(|| self.json(self.agent.get(&url).header("Accept-Version", "~2").call(), &url))
    }

    /// `GET /images/:uuid`: the manifest, `None` if the server has no such
    /// image (in this channel).
    pub fn get_image(&self, uuid: &str) -> Result<Option<Value>, ClientError> {
        let url = self.url(&format!("/images/{uuid}"), &[]);
        match self.retried(|| self.json(self.agent.get(&url).header("Accept-Version", "~2").call(), &url)) {
            Ok(m) => Ok(Some(m)),
            Err(ClientError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /images/:uuid/file`, from byte `from` (a `Range` request: only
    /// when the server said it accepts ranges). The caller reads the body.
    pub fn get_file(&self, uuid: &str, from: u64) -> Result<FileResponse, ClientError> {
        let url = self.url(&format!("/images/{uuid}/file"), &[]);
        let mut request = self.agent.get(&url).header("Accept-Version", "~2");
        if from > 0 {
            request = request.header("Range", format!("bytes={from}-"));
        }
        let response = request.call().map_err(|e| transport(&url, e))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(status_error(&url, response));
        }
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let offset = if status == 206 { from } else { 0 };
        Ok(FileResponse {
            content_length: header("content-length").and_then(|v| v.parse().ok()),
            content_md5: header("content-md5"),
            accept_ranges: header("accept-ranges").is_some_and(|v| v.contains("bytes")),
            offset,
            body: Box::new(response.into_body().into_reader()),
        })
    }

    /// `GET` of any URL (a package repository's summary): the body to
    /// read, or `None` for a 404. Retried while nothing was received.
    pub fn get_url(&self, url: &str) -> Result<Option<Box<dyn Read + Send>>, ClientError> {
        self.retried(|| {
            let response = self.agent.get(url).call().map_err(|e| transport(url, e))?;
            match response.status().as_u16() {
                404 => Ok(None),
                200..=299 => Ok(Some(Box::new(response.into_body().into_reader()) as Box<dyn Read + Send>)),
                _ => Err(status_error(url, response)),
            }
        })
    }

    /// `POST /images/:uuid?action=import` (AdminImportImage) with the manifest.
    pub fn import_image(&self, uuid: &str, manifest: &Value) -> Result<Value, ClientError> {
        let url = self.url(&format!("/images/{uuid}"), &[("action", "import")]);
        let body = manifest.to_string();
        self.post(&url, |r| r.header("Content-Type", "application/json").send(body.as_str()))
    }

    /// `PUT /images/:uuid/file?compression=&sha1=[&dataset_guid=]`
    /// (AddImageFile), the body streamed from `file` with its size.
    pub fn add_file(
        &self,
        uuid: &str,
        query: &[(&str, &str)],
        size: u64,
        file: std::fs::File,
    ) -> Result<Value, ClientError> {
        let url = self.url(&format!("/images/{uuid}/file"), query);
        let mut request = self.agent.put(&url).header("Accept-Version", "~2");
        request = request.header("Content-Type", "application/octet-stream").header("Content-Length", size);
        if let Some(signer) = &self.signer {
            let (date, authorization) = signer.headers();
            request = request.header("Date", date).header("Authorization", authorization);
        }
        // Not retried: the body is a stream (the caller rolls back).
        let response = request.send(ureq::SendBody::from_owned_reader(file));
        self.json(response, &url)
    }

    /// `POST /images/:uuid?action=activate` (ActivateImage).
    pub fn activate(&self, uuid: &str) -> Result<Value, ClientError> {
        let url = self.url(&format!("/images/{uuid}"), &[("action", "activate")]);
        self.post(&url, |r| r.send_empty())
    }

    /// `DELETE /images/:uuid` (DeleteImage).
    pub fn delete(&self, uuid: &str) -> Result<(), ClientError> {
        let url = self.url(&format!("/images/{uuid}"), &[]);
        let mut request = self.agent.delete(&url).header("Accept-Version", "~2");
        if let Some(signer) = &self.signer {
            let (date, authorization) = signer.headers();
            request = request.header("Date", date).header("Authorization", authorization);
        }
        let response = request.call().map_err(|e| transport(&url, e))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(status_error(&url, response))
        }
    }

    /// A signed POST; retried only if no connection could be made (the
    /// server then saw nothing).
    fn post(
        &self,
        url: &str,
        send: impl Fn(
            ureq::RequestBuilder<ureq::typestate::WithBody>,
        ) -> Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Value, ClientError> {
        let mut attempt = 1;
        loop {
            let mut request = self.agent.post(url).header("Accept-Version", "~2");
            if let Some(signer) = &self.signer {
                let (date, authorization) = signer.headers();
                request = request.header("Date", date).header("Authorization", authorization);
            }
            match send(request) {
                Err(e) if attempt < self.options.attempts && not_connected(&e) => {
                    self.back_off(attempt)?;
                    attempt += 1;
                }
                response => return self.json(response, url),
            }
        }
    }

    /// Runs `request` until it succeeds, fails for good, or the attempts
    /// are used up.
    fn retried<T>(&self, request: impl Fn() -> Result<T, ClientError>) -> Result<T, ClientError> {
        let mut attempt = 1;
        loop {
            match request() {
                Err(e) if e.is_transient() && attempt < self.options.attempts => {
                    self.back_off(attempt)?;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Waits before attempt `attempt + 1`; `Cancelled` if the work stopped.
    pub fn back_off(&self, attempt: u32) -> Result<(), ClientError> {
        let wait = self.options.backoff * 2u32.saturating_pow(attempt - 1);
        self.exec.sleep(wait).map_err(|_| ClientError::Cancelled)
    }

    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// A JSON answer, or the error it carries.
    fn json(
        &self,
        response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
        url: &str,
    ) -> Result<Value, ClientError> {
        let response = response.map_err(|e| transport(url, e))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(status_error(url, response));
        }
        let text = response
            .into_body()
            .with_config()
            .limit(MAX_JSON)
            .read_to_string()
            .map_err(|e| ClientError::Transport { url: url.to_string(), error: e.to_string() })?;
        if text.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| ClientError::NotJson { url: url.to_string(), error: e.to_string() })
    }
}

fn transport(url: &str, e: ureq::Error) -> ClientError {
    ClientError::Transport { url: url.to_string(), error: e.to_string() }
}

/// The request never reached the server.
fn not_connected(e: &ureq::Error) -> bool {
    matches!(e, ureq::Error::ConnectionFailed | ureq::Error::HostNotFound)
        || matches!(e, ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused)
}

/// IMGAPI's error answer `{"code", "message"}` (or what there is of it).
fn status_error(url: &str, response: ureq::http::Response<ureq::Body>) -> ClientError {
    let status = response.status().as_u16();
    let text = response.into_body().with_config().limit(1 << 20).read_to_string().unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let code = body.get("code").and_then(Value::as_str).unwrap_or("").to_string();
    let message = body.get("message").and_then(Value::as_str).map(str::to_string);
    let message = message.unwrap_or_else(|| text.chars().take(200).collect::<String>().trim().to_string());
    ClientError::Status { url: url.to_string(), status, code, message }
}

/// Percent-encodes what a query value must not hold as it is.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'*' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_carry_the_query_and_the_sources_channel() {
        let exec = Exec::default();
        let source = Source::parse("http://127.0.0.1:9/?channel=dev", false).unwrap();
        let client = Client::new(&exec, &source, None, ClientOptions::default());
        assert_eq!(client.url("/images/x/file", &[]), "http://127.0.0.1:9/images/x/file?channel=dev");
        let plain =
            Client::new(&exec, &Source::parse("https://a.example/", false).unwrap(), None, ClientOptions::default());
        assert_eq!(plain.url("/images/x", &[("action", "import")]), "https://a.example/images/x?action=import");
        assert_eq!(encode("a b&c=d"), "a%20b%26c%3Dd");
    }

    #[test]
    fn an_unreachable_server_is_a_transport_error_naming_the_url_after_bounded_retries() {
        let exec = Exec::default();
        // A port nothing listens on.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let source = Source::parse(&format!("http://127.0.0.1:{port}"), false).unwrap();
        let options = ClientOptions { backoff: Duration::from_millis(10), ..ClientOptions::default() };
        let err = Client::new(&exec, &source, None, options).get_image("u").unwrap_err();
        assert!(matches!(err, ClientError::Transport { .. }), "{err}");
        assert!(err.to_string().starts_with(&format!("http://127.0.0.1:{port}/images/u: ")), "{err}");
    }
}
