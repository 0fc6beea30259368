//! Manifests for the differential test and benchmark: valid ones, every
//! field mutated through wrong types, boundary lengths, bad UUIDs and dates,
//! zvol-only fields, requirements sub-fields, files entries and channels,
//! plus seeded random combinations. Deterministic: same list every run.

use serde_json::{json, Map, Value};

pub const UUID: &str = "f3078f0c-a53b-4140-b7af-fbb6308a8e35";
pub const OWNER: &str = "352971aa-31ba-496c-9ade-a379feaecd52";

/// Valid starting points: a full DC manifest, a minimal one, a zvol, an
/// lxd image with two files, a v1 dsmanifest, and the real manifests in
/// `fixtures/manifests/real`.
pub fn bases() -> Vec<Value> {
    let full = json!({
        "v": 2, "uuid": UUID, "owner": OWNER, "name": "base-64", "version": "18.4.0",
        "description": "A 64-bit SmartOS image", "homepage": "https://docs.tritondatacenter.com/",
        "eula": "http://example.com/eula", "disabled": false, "activated": true,
        "published_at": "2018-10-11T12:13:14.123Z", "state": "active", "public": true,
        "type": "zone-dataset", "os": "smartos", "origin": "649d6948-4f1d-11e8-8249-1b9928638559",
        "files": [{"sha1": "0654b7d720ac65670805fd3c277cea26f1cec4ac", "size": 3331328, "compression": "gzip",
                   "dataset_guid": "1234567890123456789"}],
        "acl": [OWNER],
        "requirements": {"min_platform": {"7.0": "20181011T004530Z"}, "networks": [{"name": "net0", "description": "public"}],
                         "brand": "joyent", "ssh_key": true, "min_ram": 256, "max_ram": 1024},
        "users": [{"name": "root"}, {"name": "admin"}],
        "billing_tags": ["small"], "traits": {"ssd": true, "hw": ["a"], "rack": "r1"},
        "tags": {"role": "db", "n": 3}, "generate_passwords": true,
        "inherited_directories": ["/opt/local"],
    });
    let minimal = json!({"v": 2, "uuid": UUID, "name": "peer-incr-gzip", "version": "1.0.0",
        "description": "sample", "type": "zone-dataset", "os": "smartos",
        "origin": "3f5cd6a1-cbbd-403a-9dfb-8d1055c8f474",
        "files": [{"size": 3331328, "compression": "gzip", "sha1": "0654b7d720ac65670805fd3c277cea26f1cec4ac"}]});
    let zvol = json!({"v": 2, "uuid": UUID, "owner": OWNER, "name": "ubuntu", "version": "20.04",
        "disabled": false, "activated": true, "published_at": "2020-01-01T00:00:00Z", "state": "active",
        "public": false, "type": "zvol", "os": "linux",
        "files": [{"sha1": "ab", "size": 10, "compression": "none"}],
        "nic_driver": "virtio", "disk_driver": "virtio", "cpu_type": "host", "image_size": 10240,
        "requirements": {"brand": "bhyve", "bootrom": "uefi", "max_platform": {"7.0": "20300101T000000Z"}},
        "channels": ["dev", "release"]});
    let lxd = json!({"v": 2, "uuid": UUID, "owner": OWNER, "name": "lxd", "version": "1",
        "disabled": false, "activated": false, "state": "unactivated", "public": true,
        "type": "lxd", "os": "linux",
        "files": [{"sha1": "a", "size": 1, "compression": "xz"}, {"sha1": "b", "size": 2, "compression": "bzip2"}]});
    let v1 = json!({"name": "smartos", "version": "1.6.3", "type": "zone-dataset", "os": "smartos",
        "description": "Base template", "uuid": "febaa412-6417-11e0-bc56-535d219f2590",
        "creator_uuid": OWNER, "vendor_uuid": OWNER, "creator_name": "sdc", "cloud_name": "sdc",
        "platform_type": "smartos", "created_at": "2011-04-11T08:45Z", "updated_at": "2011-04-11T08:45Z",
        "published_at": "2011-04-11T08:45Z",
        "files": [{"path": "smartos-1.6.3.zfs.bz2", "sha1": "a", "size": 1, "url": "https://x/smartos-1.6.3.zfs.bz2"}],
        "requirements": {"networks": [{"name": "net0", "description": "public"}]},
        "image_size": "4096", "disabled": 0});
    let mut out = vec![full, minimal, zvol, lxd, v1];
    out.extend(fixture_manifests().into_iter().map(|(_, v)| v));
    out
}

