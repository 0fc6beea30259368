//! Image sources: an IMGAPI's URL, its channel and whether its TLS
//! certificate is checked; and imgadm's list of them in
//! `<db dir>/imgadm.conf` (`{"sources": [{"url", "type": "imgapi",
//! "insecure"}], ...}`), read and written so that the platform's imgadm and
//! buildy share it. Other keys of the file are kept as they are.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use crate::atomic;

/// imgadm's default when imgadm.conf has no `sources`.
pub const DEFAULT_SOURCE: &str = "https://images.smartos.org";
/// Where buildimage imports base images from (no channel: the server's default).
pub const BUILDIMAGE_SOURCE: &str = "https://updates.tritondatacenter.com";

/// One IMGAPI image source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// `http(s)://host[:port][/path]`, without a trailing `/` or query.
    pub url: String,
    /// `?channel=` on every request, if set.
    pub channel: Option<String>,
    /// Skip TLS certificate verification (this source only).
    pub insecure: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("\"{0}\" is not an image source URL (give http:// or https://host[/path])")]
    BadUrl(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not imgadm's configuration: {why}")]
    Invalid { path: PathBuf, why: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} is not a configured source (see buildy sources)")]
    NotConfigured(String),
}

impl Source {
    /// Parses a source URL; a `?channel=X` in it becomes the channel.
    pub fn parse(url: &str, insecure: bool) -> Result<Source, SourceError> {
        let bad = || SourceError::BadUrl(url.to_string());
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let rest = base.strip_prefix("https://").or_else(|| base.strip_prefix("http://")).ok_or_else(bad)?;
        let host = rest.split('/').next().unwrap_or("");
        if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '@') {
            return Err(bad());
        }
        let channel = query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == "channel")
            .map(|(_, v)| v.to_string())
            .filter(|v| !v.is_empty());
        Ok(Source { url: base.trim_end_matches('/').to_string(), channel, insecure })
    }

    /// The same source with `channel` (an explicit `-C` wins over one in the URL).
    pub fn with_channel(mut self, channel: Option<&str>) -> Source {
        if let Some(c) = channel {
            self.channel = Some(c.to_string());
        }
        self
    }
}

/// imgadm.conf.
#[derive(Debug, Clone)]
pub struct Config {
    path: PathBuf,
    json: Map<String, Value>,
}

impl Config {
    /// `<db dir>/imgadm.conf` (a missing file is an empty configuration).
    pub fn read(db_dir: &Path) -> Result<Config, SourceError> {
        let path = db_dir.join("imgadm.conf");
        let json = match std::fs::read_to_string(&path) {
            Ok(text) => match serde_json::from_str(&text) {
                Ok(Value::Object(m)) => m,
                Ok(_) => return Err(SourceError::Invalid { path, why: "not a JSON object".into() }),
                Err(e) => return Err(SourceError::Invalid { path, why: e.to_string() }),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
            Err(source) => return Err(SourceError::Read { path, source }),
        };
        Ok(Config { path, json })
    }

    /// The IMGAPI sources in order, and a warning for each entry that is
    /// not one (docker and dsapi sources are deprecated).
    pub fn sources(&self) -> (Vec<Source>, Vec<String>) {
        let Some(list) = self.json.get("sources") else {
            return (vec![Source { url: DEFAULT_SOURCE.into(), channel: None, insecure: false }], Vec::new());
        };
        let mut sources = Vec::new();
        let mut warnings = Vec::new();
        for entry in list.as_array().map(Vec::as_slice).unwrap_or_default() {
            let url = entry.get("url").and_then(Value::as_str).unwrap_or_default();
            let kind = entry.get("type").and_then(Value::as_str).unwrap_or("imgapi");
            let insecure = entry.get("insecure").and_then(Value::as_bool).unwrap_or(false);
            match (kind, Source::parse(url, insecure)) {
                ("imgapi", Ok(source)) => sources.push(source),
                ("imgapi", Err(e)) => warnings.push(format!("skipping source in {}: {e}", self.path.display())),
                (other, _) => {
                    warnings.push(format!("skipping {other} source {url}: only imgapi sources are supported"))
                }
            }
        }
        (sources, warnings)
    }

    /// Adds an imgapi source at the end (a source already there is kept
    /// where it is, its `insecure` updated).
    pub fn add(&mut self, source: &Source) {
        let list = self.source_list();
        let url = source_url(source);
        if let Some(entry) = list.iter_mut().find(|e| e.get("url").and_then(Value::as_str) == Some(&url)) {
            set_insecure(entry, source.insecure);
            return;
        }
        let mut entry = json!({"url": url, "type": "imgapi"});
        set_insecure(&mut entry, source.insecure);
        list.push(entry);
    }

    /// Removes a source.
    pub fn delete(&mut self, source: &Source) -> Result<(), SourceError> {
        let url = source_url(source);
        let list = self.source_list();
        let before = list.len();
        list.retain(|e| e.get("url").and_then(Value::as_str).map(|u| u.trim_end_matches('/')) != Some(url.as_str()));
        if list.len() == before {
            return Err(SourceError::NotConfigured(url));
        }
        Ok(())
    }

    /// Writes the file atomically.
    pub fn save(&self) -> Result<(), SourceError> {
        let write = |source| SourceError::Write { path: self.path.clone(), source };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(write)?;
        }
        let mut text = serde_json::to_string_pretty(&self.json).expect("JSON serializes");
        text.push('\n');
        atomic::write_file(&self.path, text.as_bytes()).map_err(write)
    }

