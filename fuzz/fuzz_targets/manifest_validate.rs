//! Arbitrary bytes, parsed as JSON, through every validation mode (from the
//! Value and from the compact Json, which must agree), the upgrade and the
//! typed model, and as the options of the Docker helper
//! (`img_manifest_from_docker_info`, whose `created` goes through V8's date
//! parser); a JSON string also through `url.parse`, where the validator's
//! quick check must agree with the full parse. None may panic.
#![no_main]

use imgmanifest::docker::img_manifest_from_docker_info;
use imgmanifest::{node_url, upgrade, validate, Json, Manifest, Mode, Options};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let compact = Json::from(&value);
    for mode in [Mode::Minimal, Mode::Dc, Mode::Public, Mode::Private] {
        for opts in [Options::new(mode), Options { mode, channels: Some(vec!["dev".into()]) }] {
            assert_eq!(validate(&value, &opts), validate(&compact, &opts));
        }
    }
    if let Ok(up) = upgrade(&value) {
        let _ = validate(&up, &Options::new(Mode::Minimal));
    }
    if let Ok(m) = img_manifest_from_docker_info(&value) {
        let _ = validate(&m, &Options::new(Mode::Dc));
    }
    if let Some(s) = value.as_str() {
        let full = node_url::parse(s).is_ok_and(|u| matches!(u.protocol.as_deref(), Some("http:" | "https:")));
        assert_eq!(node_url::is_http_url(s), full, "{s:?}");
    }
    if let Ok(m) = Manifest::from_value(value) {
        let _ = m.to_json_pretty();
    }
});