/// The real manifests in `fixtures/manifests/real`, by file name.
pub fn fixture_manifests() -> Vec<(String, Value)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/manifests/real");
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        let text = std::fs::read_to_string(&p).unwrap();
        out.push((p.file_name().unwrap().to_string_lossy().into_owned(), serde_json::from_str(&text).unwrap()));
    }
    out
}

pub fn long(n: usize, c: char) -> String {
    std::iter::repeat_n(c, n).collect()
}

/// Values every field gets tried with: each JSON type, edge numbers, strings
/// that coerce, boolean-like strings.
pub fn generic_values() -> Vec<Value> {
    vec![
        Value::Null,
        json!(true),
        json!(false),
        json!(0),
        json!(1),
        json!(-1),
        json!(2),
        json!(1.5),
        json!(-0.0),
        json!(1e21),
        json!(9007199254740993u64),
        json!(""),
        json!("x"),
        json!("true"),
        json!("false"),
        json!("null"),
        json!("2"),
        json!(" 12 "),
        json!("0x10"),
        json!("-1"),
        json!("1e3"),
        json!("abc def"),
        json!([]),
        json!(["x"]),
        json!([1, "a"]),
        json!([null]),
        json!({}),
        json!({"a": 1}),
        json!({"length": 5000}),
        json!({"b-c": "it's", "n": null}),
        json!("constructor"),
        json!("toString"),
        json!("__proto__"),
        json!(["zvol"]),
        json!([UUID]),
        json!(UUID.to_uppercase()),
        json!("é"),
        json!("\u{1F600}"),
        json!([[1]]),
    ]
}

/// Numbers JavaScript cannot hold exactly, or writes otherwise than
/// serde_json: integers at and past 2^53, past u64, exponents both ways,
/// the extremes, negative zero; and strings `Number()` reads as such.
pub fn number_values() -> Vec<Value> {
    let parse = |s: &str| serde_json::from_str::<Value>(s).unwrap();
    let mut v: Vec<Value> = [
        "9007199254740991",
        "9007199254740992",
        "9007199254740993",
        "9007199254740995",
        "-9007199254740993",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775809",
        "1152921504606846976",
        "123456789012345678901234567890",
        "1e20",
        "1E21",
        "1e+21",
        "2.5e25",
        "1.7976931348623157e308",
        "5e-324",
        "1e-7",
        "1.5e-7",
        "0.000001",
        "0.1",
        "100.0",
        "1e300",
        "-0",
        "-0.0",
        "-1e-400",
        "4.35",
        "0.30000000000000004",
    ]
    .iter()
    .map(|s| parse(s))
    .collect();
    v.extend(
        ["9007199254740993", "0x20000000000001", "0x1fffffffffffff1", "0b101", "0o17", "1e21", "-0", "1E400", "1e-7"]
            .iter()
            .map(|s| json!(s)),
    );
    v
}