    /// The `sources` array, made (with imgadm's default in it) if absent.
    fn source_list(&mut self) -> &mut Vec<Value> {
        let slot = self.json.entry("sources").or_insert_with(|| json!([{"url": DEFAULT_SOURCE, "type": "imgapi"}]));
        if !slot.is_array() {
            *slot = Value::Array(Vec::new());
        }
        slot.as_array_mut().expect("just made an array")
    }
}

fn source_url(source: &Source) -> String {
    match &source.channel {
        Some(c) => format!("{}?channel={c}", source.url),
        None => source.url.clone(),
    }
}

fn set_insecure(entry: &mut Value, insecure: bool) {
    if let Some(m) = entry.as_object_mut() {
        if insecure {
            m.insert("insecure".into(), Value::Bool(true));
        } else {
            m.remove("insecure");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_their_channel_and_bad_ones_are_refused() {
        let s = Source::parse("https://updates.tritondatacenter.com/?channel=dev", false).unwrap();
        assert_eq!((s.url.as_str(), s.channel.as_deref()), ("https://updates.tritondatacenter.com", Some("dev")));
        assert_eq!(s.clone().with_channel(Some("experimental")).channel.as_deref(), Some("experimental"));
        assert_eq!(s.with_channel(None).channel.as_deref(), Some("dev"));
        assert_eq!(Source::parse("http://127.0.0.1:8080", true).unwrap().url, "http://127.0.0.1:8080");
        for bad in ["ftp://x", "images.smartos.org", "https://", "https:///path", "https://a b"] {
            assert!(matches!(Source::parse(bad, false), Err(SourceError::BadUrl(_))), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_http_url_parses_to_itself_and_its_channel(
            host in "[a-z0-9.-]{1,20}(:[0-9]{1,5})?",
            path in "(/[a-z0-9._-]{1,8}){0,3}",
            channel in proptest::option::of("[a-z0-9-]{1,10}"),
            https in proptest::bool::ANY,
        ) {
            let base = format!("{}://{host}{path}", if https { "https" } else { "http" });
            let url = match &channel { Some(c) => format!("{base}/?channel={c}"), None => base.clone() };
            let s = Source::parse(&url, false).unwrap();
            proptest::prop_assert_eq!(s.url, base);
            proptest::prop_assert_eq!(s.channel, channel);
        }

        #[test]
        fn anything_else_is_refused_or_kept_whole(text in ".{0,40}") {
            match Source::parse(&text, false) {
                Ok(s) => proptest::prop_assert!(text.starts_with(&s.url) && s.url.contains("://")),
                Err(e) => proptest::prop_assert_eq!(e.to_string(), format!("\"{text}\" is not an image source URL (give http:// or https://host[/path])")),
            }
        }
    }

    #[test]
    fn imgadm_conf_is_read_changed_and_written_keeping_other_keys() {
        let dir = std::env::temp_dir().join(format!("buildy-sources-{}", std::process::id()));
        let conf = Config::read(&dir).unwrap();
        assert_eq!(conf.sources().0, vec![Source { url: DEFAULT_SOURCE.into(), channel: None, insecure: false }]);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("imgadm.conf"),
            r#"{"upgradedToVer": "3.0.0", "sources": [{"url": "https://a.example", "type": "imgapi"},
                {"url": "https://docker.io", "type": "docker"}]}"#,
        )
        .unwrap();
        let mut conf = Config::read(&dir).unwrap();
        let (sources, warnings) = conf.sources();
        assert_eq!(sources.len(), 1);
        assert_eq!(warnings, ["skipping docker source https://docker.io: only imgapi sources are supported"]);
        let local = Source::parse("http://127.0.0.1:1/?channel=dev", true).unwrap();
        conf.add(&local);
        conf.save().unwrap();
        let again = Config::read(&dir).unwrap();
        assert_eq!(again.sources().0[1], local);
        assert_eq!(again.json["upgradedToVer"], "3.0.0");
        let mut again = again;
        again.delete(&Source::parse("https://a.example/", false).unwrap()).unwrap();
        assert!(matches!(
            again.delete(&Source::parse("https://a.example", false).unwrap()),
            Err(SourceError::NotConfigured(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
