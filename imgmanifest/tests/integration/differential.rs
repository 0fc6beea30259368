//! Differential test against Triton's Node `imgmanifest@3.2.1`: the same
//! manifests through both, in every mode and through upgrade, must give
//! the same errors (field, code, message, order) and the same upgrades.
//!
//! Where Node throws instead of answering, buildy must report the manifest
//! invalid (the crate README lists these deliberate differences).
//!
//! Needs `node` and the pinned peer in `tests/node-peer`, which
//! `scripts/test.sh` installs (the test itself makes no network calls):
//! `(cd tests/node-peer && npm ci --no-audit --no-fund)`. Run with
//! `--nocapture` for counts.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::util::cases;
use imgmanifest::{js, upgrade, validate, Code, FieldError, Json, Mode, Options};
use serde_json::{json, Value};

const MODES: &[&str] = &["minimal", "dc", "public", "private", "public+channels", "private+channels"];

fn options(mode: &str) -> Options {
    let channels = Some(vec!["dev".to_string(), "release".to_string()]);
    match mode {
        "minimal" => Options::new(Mode::Minimal),
        "dc" => Options::new(Mode::Dc),
        "public" => Options::new(Mode::Public),
        "private" => Options::new(Mode::Private),
        "public+channels" => Options { mode: Mode::Public, channels },
        "private+channels" => Options { mode: Mode::Private, channels },
        other => panic!("unknown mode {other}"),
    }
}

pub fn node_peer_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/node-peer")
}

/// The pinned Node peer's folder; fails, naming the install command, if the
/// peer is not installed.
pub fn ensure_node_peer() -> PathBuf {
    let dir = node_peer_dir();
    assert!(
        dir.join("node_modules/imgmanifest/package.json").exists(),
        "the Node peer is not installed in {}: run `(cd tests/node-peer && npm ci --no-audit --no-fund)` \
         or `bash scripts/test.sh`",
        dir.display()
    );
    dir
}

/// Runs every case through Node; one JSON result per case, by id.
fn node_results(cases: &[Value]) -> Vec<Value> {
    let lines = cases.iter().enumerate().map(|(id, m)| json!({"id": id, "m": m}).to_string()).collect();
    run_node(&[], lines)
}

/// Runs `verdicts.js ARGS` on these input lines; one JSON value per line.
/// Node runs in UTC, as buildy reads times without a zone.
pub fn run_node(args: &[&str], lines: Vec<String>) -> Vec<Value> {
    let dir = ensure_node_peer();
    let mut child = Command::new("node")
        .arg(dir.join("verdicts.js"))
        .args(args)
        .env("TZ", "UTC")
        .env("NODE_NO_WARNINGS", "1")
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node is needed for the differential test");
    let mut input = Vec::new();
    for line in &lines {
        writeln!(input, "{line}").unwrap();
    }
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "node verdicts.js failed: {}", String::from_utf8_lossy(&out.stderr));
    let results: Vec<Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(results.len(), lines.len());
    results
}

fn node_errors(v: &Value) -> Vec<FieldError> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| FieldError {
            field: e["field"].as_str().unwrap().to_string().into(),
            code: match e["code"].as_str().unwrap() {
                "MissingParameter" => Code::MissingParameter,
                "Invalid" => Code::Invalid,
                other => panic!("unknown code {other}"),
            },
            message: e.get("message").map(|m| m.as_str().unwrap().to_string().into()),
        })
        .collect()
}

/// Groups Node's exception texts into the deliberate differences the crate
/// README lists.
fn crash_kind(message: &str) -> String {
    if message.starts_with("invalid value for \"undefined\"") {
        "Node throws in boolFromString: a non-boolean disabled/activated/icon/generate_passwords".into()
    } else if message.starts_with("The \"url\" argument must be of type string") {
        "Node throws in url.parse: a non-string homepage/eula".into()
    } else if message == "Invalid URL" || message == "URI malformed" {
        format!("Node throws in url.parse ({message}): a homepage/eula host or user info it refuses")
    } else {
        format!("Node throws: {message}")
    }
}

#[derive(Default)]
struct Tally {
    comparisons: usize,
    agreements: usize,
    /// Node threw; buildy said invalid. Keyed by Node's exception text.
    deliberate: BTreeMap<String, usize>,
    mismatches: Vec<String>,
    /// Per mode and for upgrade: compared, identical, deliberate, mismatched.
    by_kind: BTreeMap<&'static str, [usize; 4]>,
}

impl Tally {
    fn count(&mut self, kind: &'static str, slot: usize) {
        let row = self.by_kind.entry(kind).or_default();
        row[0] += 1;
        row[slot] += 1;
    }
}