/// Values specific to a field: boundaries and near-misses.
pub fn field_values(field: &str) -> Vec<Value> {
    let mut v: Vec<Value> = match field {
        "v" => vec![json!(1), json!(3), json!("1"), json!("Infinity"), json!("-0"), json!([2]), json!(" ")],
        "uuid" | "owner" | "origin" => vec![
            json!(UUID),
            json!(&UUID[..35]),
            json!(format!("{UUID}0")),
            json!(format!("{UUID}\n")),
            json!("f3078f0ca53b4140b7affbb6308a8e35"),
            json!("g3078f0c-a53b-4140-b7af-fbb6308a8e35"),
        ],
        "name" => vec![
            json!(long(1024, 'a')),
            json!(long(1025, 'a')),
            json!(long(513, '\u{1F600}')),
            json!("a/b c.d_e-f"),
            json!("a+b"),
            json!("a\tb"),
            json!(vec!["a"; 1025]),
            json!(123),
            json!(1e21),
            json!("tab\t"),
        ],
        "version" => vec![
            json!(long(512, '1')),
            json!(long(513, '1')),
            json!("1.0+build/x"),
            json!("1 0"),
            json!("master-20220322T012137Z-g9382491"),
        ],
        "description" => vec![json!(long(10240, 'd')), json!(long(10241, 'd')), json!({"length": "20000"})],
        "homepage" | "eula" => vec![
            json!("http://x"),
            json!("HTTPS://X.com/a"),
            json!(" https://a"),
            json!("http:"),
            json!("ftp://a"),
            json!("javascript:x"),
            json!("//x"),
            json!("http//x"),
            json!(format!("http://{}", long(1017, 'a'))),
            json!(format!("http://{}", long(1018, 'a'))),
            json!("http://[::1]/"),
            json!("http://[::1"),
            json!("http://a]b"),
            json!("\u{a0}http://x"),
            json!("\u{2028}http://x"),
            json!("h.t+t-p:x"),
            json!("\u{1}http://x"),
            json!("HTTP:x\u{2028}"),
            json!("http://xn--abc-.com"),
            json!("http://xn--a.com"),
            json!("http://a\u{ad}b.com"),
            json!("http://\u{ad}/"),
            json!("http://a\u{2029}b/"),
            json!("http://%zz@x/"),
        ]
        .into_iter()
        .chain(urls().into_iter().step_by(97).map(Value::String))
        .collect(),
        "disabled" | "activated" | "public" | "icon" | "generate_passwords" => {
            vec![json!("yes"), json!("TRUE"), json!(1), json!([true])]
        }
        "published_at" => vec![
            json!("2018-10-11T12:13:14Z"),
            json!("2018-10-11T12:13:14.1Z"),
            json!("2018-10-11T12:13:14.1234Z"),
            json!("2018-10-11T12:13Z"),
            json!("2018-10-11 12:13:14Z"),
            json!("2018-10-11T12:13:14.123Z\n"),
            json!("99999-10-11T12:13:14Z"),
            json!(["2018-10-11T12:13:14Z"]),
        ],
        "state" => vec![json!("active"), json!("creating"), json!("failed"), json!("disabled"), json!("Active")],
        "type" => vec![
            json!("zvol"),
            json!("lxd"),
            json!("lx-dataset"),
            json!("docker"),
            json!("other"),
            json!("null"),
            json!("valueOf"),
        ],
        "os" => vec![
            json!("linux"),
            json!("windows"),
            json!("bsd"),
            json!("illumos"),
            json!("other"),
            json!("null"),
            json!("Linux"),
        ],
        "nic_driver" | "disk_driver" | "cpu_type" => {
            vec![json!("virtio"), json!("e1000"), json!("host")]
        }
        "image_size" => vec![json!(10240), json!("10240"), json!("10.5"), json!(0), json!(-5), json!(1e300)],
        "files" => files_values(),
        "requirements" => requirements_values(),
        "users" => vec![
            json!([{"name": "root"}]),
            json!([{"name": "root", "x": 1}]),
            json!([{"nam": "root"}]),
            json!(["root"]),
            json!([null]),
            json!([[]]),
            json!([{}]),
        ],
        "billing_tags" => {
            vec![json!(["a", "b"]), json!([long(128, 'b')]), json!([long(129, 'b')]), json!([1, null, {}])]
        }
        "traits" => vec![
            json!({"a": 1}),
            json!({"a": null}),
            json!({"a": {}}),
            json!({"2": 1, "1": "x", "b": 2.5}),
            json!([1, "a"]),
        ],
        "tags" => {
            vec![json!({"big": long(102_392, 'x')}), json!({"big": long(102_393, 'x')}), json!({"nested": {"a": [1]}})]
        }
        "inherited_directories" => vec![json!(["/opt"]), json!(["/opt", 1]), json!("/opt")],
        "acl" => vec![json!([UUID, OWNER]), json!([UUID, "nope", "also-bad"]), json!([1]), json!(UUID)],
        "channels" => vec![json!(["dev"]), json!(["dev", 1, null]), json!("dev"), json!({"dev": true})],
        "urn" => vec![json!("sdc:sdc:base:1.0")],
        "error" => vec![json!({"message": "boom"}), json!("boom")],
        _ => vec![],
    };
    v.extend(generic_values());
    if matches!(field, "v" | "image_size" | "tags" | "traits" | "error" | "files" | "requirements") {
        v.extend(number_values());
        v.extend(number_values().into_iter().map(|n| json!({"n": n, "list": [n]})));
    }
    v
}

