//! Benchmark: validate the same manifests in Rust and in Node's
//! `imgmanifest@3.2.1`, in one run, and print manifests per second for both
//! and the ratio. Each "manifest" is one manifest validated in all six
//! modes (minimal, dc, public, private, and the last two with channels),
//! timed inside each process so process start-up is not counted, and
//! both after an untimed warm-up round.
//!
//! Node validates the objects `JSON.parse` made; Rust the compact
//! [`Json`] form, made once per manifest the same way; neither is timed.
//! Rust's rate on the serde_json `Value`s themselves (slower: keys are
//! looked up by name on every call) is printed too.
//!
//!     cargo bench -p imgmanifest --bench validate_vs_node

#[path = "../tests/integration/util/cases.rs"]
mod cases;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

use imgmanifest::{validate, Json, Mode, Options};
use serde_json::json;

/// Node's timed rounds per trial; Rust repeats rounds for as long as Node's
/// trial took, so that both are timed over windows of the same length (a
/// short window is more often a lucky one on a shared machine).
const ROUNDS: usize = 5;
const TRIALS: usize = 7;

fn main() {
    // Real-world shaped: the valid bases and the real manifests
    // (v1 ones upgraded), repeated to a few thousand.
    let valid: Vec<_> = cases::bases().iter().map(|m| imgmanifest::upgrade(m).unwrap()).cycle().take(4000).collect();
    let adversarial = cases::all_cases(3000);
    println!("manifest validation, each manifest in all 6 modes (minimal, dc, public, private, +channels), best of {TRIALS} alternating trials");
    for (label, set) in [("valid, real-world manifests", &valid), ("differential set (mostly invalid)", &adversarial)] {
        let (rust, node, rust_from_value) = compare(set);
        println!("  {label}: {} manifests", set.len());
        println!("    buildy imgmanifest (Rust): {:>10.0} manifests/s", rust);
        println!("    Node imgmanifest 3.2.1:    {:>10.0} manifests/s", node);
        println!("    ratio: {:.1}x", rust / node);
        println!("    (Rust on serde_json Values, not converted, one window: {rust_from_value:.0} manifests/s)");
    }
}

/// Manifests per second (each in all six modes) for Rust and for Node, and
/// for Rust validating `Value`s.
fn compare(manifests: &[serde_json::Value]) -> (f64, f64, f64) {
    let modes = [
        Options::new(Mode::Minimal),
        Options::new(Mode::Dc),
        Options::new(Mode::Public),
        Options::new(Mode::Private),
        Options { mode: Mode::Public, channels: Some(vec!["dev".into(), "release".into()]) },
        Options { mode: Mode::Private, channels: Some(vec!["dev".into(), "release".into()]) },
    ];

    let peer = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/node-peer");
    // Installed by scripts/test.sh; the benchmark makes no network calls.
    assert!(
        peer.join("node_modules/imgmanifest/package.json").exists(),
        "the Node peer is not installed in {}: run `(cd tests/node-peer && npm ci --no-audit --no-fund)`",
        peer.display()
    );
    let mut input = Vec::new();
    for (id, m) in manifests.iter().enumerate() {
        writeln!(input, "{}", json!({"id": id, "m": m})).unwrap();
    }

    // Rust and Node take turns, so that a slow spell of this shared machine
    // hits both; each keeps its best rate. Node's is after an untimed warm-up
    // round in the same process (its JIT); Rust's too (caches).
    let (mut rust_best, mut node_best) = (0f64, 0f64);
    // Errors found are summed, so that the work cannot be optimized away.
    let mut errors = 0usize;
    let parsed: Vec<Json> = manifests.iter().map(Json::from).collect();
    let round = || -> usize { parsed.iter().flat_map(|m| modes.iter().map(|o| validate(m, o).len())).sum() };
    let mut window = 0.0;
    for _ in 0..TRIALS {
        let mut child = Command::new("node")
            .arg(peer.join("verdicts.js"))
            .args(["--bench", &ROUNDS.to_string()])
            .env("NODE_NO_WARNINGS", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node is needed for the benchmark");
        child.stdin.take().unwrap().write_all(&input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "node benchmark failed");
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        window = r["seconds"].as_f64().unwrap();
        node_best = node_best.max(r["manifests"].as_f64().unwrap() / window);

        errors += round(); // warm-up, untimed, as Node's
        rust_best = rust_best.max(rate_over(window, manifests.len(), || errors += round()));
    }
    // The same validator on the serde_json Values themselves.
    let rust_from_value = rate_over(window, manifests.len(), || {
        errors += manifests.iter().flat_map(|m| modes.iter().map(|o| validate(m, o).len())).sum::<usize>()
    });
    std::hint::black_box(errors);
    (rust_best, node_best, rust_from_value)
}

/// Manifests per second of `round` (which validates `per_round` manifests),
/// repeated for at least `seconds`.
fn rate_over(seconds: f64, per_round: usize, mut round: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut rounds = 0;
    while rounds == 0 || start.elapsed().as_secs_f64() < seconds {
        round();
        rounds += 1;
    }
    (rounds * per_round) as f64 / start.elapsed().as_secs_f64()
}
