//! Arbitrary bytes, parsed as JSON, through every validation mode (from the
//! Value and from the compact Json, which must agree), the upgrade and the
//! typed model: none may panic.
#![no_main]

use imgmanifest::{upgrade, validate, Json, Manifest, Mode, Options};
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
    if let Ok(m) = Manifest::from_value(value) {
        let _ = m.to_json_pretty();
    }
});