fn files_values() -> Vec<Value> {
    let f = |sha1: Value, size: Value, compression: Value| {
        let mut m = Map::new();
        if !sha1.is_null() {
            m.insert("sha1".into(), sha1);
        }
        if !size.is_null() {
            m.insert("size".into(), size);
        }
        if !compression.is_null() {
            m.insert("compression".into(), compression);
        }
        Value::Object(m)
    };
    let ok = f(json!("ab"), json!(1), json!("gzip"));
    vec![
        json!([ok.clone()]),
        json!([ok.clone(), ok.clone()]),
        json!([ok.clone(), ok.clone(), ok.clone()]),
        json!([f(Value::Null, json!(1), json!("gzip"))]),
        json!([f(json!("ab"), json!(0), json!("gzip"))]),
        json!([f(json!("ab"), json!("0"), json!("zstd"))]),
        json!([f(json!(""), Value::Null, Value::Null)]),
        json!([f(json!("ab"), json!(1), json!(["gzip"]))]),
        json!([f(json!("ab"), json!(1), json!(7))]),
        json!([f(json!("ab"), json!(1), json!({"a": 1}))]),
        json!([null]),
        json!([5]),
        json!(["file"]),
        json!([]),
        json!({"0": ok}),
        json!([f(json!("ab"), json!(9007199254740993u64), json!("gzip"))]),
        json!([f(json!("ab"), json!(1e21), json!("gzip"))]),
        json!([{"path": "a.gz", "sha1": "ab", "size": 18446744073709551615u64}]),
    ]
}

fn requirements_values() -> Vec<Value> {
    vec![
        json!({}),
        json!({"networks": [{"name": "n", "description": "d"}]}),
        json!({"networks": [{"name": "n"}]}),
        json!({"networks": [{"name": "n", "description": "d", "x": 1}]}),
        json!({"networks": [null, "n", []]}),
        json!({"networks": "net0"}),
        json!({"networks": {"name": "n"}}),
        json!({"networks": []}),
        json!({"brand": "lx"}),
        json!({"brand": 5}),
        json!({"brand": ""}),
        json!({"ssh_key": "yes"}),
        json!({"ssh_key": false}),
        json!({"min_ram": 512, "max_ram": 256}),
        json!({"min_ram": -512, "max_ram": -1024}),
        json!({"min_ram": 1.5}),
        json!({"min_ram": "512"}),
        json!({"max_ram": 0}),
        json!({"min_ram": 512, "max_ram": 512}),
        json!({"min_platform": {"7.0": "20130308T102805Z"}}),
        json!({"min_platform": {"7.0": "20110308T102805Z"}}),
        json!({"min_platform": {"7.0": "20131308T102805Z"}}),
        json!({"min_platform": {"7.0": "20130300T102805Z"}}),
        json!({"min_platform": {"7.0": "20130308X102805Z"}}),
        json!({"min_platform": {"7.0": "20130308T242805Z"}}),
        json!({"min_platform": {"7.0": "20130308T106005Z"}}),
        json!({"min_platform": {"7.0": "20130308T102860Z"}}),
        json!({"min_platform": {"7.0": "20130308T102805z"}}),
        json!({"min_platform": {"7.0": "abcdefghTijklmnZ"}}),
        json!({"min_platform": {"7.0": " 2013 308T102805Z"}}),
        json!({"min_platform": {"7.0": 20130308}}),
        json!({"min_platform": {"7.0": null}}),
        json!({"min_platform": {"7.0": "20130308T102805Z", "6.5": "2013"}}),
        json!({"min_platform": {}}),
        json!({"min_platform": "20130308T102805Z"}),
        json!({"min_platform": ["20130308T102805Z"]}),
        json!({"max_platform": {"7.0": "20130308T102805Z", "10": "x"}}),
        json!({"bootrom": "bios"}),
        json!({"bootrom": "bios", "brand": "bhyve"}),
        json!({"bootrom": "efi", "brand": "bhyve"}),
        json!({"bootrom": "bios", "brand": "kvm"}),
        json!({"bootrom": ["bios"], "brand": "bhyve"}),
        json!({"foo": 1, "2": true, "bar": null, "1": 0}),
        json!("ab"),
        json!(["x", "y"]),
        json!(7),
        json!(true),
        Value::Null,
    ]
}

/// Extra, unknown top-level keys (Node lists them as Invalid, array-index
/// keys first).
pub fn extra_keys() -> Vec<(&'static str, Value)> {
    vec![("foo", json!(1)), ("7", json!(1)), ("creator_uuid", json!(OWNER)), ("_url", json!("x"))]
}

/// Small seeded generator so the case list is reproducible.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

