//! The `imgmanifest` command as a user runs it: output and exit status
//! (0 all valid, 1 some invalid, 2 usage error or unusable input).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

const VALID: &str = r#"{"v": 2, "uuid": "f3078f0c-a53b-4140-b7af-fbb6308a8e35", "name": "base",
    "version": "1.0.0", "type": "zone-dataset", "os": "smartos"}"#;

/// A scratch directory of this test's own, with the given files.
fn dir_with(test: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("imgmanifest-cli-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    dir
}

fn run(dir: &PathBuf, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_imgmanifest"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn validate_reports_each_file_and_the_worst_status() {
    let bad = VALID.replace(r#""os": "smartos""#, r#""os": "smartos", "homepage": "ftp://x""#);
    let dir = dir_with("validate", &[("ok.json", VALID), ("bad.json", &bad), ("broken.json", "{")]);

    let o = run(&dir, &["validate", "ok.json"], "");
    assert_eq!((o.status.code(), stdout(&o).as_str()), (Some(0), "ok.json: ok\n"));

    let o = run(&dir, &["validate", "ok.json", "bad.json"], "");
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o),
        "ok.json: ok\nbad.json: invalid\n    homepage (Invalid): invalid image homepage URL protocol\n"
    );

    let o = run(&dir, &["validate", "bad.json", "broken.json"], "");
    assert_eq!(o.status.code(), Some(2), "an unparseable input outranks an invalid one");
    assert!(stdout(&o).contains("broken.json: error: "), "{}", stdout(&o));

    // Standard input, one JSON line per input.
    let o = run(&dir, &["validate", "--json", "-"], &bad);
    assert_eq!(o.status.code(), Some(1));
    let line: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(line["file"], "-");
    assert_eq!(line["valid"], false);
    assert_eq!(line["errors"][0]["field"], "homepage");
    assert_eq!(line["errors"][0]["code"], "Invalid");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn modes_and_channels() {
    let dir = dir_with("modes", &[("ok.json", VALID)]);
    // dc mode wants what minimal does not (owner, state, ...).
    let o = run(&dir, &["validate", "--mode", "dc", "ok.json"], "");
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    // Channels only with public or private.
    let o = run(&dir, &["validate", "--channels", "dev", "ok.json"], "");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--channels only applies"));
    let o = run(&dir, &["validate", "--mode", "nonesuch", "ok.json"], "");
    assert_eq!(o.status.code(), Some(2));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn upgrade_writes_json_stringify_pretty_and_refuses_what_node_cannot_upgrade() {
    let dir = dir_with("upgrade", &[("ok.json", VALID), ("nov.json", r#"{"name": "x"}"#)]);
    let o = run(&dir, &["upgrade", "ok.json"], "");
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    assert!(text.starts_with("{\n  \"v\": 2,\n"), "{text}");
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["uuid"], "f3078f0c-a53b-4140-b7af-fbb6308a8e35");

    let o = run(&dir, &["upgrade", "nov.json"], "");
    assert_eq!(o.status.code(), Some(2));
    // In validate --upgrade, such a manifest is read and parsed: invalid (1).
    let o = run(&dir, &["validate", "--upgrade", "--json", "nov.json"], "");
    assert_eq!(o.status.code(), Some(1));
    let line: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert!(line["error"].as_str().unwrap().starts_with("cannot upgrade: "), "{line}");
    std::fs::remove_dir_all(dir).unwrap();
}
