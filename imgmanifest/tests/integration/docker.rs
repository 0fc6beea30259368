//! Node's Docker helpers and `fields` table against `imgmanifest::docker`
//! and `imgmanifest::FIELDS`: the same results (as `JSON.stringify` writes
//! them, so key order too) or the same error (class and message), for
//! generated inputs (`cases::docker_cases`).

use crate::differential::run_node;
use crate::util::docker_cases as cases;
use imgmanifest::docker::{
    docker_id_from_digest, img_manifest_from_docker_info, img_uuid_from_docker_digests, short_docker_id, DockerError,
};
use imgmanifest::js;
use serde_json::{json, Value};

fn strings(v: &Value) -> Vec<&str> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect()
}

fn ours(case: &Value) -> Result<Value, DockerError> {
    let arg = &case["arg"];
    match case["fn"].as_str().unwrap() {
        "imgUuidFromDockerDigests" => img_uuid_from_docker_digests(&strings(arg)).map(Value::String),
        "dockerIdFromDigest" => docker_id_from_digest(arg.as_str().unwrap()).map(Value::String),
        "shortDockerId" => short_docker_id(arg.as_str().unwrap()).map(Value::String),
        "imgManifestFromDockerInfo" => img_manifest_from_docker_info(arg),
        other => panic!("no helper {other}"),
    }
}

#[test]
fn docker_helpers_answer_as_node() {
    let cases = cases::docker_cases();
    let node = run_node(&["--docker"], cases.iter().map(Value::to_string).collect());
    let (mut identical, mut errors, mut lone) = (0, 0, 0);
    let mut mismatches = Vec::new();
    for (case, theirs) in cases.iter().zip(&node) {
        let ours = ours(case);
        let agree = match (&ours, theirs.get("ok")) {
            (Ok(v), Some(Value::String(text))) => {
                // The text, and the value Node's text reads back as.
                let same_value = serde_json::from_str::<Value>(text).ok().map(|n| serde_json::to_string(&n).unwrap())
                    == Some(serde_json::to_string(v).unwrap());
                js::json_stringify(v) == *text && same_value
            }
            (Err(DockerError::LoneSurrogate(_)), Some(_)) => {
                lone += 1;
                continue;
            }
            (Err(e), None) => {
                errors += 1;
                Some(e.to_string().as_str()) == theirs["error"].as_str() && e.js_class() == theirs["class"].as_str()
            }
            _ => false,
        };
        if agree {
            identical += 1;
        } else {
            mismatches.push(format!("{case}\n  node:   {theirs}\n  buildy: {ours:?}"));
        }
    }
    println!(
        "docker helpers: {} calls, {identical} identical ({errors} of them the same error), \
         {lone} deliberate (a cut surrogate pair), {} mismatches",
        cases.len(),
        mismatches.len()
    );
    for m in mismatches.iter().take(15) {
        println!("{m}");
    }
    assert!(
        mismatches.is_empty(),
        "{} Docker helper calls differ from Node; first: {}",
        mismatches.len(),
        mismatches[0]
    );
}

#[test]
fn fields_table_is_nodes() {
    let node = run_node(&["--docker"], vec![json!({"fn": "fields"}).to_string()]);
    let theirs: Value = serde_json::from_str(node[0]["ok"].as_str().unwrap()).unwrap();
    let theirs: Vec<(String, bool, bool)> = theirs
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap().into(), f["mutable"].as_bool().unwrap(), f["inheritable"] == json!(true)))
        .collect();
    let ours: Vec<(String, bool, bool)> =
        imgmanifest::FIELDS.iter().map(|f| (f.name.into(), f.mutable, f.inheritable)).collect();
    assert_eq!(ours, theirs);
}