use imgmanifest::validate::FIELDS as ALL_FIELDS;

/// Every case: each base; each base with each field removed; each base with
/// each field set to each of its values; extra keys; then `random` seeded
/// combinations of 2 to 5 mutations; finally a few non-object manifests.
pub fn all_cases(random: usize) -> Vec<Value> {
    let bases = bases();
    let mut out = Vec::new();
    for base in &bases {
        out.push(base.clone());
        let m = base.as_object().unwrap();
        for field in ALL_FIELDS {
            if m.contains_key(*field) {
                let mut c = m.clone();
                c.shift_remove(*field);
                out.push(Value::Object(c));
            }
            for value in field_values(field) {
                let mut c = m.clone();
                c.insert(field.to_string(), value);
                out.push(Value::Object(c));
            }
        }
        for (k, v) in extra_keys() {
            let mut c = m.clone();
            c.insert(k.into(), v);
            out.push(Value::Object(c));
        }
    }
    let mut rng = Rng::new(0x005e_ed1d_eab1_11d7);
    for _ in 0..random {
        let base = &bases[rng.below(bases.len())];
        let mut c = base.as_object().unwrap().clone();
        for _ in 0..2 + rng.below(4) {
            let field = ALL_FIELDS[rng.below(ALL_FIELDS.len())];
            if rng.below(5) == 0 {
                c.shift_remove(field);
            } else {
                let values = field_values(field);
                c.insert(field.into(), values[rng.below(values.len())].clone());
            }
        }
        out.push(Value::Object(c));
    }
    // Non-object manifests: Node throws (or, for an array, walks its indices).
    out.extend([json!(null), json!("manifest"), json!(42), json!([1, 2])]);
    out
}

