//! Property tests for the validator, the upgrade and the typed model.

use crate::util::cases::{bases, UUID};
use imgmanifest::validate::FIELDS;
use imgmanifest::{js, upgrade, validate, Code, Json, Manifest, Mode, Options};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        ".{0,20}".prop_map(Value::String),
        prop_oneof![Just("true"), Just("false"), Just("zvol"), Just(UUID), Just("null"), Just("constructor")]
            .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 40, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((field_name(), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(FIELDS.to_vec()).prop_map(String::from),
        prop::sample::select(vec![
            "networks",
            "brand",
            "min_ram",
            "max_ram",
            "min_platform",
            "bootrom",
            "name",
            "sha1",
            "size",
            "compression"
        ])
        .prop_map(String::from),
        "[a-z0-9_]{1,8}",
    ]
}

fn modes() -> impl Strategy<Value = Options> {
    prop_oneof![
        Just(Options::new(Mode::Minimal)),
        Just(Options::new(Mode::Dc)),
        Just(Options::new(Mode::Public)),
        Just(Options::new(Mode::Private)),
        Just(Options { mode: Mode::Public, channels: Some(vec!["dev".into()]) }),
        Just(Options { mode: Mode::Private, channels: Some(vec!["dev".into()]) }),
    ]
}

fn minimal_base() -> Map<String, Value> {
    bases()[1].as_object().unwrap().clone()
}

