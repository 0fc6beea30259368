//! Node 20's `url.parse` against `imgmanifest::node_url::parse`: protocol,
//! host name and exception, for every code point in a host and for the
//! generated URLs (`cases::urls`).

use crate::differential::run_node;
use crate::util::cases;
use imgmanifest::node_url;
use serde_json::{json, Value};

fn ours(url: &str) -> Value {
    match node_url::parse(url) {
        Ok(u) => json!({"p": u.protocol, "h": u.hostname}),
        Err(e) => json!({"e": e.to_string()}),
    }
}

/// Compares every URL; returns how many and the mismatches' descriptions.
fn compare(urls: &[String]) -> (usize, Vec<String>) {
    let lines = urls.iter().map(|u| Value::String(u.clone()).to_string()).collect();
    let node = run_node(&["--urls"], lines);
    let mut mismatches = Vec::new();
    for (url, theirs) in urls.iter().zip(&node) {
        let ours = ours(url);
        if ours != *theirs {
            mismatches.push(format!("{url:?}: node {theirs}, buildy {ours}"));
        }
    }
    (urls.len(), mismatches)
}

fn report(what: &str, (n, mismatches): (usize, Vec<String>)) {
    println!("url.parse, {what}: {n} URLs, {} mismatches", mismatches.len());
    if let Ok(path) = std::env::var("URL_MISMATCHES") {
        std::fs::write(format!("{path}.{}", what.replace(' ', "_")), mismatches.join("\n")).unwrap();
    }
    for m in mismatches.iter().take(40) {
        println!("  {m}");
    }
    assert!(
        mismatches.is_empty(),
        "{} of {n} URLs parse differently from Node; first: {}",
        mismatches.len(),
        mismatches[0]
    );
}

/// Each code point inside a host, alone as a host, and as the Punycode
/// label that encodes it.
fn code_point_urls(code_points: impl Iterator<Item = char>) -> Vec<String> {
    let mut urls = Vec::new();
    for c in code_points {
        urls.push(format!("http://a{c}b/"));
        urls.push(format!("http://{c}/"));
        if let Some(p) = idna::punycode::encode(&[c]) {
            urls.push(format!("http://xn--{p}/"));
        }
    }
    urls
}

/// Blocks whose code points all answer alike (CJK ideographs, Hangul
/// syllables, private use, the planes past the third): the quick sweep
/// takes one in 97 of them.
fn uniform(c: u32) -> bool {
    matches!(c, 0x3400..=0x4dbf | 0x4e00..=0x9fff | 0xac00..=0xd7a3 | 0xe000..=0xf8ff | 0x20000..=0x323af | 0x40000..)
}

/// Every code point but those in uniform blocks, which are sampled (Node
/// takes some 40 s for each million URLs; the full sweep is the ignored
/// test below).
#[test]
fn code_points_in_a_host_as_node() {
    let cps = (0..=0x10_FFFF_u32).filter(|&c| !uniform(c) || c % 97 == 0).filter_map(char::from_u32);
    report("code points", compare(&code_point_urls(cps)));
}

/// All 1,112,064 code points, three URLs each (some two minutes of Node):
/// `cargo test -p imgmanifest --release --test integration every_code_point -- --ignored`.
#[test]
#[ignore]
fn every_code_point_in_a_host_as_node() {
    report("every code point", compare(&code_point_urls((0..=0x10_FFFF_u32).filter_map(char::from_u32))));
}

#[test]
fn generated_urls_as_node() {
    report("generated", compare(&cases::urls()));
}