/// Host pieces from the failure classes of the WHATWG URL and IDNA test
/// data: forbidden and mapped-away characters, Punycode that does not
/// decode or decodes to the wrong thing, bidi and joiner rules, characters
/// newer than Node's Unicode tables, plus ordinary names.
pub fn host_atoms() -> Vec<String> {
    let mut atoms: Vec<String> = [
        "a",
        "example",
        "com",
        "EXAMPLE",
        "-a",
        "a-",
        "ab--c",
        "1",
        "123",
        "0x7f",
        "999999999999",
        "1.2.3.4",
        "xn--",
        "xn--a",
        "xn--abc",
        "xn--abc-",
        "xn---abc",
        "xn--zca",
        "XN--ZCA",
        "xn--ls8h",
        "xn--9ca",
        "xn--fa-hia",
        "xn--a-ecp",
        "xn--xn--a",
        "xn--ab_c-",
        "xn--0",
        "xn--99999999",
        "xn--ss-",
        "xn--a.b",
        "xn--\u{e9}",
        "xn--tda",
        "xn--ba",
        "xn--zz",
        "%41",
        "%zz",
        "a%2Eb",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let chars = [
        '\u{0}',
        '\u{1}',
        '\u{8}',
        '\u{b}',
        '\u{1f}',
        '\u{7f}',
        '\u{80}',
        '\u{9f}',
        '\u{a0}',
        '\u{ad}',
        '\u{df}',
        '\u{130}',
        '\u{3a3}',
        '\u{3c2}',
        '\u{1e9e}',
        '\u{300}',
        '\u{301}',
        '\u{34f}',
        '\u{378}',
        '\u{5d0}',
        '\u{5d1}',
        '\u{627}',
        '\u{628}',
        '\u{660}',
        '\u{6f0}',
        '\u{94d}',
        '\u{915}',
        '\u{180e}',
        '\u{200b}',
        '\u{200c}',
        '\u{200d}',
        '\u{200e}',
        '\u{202e}',
        '\u{2028}',
        '\u{2029}',
        '\u{2060}',
        '\u{2488}',
        '\u{3002}',
        '\u{3000}',
        '\u{fdd0}',
        '\u{fe0f}',
        '\u{feff}',
        '\u{ff03}',
        '\u{ff05}',
        '\u{ff0e}',
        '\u{ff21}',
        '\u{ff61}',
        '\u{fffd}',
        '\u{ffff}',
        '\u{e000}',
        '\u{1c89}',
        '\u{a7cb}',
        '\u{2ebf0}',
        '\u{1f4a9}',
        '\u{e0001}',
        '\u{e0100}',
        '\u{10ffff}',
        '!',
        '"',
        '#',
        '$',
        '%',
        '&',
        '\'',
        '(',
        '*',
        '+',
        ',',
        ':',
        ';',
        '<',
        '=',
        '>',
        '?',
        '@',
        '[',
        '\\',
        ']',
        '^',
        '_',
        '`',
        '{',
        '|',
        '}',
        '~',
        ' ',
        '\t',
        '\n',
        '\r',
        '.',
        '-',
        'A',
        'é',
        'ü',
    ];
    atoms.extend(chars.iter().map(|c| c.to_string()));
    for c in chars {
        atoms.push(format!("a{c}"));
        atoms.push(format!("{c}b"));
    }
    // Names that are valid or invalid only as a whole label.
    atoms.extend(
        [
            "faß",
            "bücher",
            "\u{5d0}\u{5d1}",
            "\u{5d0}a",
            "a\u{5d0}",
            "1\u{5d0}",
            "\u{5d0}1",
            "\u{627}\u{660}",
            "\u{627}1\u{660}",
            "\u{627}\u{6f0}",
            "\u{5d0}\u{300}",
            "\u{915}\u{94d}\u{200c}",
            "\u{915}\u{94d}\u{200d}",
            "\u{628}\u{200c}\u{628}",
            "a\u{200c}b",
            "\u{628}\u{200c}",
            "\u{200c}\u{628}",
            "\u{1f4a9}\u{1f4a9}",
            "\u{3a3}\u{3a3}",
            "\u{130}x",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    // The Punycode of names valid and not: decoding is the only check
    // Node makes of an ASCII xn-- label.
    let snapshot = atoms.clone();
    for a in snapshot.iter().filter(|a| !a.is_ascii()) {
        let chars: Vec<char> = a.chars().collect();
        if let Some(p) = idna::punycode::encode(&chars) {
            atoms.push(format!("xn--{p}"));
        }
    }
    atoms
}

/// URLs as `homepage` and `eula` may hold them: schemes as written in any
/// case, with and without slashes (back slashes too), user info with good
/// and bad percent-encoding, ports, IPv6 literals, white space around, and
/// hosts made of one to three `host_atoms` joined by dots.
pub fn urls() -> Vec<String> {
    let atoms = host_atoms();
    let mut out: Vec<String> = atoms.iter().map(|a| format!("http://{a}/")).collect();
    out.extend(atoms.iter().map(|a| format!("https://x.{a}")));
    out.extend(atoms.iter().map(|a| format!("HTTP:{a}")));
    let schemes = ["http:", "https:", "HTTP:", "Https:", "hTtP:", "ftp:", "javascript:", "http", ""];
    let slashes = ["//", "\\\\", "/\\", "/", "", "///"];
    let users = ["", "u@", "u:p@", "%41@", "%zz@", "%E0%A4%A@", "%C3%A9@", "%C0%80@", "%ED%A0%80@", "a@b@", "%@"];
    let ports = ["", ":80", ":", ":x", ":8a"];
    let tails = ["", "/", "/p?q#f", "?x", "#y", " z", "\\x", "/\u{2028}"];
    let spaces = ["", " ", "\u{1}", "\u{a0}", "\u{feff}", "\u{2028}"];
    let ipv6 = ["[::1]", "[::1]x", "[", "[]", "[a\u{2028}]", "[\u{0}]", "[::1", "::1]", "[A:B]", "[%]"];
    let mut rng = Rng::new(0x0c0f_fee0_0b1d_ab1e);
    let mut pick = |n: usize| rng.below(n);
    for i in 0..20_000 {
        let host = if i % 16 == 0 {
            ipv6[pick(ipv6.len())].to_string()
        } else {
            let labels = 1 + pick(3);
            (0..labels).map(|_| atoms[pick(atoms.len())].as_str()).collect::<Vec<_>>().join(".")
        };
        let (scheme, slash) = if i % 4 == 0 {
            (schemes[pick(schemes.len())], slashes[pick(slashes.len())])
        } else {
            (["http:", "https:"][pick(2)], "//")
        };
        let (user, port, tail) = (users[pick(users.len())], ports[pick(ports.len())], tails[pick(tails.len())]);
        let (lead, trail) =
            if i % 8 == 0 { (spaces[pick(spaces.len())], spaces[pick(spaces.len())]) } else { ("", "") };
        out.push(format!("{lead}{scheme}{slash}{user}{host}{port}{tail}{trail}"));
    }
    out
}
