//! Channels, as sdc-imgapi's `lib/channels.js` handles them: a configured
//! list with a default; `?channel=` picks one on every request, no channel
//! means the default, an unknown one is 422 `ValidationFailed`, and `*` (all
//! channels) is allowed where listing or reading allows it. Without channels
//! configured, `?channel=` is ignored and `/channels` does not exist.

use serde_json::{json, Value};

use crate::errors::ApiError;

/// The server's channels. `default` names one of `names`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channels {
    pub names: Vec<String>,
    pub default: String,
}

/// `etc/standalone/standard-channels.json`.
const STANDARD: [(&str, &str); 5] = [
    ("experimental", "feature-branch builds (warning: 'latest' isn't meaningful)"),
    ("dev", "main development branch builds"),
    ("staging", "staging for release branch builds before a full release"),
    ("release", "release bits"),
    ("support", "MNX-supported release bits"),
];

impl Channels {
    /// The standard set of updates.tritondatacenter.com: experimental, dev
    /// (the default), staging, release, support.
    pub fn standard() -> Channels {
        Channels::new(&STANDARD.map(|(n, _)| n), "dev")
    }

    pub fn new(names: &[&str], default: &str) -> Channels {
        Channels { names: names.iter().map(|s| s.to_string()).collect(), default: default.to_string() }
    }

    /// The checks `channelInfoFromConfig` asserts on at startup.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.names.is_empty() {
            return Err("empty channels list".into());
        }
        for n in &self.names {
            let mut chars = n.chars();
            let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
                && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
            if !ok {
                return Err(format!("invalid channel name: {n:?}, must match /^[a-z][a-z0-9_-]*$/"));
            }
        }
        if !self.default.is_empty() && !self.names.contains(&self.default) {
            return Err(format!("default channel {:?} is not in the list", self.default));
        }
        Ok(())
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    /// ListChannels' answer: `{name, description[, default: true]}` in
    /// configured order. Names outside the standard set get their own name as
    /// description (the real config requires one; ours has none).
    pub(crate) fn listing(&self) -> Value {
        Value::Array(
            self.names
                .iter()
                .map(|n| {
                    let description = STANDARD.iter().find(|(s, _)| s == n).map_or(n.as_str(), |(_, d)| d);
                    let mut c = json!({ "name": n, "description": description });
                    if *n == self.default {
                        c["default"] = json!(true);
                    }
                    c
                })
                .collect(),
        )
    }
}

/// The request's channel: `Ok(None)` when the server has no channels or for
/// `*` (where allowed); the errors of `reqChannel`/`reqChannelAllowStar`.
pub(crate) fn resolve(
    channels: Option<&Channels>,
    asked: Option<&str>,
    allow_star: bool,
) -> Result<Option<String>, ApiError> {
    let Some(channels) = channels else { return Ok(None) };
    match asked {
        None | Some("") => {
            if channels.default.is_empty() {
                Err(ApiError::validation_failed(
                    "channel not specified and the server has no default channel",
                    vec![ApiError::field("channel", "MissingParameter")],
                ))
            } else {
                Ok(Some(channels.default.clone()))
            }
        }
        Some("*") if allow_star => Ok(None),
        Some(name) if channels.contains(name) => Ok(Some(name.to_string())),
        Some(name) => Err(unknown(name)),
    }
}

pub(crate) fn unknown(name: &str) -> ApiError {
    ApiError::validation_failed(format!("unknown channel: {name}"), vec![ApiError::field("channel", "Invalid")])
}