fn compare_case(id: usize, manifest: &Value, node: &Value, t: &mut Tally) {
    let compact = Json::from(manifest);
    for mode in MODES {
        t.comparisons += 1;
        let ours = validate(manifest, &options(mode));
        // The compact form gives the very same answer as the Value.
        assert_eq!(validate(&compact, &options(mode)), ours, "case {id} {mode}: Json and Value disagree");
        let theirs = &node["modes"][*mode];
        if let Some(crash) = theirs.get("crash") {
            // Where url.parse throws, the Invalid must be on a URL field.
            let url_crash = matches!(crash.as_str(), Some("Invalid URL" | "URI malformed"));
            let on_field = |e: &FieldError| !url_crash || e.field == "homepage" || e.field == "eula";
            if ours.iter().any(|e| e.code == Code::Invalid && on_field(e)) {
                *t.deliberate.entry(crash_kind(crash.as_str().unwrap())).or_default() += 1;
                t.count(mode, 2);
            } else {
                t.mismatches.push(format!("case {id} {mode}: Node throws {crash}, buildy says {ours:?}\n  {manifest}"));
                t.count(mode, 3);
            }
            continue;
        }
        let theirs = node_errors(&theirs["errors"]);
        if ours == theirs {
            t.agreements += 1;
            t.count(mode, 1);
        } else if manifest.is_array() && !ours.is_empty() {
            *t.deliberate.entry("an array as manifest: buildy says it is not an object".into()).or_default() += 1;
            t.count(mode, 2);
        } else {
            t.mismatches.push(format!("case {id} {mode}:\n  node:   {theirs:?}\n  buildy: {ours:?}\n  {manifest}"));
            t.count(mode, 3);
        }
    }
    t.comparisons += 1;
    let ours = upgrade(manifest).map(|v| {
        // JavaScript's text, compact and as JSON.stringify(m, null, 2), and
        // the same value (numbers, key order) as Node's text reads back.
        let same_value = serde_json::to_string(&v).ok()
            == node["upgrade"]["ok"]
                .as_str()
                .and_then(|t| serde_json::from_str::<Value>(t).ok())
                .and_then(|n| serde_json::to_string(&n).ok());
        let pretty_ok = node["upgrade"]["pretty"].as_str() == Some(js::json_stringify_pretty(&v).as_str());
        if same_value && pretty_ok {
            js::json_stringify(&v)
        } else {
            format!("{} (value or pretty text differs)", js::json_stringify(&v))
        }
    });
    match (&node["upgrade"].get("ok"), ours) {
        (Some(Value::String(theirs)), Ok(ours)) if *theirs == ours => {
            t.agreements += 1;
            t.count("upgrade", 1);
        }
        (None, Err(_)) => {
            t.agreements += 1;
            t.count("upgrade (both refuse)", 1);
        }
        (theirs, ours) => {
            t.mismatches.push(format!(
                "case {id} upgrade:\n  node:   {theirs:?} {}\n  buildy: {ours:?}\n  {manifest}",
                node["upgrade"]
            ));
            t.count("upgrade", 3);
        }
    }
}

#[test]
fn buildy_and_node_agree_on_every_generated_manifest() {
    let cases = cases::all_cases(3000);
    let node = node_results(&cases);
    let mut t = Tally::default();
    for (id, (m, n)) in cases.iter().zip(&node).enumerate() {
        assert_eq!(n["id"], id);
        compare_case(id, m, n, &mut t);
    }
    println!("differential: {} manifests, {} verdicts compared (6 modes + upgrade each)", cases.len(), t.comparisons);
    println!("  identical: {}", t.agreements);
    for (why, n) in &t.deliberate {
        println!("  deliberate difference ({n}): {why}");
    }
    println!("  mismatches: {}", t.mismatches.len());
    for (kind, [compared, identical, deliberate, mismatched]) in &t.by_kind {
        println!(
            "  {kind}: {compared} compared, {identical} identical, {deliberate} deliberate, {mismatched} mismatches"
        );
    }
    for m in t.mismatches.iter().take(15) {
        println!("{m}");
    }
    assert!(t.mismatches.is_empty(), "{} verdicts differ from Node; first: {}", t.mismatches.len(), t.mismatches[0]);
}

#[test]
fn shared_fixture_manifests_get_nodes_verdicts() {
    let fixtures = cases::fixture_manifests();
    let values: Vec<Value> = fixtures.iter().map(|(_, v)| v.clone()).collect();
    let node = node_results(&values);
    for ((name, m), n) in fixtures.iter().zip(&node) {
        let mut t = Tally::default();
        compare_case(0, m, n, &mut t);
        assert!(t.mismatches.is_empty() && t.deliberate.is_empty(), "{name}: {:?}", t.mismatches);
        // Every fixture is a manifest imgadm installs: after upgrade it is
        // valid with the minimal rules, in both implementations.
        let up = upgrade(m).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(validate(&up, &Options::new(Mode::Minimal)), vec![], "{name}");
    }
}
