//! Inputs for Node's Docker helpers (`docker.rs`); apart from `cases.rs`,
//! which the benchmark compiles too.

use super::cases::{long, Rng, OWNER, UUID};
use serde_json::{json, Value};

/// A digest of the right form, from a seed.
pub fn digest(seed: u64) -> String {
    let mut rng = Rng::new(seed | 1);
    let hex: String = (0..64).map(|_| char::from(b"0123456789abcdef"[rng.below(16)])).collect();
    format!("sha256:{hex}")
}

/// Digests and ids that are not quite right: wrong lengths, algorithms,
/// colons, characters (64 UTF-16 units of non-ASCII pass Node's check).
pub fn bad_digests() -> Vec<String> {
    let d = digest(7);
    vec![
        d[..70].to_string(),
        format!("{d}0"),
        d.replace("sha256", "sha512"),
        d.replace("sha256:", "sha256"),
        d.replace("sha256:", "sha256::"),
        format!("x:{d}"),
        String::new(),
        ":".into(),
        d.to_uppercase(),
        format!("sha256:{}", "é".repeat(64)),
        format!("sha256:{}", "\u{1F600}".repeat(32)),
        format!("sha256:a{}", "\u{1F600}".repeat(31) + "b"),
        format!("sha256:{}", "g".repeat(64)),
    ]
}

/// `created` times: ISO forms and V8's extensions, legacy forms, out of
/// range, numbers, and non-strings.
pub fn date_values() -> Vec<Value> {
    let strings = [
        "2015-08-06T21:11:58.412862713Z",
        "2015-08-06T21:11:58Z",
        "2015-08-06T21:11:58",
        "2015-08-06T21:11Z",
        "2015-08-06",
        "2015-08",
        "2015",
        "+002015-08-06T00:00:00Z",
        "-000001-01-01T00:00:00Z",
        "-000000-01-01",
        "+275760-09-13T00:00:00Z",
        "+275760-09-13T00:00:00.001Z",
        "-271821-04-20T00:00:00Z",
        "-271821-04-19T23:59Z",
        "2015-08-06T24:00:00Z",
        "2015-08-06T24:00:01Z",
        "2015-08-06T23:60:00Z",
        "2015-02-31T00:00:00Z",
        "2015-13-01",
        "2015-08-06T21:11:58.4+02:00",
        "2015-08-06T21:11:58-0230",
        "2015-08-06T21:11:58+24:00",
        "2015-08-06t21:11:58z",
        "2015-08-06 21:11:58",
        "2015-08-06T21:11:58.Z",
        "Tue, 5 May 2015 10:11:12 PST",
        "Tue May 05 2015 10:11:12 GMT+0200 (CEST)",
        "May 5, 2015",
        "5 May 2015",
        "2015/05/05",
        "05/05/2015",
        "5/5/15",
        "12:30 pm May 5 99",
        "12:30 am",
        "May",
        "Mayo 5 2015",
        "2015 May 5 13:00 UT",
        "1 2 3 4",
        "Jan 1 1970 00:00:00 UTC+1",
        "Jan 1 1970 GMT-08",
        "Jan 1 1970 GMT-0830",
        "Jan 1 1970 GMT+12345",
        "(comment) Jan 2 2000",
        "Jan 2 2000 )",
        "x Jan 2 2000",
        "Jan2 2000",
        "2000-01-02T03:04:05.6789",
        "20150806",
        "2015-8-6",
        "99",
        "0",
        "-1",
        "+1",
        "1e3",
        "",
        " ",
        "\u{0}2015",
        "2015\u{0}x",
        "garbage",
        "[object Object]",
        "Infinity",
        "2015-08-06T21:11:58.412\u{2028}",
        "\u{3000}2015-08-06",
    ];
    let mut v: Vec<Value> = strings.iter().map(|s| json!(s)).collect();
    v.extend([
        json!(0),
        json!(5),
        json!(-1.5),
        json!(1.5),
        json!(8.64e15),
        json!(8.64e15 + 1.0),
        json!(-8.64e15),
        json!(1e300),
        Value::Null,
        json!(true),
        json!(false),
        json!([]),
        json!([2015, 1, 2]),
        json!(["2015-08-06"]),
        json!([null, [1]]),
        json!({}),
        json!({"toString": 1}),
        json!([{"toString": 1}]),
        json!({"valueOf": 1}),
    ]);
    v
}