fn errors_for(m: &Map<String, Value>, field: &str, opts: &Options) -> Vec<imgmanifest::FieldError> {
    validate(&Value::Object(m.clone()), opts).into_iter().filter(|e| e.field == field).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The compact form converts back to the same JSON, keys in order.
    #[test]
    fn compact_form_round_trips(v in arb_json()) {
        let back = Value::from(&Json::from(&v));
        prop_assert_eq!(serde_json::to_string(&back).unwrap(), serde_json::to_string(&v).unwrap());
    }

    /// Any JSON, any mode: an answer, never a panic; the same answer twice,
    /// and from the compact form; every error names a field.
    #[test]
    fn validate_answers_any_json(v in arb_json(), opts in modes()) {
        let a = validate(&v, &opts);
        prop_assert_eq!(&a, &validate(&v, &opts));
        prop_assert_eq!(&a, &validate(&Json::from(&v), &opts));
        prop_assert!(a.iter().all(|e| !e.field.is_empty() || v.as_object().is_some_and(|m| m.contains_key(""))));
    }

    /// Arbitrary fields dropped into a valid manifest: the compact form gets
    /// the same errors; each key that is no field gets exactly one `Invalid`
    /// without a message. A manifest still at `"v": 2` upgrades to itself
    /// (its numbers as JavaScript's doubles),
    /// and whatever upgrade gives upgrades to itself.
    #[test]
    fn mutated_manifests_get_an_answer(fields in prop::collection::vec((field_name(), arb_json()), 1..5), opts in modes()) {
        let mut m = minimal_base();
        for (k, v) in fields { m.insert(k, v); }
        let v = Value::Object(m.clone());
        let errs = validate(&v, &opts);
        prop_assert_eq!(&errs, &validate(&Json::from(&v), &opts));
        // Bare: `requirements`' own unknown keys are named as they are, but
        // with a message.
        for key in m.keys().filter(|k| !FIELDS.contains(&k.as_str())) {
            let bare = errs.iter().filter(|e| e.field == key.as_str() && e.message.is_none()).collect::<Vec<_>>();
            prop_assert_eq!(bare.len(), 1, "{}: {:?}", key, errs);
            prop_assert_eq!(bare[0].code, Code::Invalid);
        }
        if m["v"] == json!(2) {
            // Itself, as JavaScript holds it after JSON.parse.
            prop_assert_eq!(upgrade(&v), Ok(imgmanifest::js::json_round_trip(&v)));
        }
        if let Ok(up) = upgrade(&v) {
            prop_assert_eq!(upgrade(&up), Ok(up.clone()));
        }
    }

    /// Names: exactly the characters of Node's NAME_RE, up to 1024 long.
    #[test]
    fn name_rule(name in "[A-Za-z0-9._/ -]{1,60}", bad in "[^A-Za-z0-9._/ -]") {
        let mut m = minimal_base();
        m.insert("name".into(), json!(name.clone()));
        prop_assert!(errors_for(&m, "name", &Options::new(Mode::Minimal)).is_empty());
        m.insert("name".into(), json!(format!("{name}{bad}")));
        let errs = errors_for(&m, "name", &Options::new(Mode::Minimal));
        prop_assert_eq!(errs.len(), 1);
        prop_assert_eq!(errs[0].code, Code::Invalid);
    }

    /// Versions allow `+` but not space; at most 512 UTF-16 units.
    #[test]
    fn version_rule(version in "[A-Za-z0-9._/+-]{1,60}", extra in 0usize..600) {
        let mut m = minimal_base();
        let long = format!("{version}{}", "1".repeat(extra));
        m.insert("version".into(), json!(long.clone()));
        let errs = errors_for(&m, "version", &Options::new(Mode::Minimal));
        prop_assert_eq!(errs.is_empty(), long.len() <= 512);
    }

    /// UUIDs: lower-case hex only.
    #[test]
    fn uuid_rule(hex in "[0-9a-f]{32}", upper in "[A-F]") {
        let u = format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]);
        let mut m = minimal_base();
        m.insert("uuid".into(), json!(u.clone()));
        prop_assert!(errors_for(&m, "uuid", &Options::new(Mode::Minimal)).is_empty());
        m.insert("uuid".into(), json!(format!("{}{upper}", &u[..35])));
        prop_assert_eq!(errors_for(&m, "uuid", &Options::new(Mode::Minimal)).len(), 1);
    }

    /// The UUID check agrees with the regex, character by character, for a
    /// UUID with any one character replaced (the SWAR check's edges: `/`,
    /// `:`, `` ` ``, `g`, upper case, bytes above 0x7f).
    #[test]
    fn uuid_check_is_the_regex(hex in "[0-9a-f]{32}", at in 0usize..36, c in prop_oneof![
        prop::sample::select(vec!['/', '0', '9', ':', '`', 'a', 'f', 'g', 'A', 'F', '-', '\u{80}', '\u{e9}', '\0']),
        any::<char>(),
    ]) {
        let u = format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]);
        let s: String = u.chars().enumerate().map(|(i, d)| if i == at { c } else { d }).collect();
        let regex = s.chars().count() == 36
            && s.chars().enumerate().all(|(i, d)| if [8, 13, 18, 23].contains(&i) { d == '-' } else { matches!(d, '0'..='9' | 'a'..='f') });
        prop_assert_eq!(imgmanifest::validate::is_uuid(&s), regex, "{}", s);
    }

    /// Platform versions `YYYYMMDDTHHMMSSZ`: each field in its range, from
    /// 2012 on. A valid version with at most one field replaced, so that
    /// each bound is met alone.
    #[test]
    fn platform_version_rule(
        mut fields in (2012u32..2100, 1u32..=12, 1u32..=31, 0u32..=23, 0u32..=59, 0u32..=59),
        (which, bad) in (0usize..9, prop_oneof![
            prop::sample::select(vec![0u32, 1, 11, 12, 13, 22, 23, 24, 30, 31, 32, 58, 59, 60, 99]),
            0u32..100,
        ]),
    ) {
        let (mut t, mut z) = ('T', 'Z');
        match which {
            0 => fields.0 = 2000 + bad % 20,
            1 => fields.1 = bad,
            2 => fields.2 = bad,
            3 => fields.3 = bad,
            4 => fields.4 = bad,
            5 => fields.5 = bad,
            6 => t = 't',
            7 => z = 'z',
            _ => {}
        }
        let (y, mo, d, h, mi, sec) = fields;
        let s = format!("{y:04}{mo:02}{d:02}{t}{h:02}{mi:02}{sec:02}{z}");
        let expected = y >= 2012 && (1..=12).contains(&mo) && (1..=31).contains(&d)
            && t == 'T' && h <= 23 && mi <= 59 && sec <= 59 && z == 'Z';
        prop_assert_eq!(imgmanifest::validate::is_platform_version(&s), expected, "{}", s);
    }

    /// published_at: `YYYY-MM-DDTHH:MM:SS(.SSS)Z` and nothing else.
    #[test]
    fn published_at_rule(d in "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{3})?Z", junk in "[^0-9]") {
        let mut m = minimal_base();
        m.insert("published_at".into(), json!(d.clone()));
        prop_assert!(errors_for(&m, "published_at", &Options::new(Mode::Minimal)).is_empty());
        m.insert("published_at".into(), json!(format!("{junk}{d}")));
        prop_assert_eq!(errors_for(&m, "published_at", &Options::new(Mode::Minimal)).len(), 1);
    }

    /// Public and private modes: the value of `public` decides.
    #[test]
    fn public_and_private_modes(public in any::<bool>()) {
        let mut m = bases()[0].as_object().unwrap().clone();
        m.insert("public".into(), json!(public));
        let pub_errs = errors_for(&m, "public", &Options::new(Mode::Public));
        let priv_errs = errors_for(&m, "public", &Options::new(Mode::Private));
        let dc_errs = errors_for(&m, "public", &Options::new(Mode::Dc));
        prop_assert_eq!(pub_errs.is_empty(), public);
        prop_assert_eq!(priv_errs.is_empty(), !public);
        prop_assert!(dc_errs.is_empty());
    }

    /// zvol-only fields: allowed exactly when type is zvol.
    #[test]
    fn zvol_only_fields(field in prop::sample::select(vec!["nic_driver", "disk_driver", "cpu_type"]), zvol in any::<bool>()) {
        let mut m = minimal_base();
        m.insert("type".into(), json!(if zvol { "zvol" } else { "zone-dataset" }));
        m.insert(field.into(), json!("virtio"));
        prop_assert_eq!(errors_for(&m, field, &Options::new(Mode::Minimal)).is_empty(), zvol);
    }

    /// Upgrading twice changes nothing more; the result is a v2 manifest.
    #[test]
    fn upgrade_is_idempotent(disabled in any::<bool>(), restricted in any::<bool>(), mins in "[0-5][0-9]") {
        let mut m = bases()[4].as_object().unwrap().clone();
        // image_size is only valid on zvols (in Node too).
        m.shift_remove("image_size");
        m.insert("disabled".into(), json!(disabled));
        m.insert("published_at".into(), json!(format!("2011-04-11T08:{mins}Z")));
        if restricted { m.insert("restricted_to_uuid".into(), json!(UUID)); }
        let once = upgrade(&Value::Object(m)).unwrap();
        prop_assert_eq!(&upgrade(&once).unwrap(), &once);
        prop_assert_eq!(&once["v"], &json!(2));
        prop_assert_eq!(once["published_at"].as_str().unwrap(), format!("2011-04-11T08:{mins}:00Z"));
        prop_assert_eq!(&once["public"], &json!(!restricted));
        prop_assert_eq!(&once["state"], &json!(if disabled { "disabled" } else { "active" }));
        prop_assert!(validate(&once, &Options::new(Mode::Minimal)).is_empty());
    }

    /// The typed model writes keys back in the order it read them.
    #[test]
    fn model_keeps_key_order(order in Just(bases()[1].as_object().unwrap().keys().cloned().collect::<Vec<_>>()).prop_shuffle()) {
        let base = bases()[1].as_object().unwrap().clone();
        let shuffled: Map<String, Value> = order.iter().map(|k| (k.clone(), base[k].clone())).collect();
        let text = serde_json::to_string(&Value::Object(shuffled.clone())).unwrap();
        let m: Manifest = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(serde_json::to_string(&m).unwrap(), text);
    }

    /// JavaScript number formatting round-trips and String->Number agrees
    /// with Rust on plain decimals.
    #[test]
    fn js_numbers(f in any::<f64>().prop_filter("finite", |f| f.is_finite())) {
        let s = js::number_to_string(f);
        prop_assert_eq!(js::string_to_number(&s), if f == 0.0 { 0.0 } else { f });
        prop_assert_eq!(js::string_to_number(&format!("{f}")), f);
    }
}