/// Inputs for Node's Docker helpers, as `{"fn", "arg"}`: digest lists of
/// several lengths and malformed ones, ids, and `imgManifestFromDockerInfo`
/// options with and without each field Node reads, each set to odd values,
/// plus seeded random combinations.
pub fn docker_cases() -> Vec<Value> {
    let mut out = Vec::new();
    let call = |f: &str, arg: Value| json!({"fn": f, "arg": arg});
    for n in 0..6 {
        let list: Vec<String> = (0..n).map(|i| digest(i as u64 + 1)).collect();
        out.push(call("imgUuidFromDockerDigests", json!(list)));
        for bad in bad_digests() {
            let mut with_bad = list.clone();
            with_bad.insert(n / 2, bad.clone());
            out.push(call("imgUuidFromDockerDigests", json!(with_bad)));
        }
    }
    let mut ids: Vec<String> = bad_digests();
    ids.push(digest(3));
    for d in ids.clone() {
        out.push(call("dockerIdFromDigest", json!(d)));
        if let Some((_, id)) = d.split_once(':') {
            out.push(call("shortDockerId", json!(id)));
        }
    }
    ids.extend(["a".repeat(63), "a".repeat(65), "\u{1F600}".repeat(32), format!("{}é", "a".repeat(63))]);
    for id in &ids {
        out.push(call("shortDockerId", json!(id)));
    }

    let base = json!({
        "layerDigests": [digest(1), digest(2)],
        "imgJson": {"created": "2015-08-06T21:11:58.412862713Z", "os": "linux", "architecture": "amd64",
                    "comment": "", "parent": digest(1),
                    "container_config": {"Cmd": ["/bin/sh", "-c", "#(nop) CMD [\"sh\"]"]},
                    "config": {"Cmd": ["sh"], "Entrypoint": null, "Env": ["PATH=/bin"], "WorkingDir": "",
                               "Hostname": "x"}},
        "repo": {"localName": "busybox", "index": {"name": "docker.io"}},
        "tags": ["latest"],
    });
    let top_values: Vec<(&str, Vec<Value>)> = vec![
        (
            "layerDigests",
            vec![
                json!([]),
                json!([digest(1)]),
                json!((1..6).map(digest).collect::<Vec<_>>()),
                json!("x"),
                json!([1]),
                json!(bad_digests()),
                json!([digest(1), "sha256:x"]),
                json!(["sha256:x", digest(1)]),
                Value::Null,
            ],
        ),
        ("imgJson", vec![json!({}), json!([]), json!("x"), Value::Null]),
        ("repo", vec![json!({}), json!({"localName": 5}), json!([]), json!("busybox"), Value::Null]),
        ("uuid", vec![json!(""), json!("f3078f0c-a53b-4140-b7af-fbb6308a8e35"), json!(5), Value::Null]),
        ("owner", vec![json!(""), json!(OWNER), json!(["x"]), Value::Null]),
        ("tags", vec![json!([]), json!(["a", "a", "", "docker:x"]), json!([1]), json!("latest"), Value::Null]),
        ("public", vec![json!(false), json!(true), json!("true"), Value::Null]),
        ("origin", vec![json!(""), json!(UUID), json!(7), Value::Null]),
    ];
    let img_values: Vec<(&str, Vec<Value>)> = vec![
        ("created", date_values()),
        (
            "os",
            vec![
                json!("Linux"),
                json!("windows"),
                json!("__proto__"),
                json!("constructor"),
                json!("toString"),
                json!(["linux"]),
                json!([["linux"]]),
                json!({}),
                json!({"toString": 1}),
                Value::Null,
                json!(1),
            ],
        ),
        (
            "comment",
            vec![
                json!("a comment"),
                json!(long(10240, 'c')),
                json!(long(10241, 'c')),
                json!(format!("{}\u{1F600}", long(10239, 'c'))),
                json!(0),
                json!(5),
                json!(true),
                json!([]),
                json!(["a", 1]),
                json!((0..10241).collect::<Vec<_>>()),
                json!({}),
                json!({"length": 20000}),
                json!({"length": "5"}),
                json!({"length": [20000]}),
                json!({"length": {"toString": 1}}),
                Value::Null,
            ],
        ),
        (
            "container_config",
            vec![
                Value::Null,
                json!({}),
                json!({"Cmd": []}),
                json!({"Cmd": "sh"}),
                json!({"Cmd": 5}),
                json!({"Cmd": {"join": 1}}),
                json!({"Cmd": [null, 1, [2, 3], {}, true, "x y"]}),
                json!({"Cmd": [{"toString": 1}]}),
                json!({"Cmd": [long(10300, 'x')]}),
                json!("str"),
                json!(0),
            ],
        ),
        ("architecture", vec![json!("arm64"), Value::Null, json!({"a": [1]}), json!(9007199254740993u64)]),
        ("parent", vec![json!(""), Value::Null, json!(0), json!("p"), json!([])]),
        (
            "config",
            vec![
                Value::Null,
                json!({}),
                json!("str"),
                json!([]),
                json!(0),
                json!({"Cmd": null, "Env": [], "WorkingDir": "/", "2": 1, "1": 0}),
                json!({"Entrypoint": ["/e"], "Cmd": 1e21}),
            ],
        ),
    ];
    let info = |v: Value| call("imgManifestFromDockerInfo", v);
    out.push(info(base.clone()));
    for v in [Value::Null, json!([]), json!("x"), json!({})] {
        out.push(info(v));
    }
    for (key, values) in &top_values {
        let mut without = base.clone();
        without.as_object_mut().unwrap().shift_remove(*key);
        out.push(info(without));
        for v in values {
            let mut c = base.clone();
            c[*key] = v.clone();
            out.push(info(c));
        }
    }
    for (key, values) in &img_values {
        let mut without = base.clone();
        without["imgJson"].as_object_mut().unwrap().shift_remove(*key);
        out.push(info(without));
        for v in values {
            let mut c = base.clone();
            c["imgJson"][*key] = v.clone();
            out.push(info(c));
        }
    }
    // Date strings made of the tokens V8's date parser knows, in random
    // order: numbers of each length, month, zone and AM/PM words, signs,
    // separators, parentheses, white space of every kind.
    let tokens = [
        "2015",
        "1970",
        "99",
        "0",
        "00",
        "05",
        "12",
        "13",
        "24",
        "31",
        "32",
        "59",
        "60",
        "123",
        "1234",
        "999",
        "12345",
        "275760",
        "002015",
        "1234567890",
        "T",
        "t",
        "Z",
        "z",
        "-",
        "+",
        ":",
        "::",
        ".",
        ",",
        "/",
        " ",
        "  ",
        "\t",
        "\n",
        "\u{a0}",
        "\u{3000}",
        "\u{2028}",
        "(",
        ")",
        "(x)",
        "Jan",
        "february",
        "Mar",
        "dec",
        "Sept",
        "am",
        "PM",
        "UT",
        "UTC",
        "GMT",
        "EST",
        "pdt",
        "x",
        "Mon",
        "\u{e9}",
        "\u{0}",
        "_",
        "[",
        "@",
    ];
    let mut rng = Rng::new(0x0da7_e5ee_d000_0001);
    for _ in 0..4000 {
        let date: String = (0..1 + rng.below(9)).map(|_| tokens[rng.below(tokens.len())]).collect();
        let mut c = base.clone();
        c["imgJson"]["created"] = json!(date);
        out.push(info(c));
    }
    let mut rng = Rng::new(0xd0c4_e0de_ad5e_ed05);
    for _ in 0..3000 {
        let mut c = base.clone();
        for _ in 0..1 + rng.below(4) {
            if rng.below(2) == 0 {
                let (key, values) = &top_values[rng.below(top_values.len())];
                if rng.below(6) == 0 {
                    c.as_object_mut().unwrap().shift_remove(*key);
                } else {
                    c[*key] = values[rng.below(values.len())].clone();
                }
            } else if let Some(img) = c.get_mut("imgJson").and_then(Value::as_object_mut) {
                let (key, values) = &img_values[rng.below(img_values.len())];
                if rng.below(6) == 0 {
                    img.shift_remove(*key);
                } else {
                    img.insert(key.to_string(), values[rng.below(values.len())].clone());
                }
            }
        }
        out.push(info(c));
    }
    out
}
