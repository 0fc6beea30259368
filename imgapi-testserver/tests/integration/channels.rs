//! Channels, on a server with the standard set and on one without.

use imgapi_testserver::{Channels, Config, Server};
use serde_json::json;

use crate::util::*;

const E: &str = "eeeeeeee-1111-4111-8111-111111111111";
const D: &str = "dddddddd-2222-4222-8222-222222222222";

fn with_channels() -> Server {
    Server::start(Config { channels: Some(Channels::standard()), ..Config::default() }).unwrap()
}

#[test]
fn an_image_is_seen_only_in_its_channels() {
    let s = with_channels();
    seed(&s, E, b"exp", &["experimental"]);
    seed(&s, D, b"dev", &[]);

    let r = get(&s, &format!("/images/{E}"));
    assert_eq!(r.json(), json!({"code": "ResourceNotFound", "message": "image not found"}));
    assert_eq!(r.status, 404);
    let r = get(&s, &format!("/images/{E}?channel=experimental"));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["channels"], json!(["experimental"]));
    assert_eq!(get(&s, &format!("/images/{E}/file")).status, 404);
    assert_eq!(get(&s, &format!("/images/{E}/file?channel=experimental")).body, b"exp");
    assert_eq!(get(&s, &format!("/images/{E}/file?channel=*")).body, b"exp");

    let list = |q: &str| -> Vec<String> {
        get(&s, &format!("/images{q}")).json().as_array().unwrap().iter().map(|m| m["uuid"].to_string()).collect()
    };
    assert_eq!(list("").len(), 1, "the default channel, dev");
    assert_eq!(list("?channel=experimental").len(), 1);
    assert_eq!(list("?channel=*").len(), 2);

    let r = get(&s, "/images?channel=nightly");
    assert_eq!(r.error(), (422, "ValidationFailed".into()));
    assert_eq!(r.json()["message"], "unknown channel: nightly");
    assert_eq!(r.json()["errors"], json!([{"field": "channel", "code": "Invalid"}]));
}

#[test]
fn list_channels() {
    let s = with_channels();
    let r = get(&s, "/channels");
    assert_eq!(r.status, 200);
    let list = r.json();
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["experimental", "dev", "staging", "release", "support"]);
    assert_eq!(r.json()[1]["default"], true);
    assert!(r.json()[0].get("default").is_none());
}

#[test]
fn import_into_a_channel_then_channel_add_and_delete_from_one() {
    let s = with_channels();
    let r = post_json(&s, &format!("/images/{E}?action=import&channel=staging"), &manifest(E));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["channels"], json!(["staging"]));
    // The image is found through the request's channel.
    let r = post_json(&s, &format!("/images/{E}?action=channel-add"), &json!({"channel": "release"}));
    assert_eq!(r.status, 404);
    let r = post_json(&s, &format!("/images/{E}?action=channel-add&channel=staging"), &json!({"channel": "release"}));
    assert_eq!(r.json()["channels"], json!(["staging", "release"]));
    let r = post_json(&s, &format!("/images/{E}?action=channel-add&channel=staging"), &json!({"channel": "bogus"}));
    assert_eq!(r.json()["message"], "unknown channel: bogus");

    // In two channels, DELETE only leaves the request's one.
    let r = send(&s, "DELETE", &format!("/images/{E}?channel=staging"), &[], None);
    assert_eq!(r.status, 204);
    assert_eq!(s.manifest(E).unwrap()["channels"], json!(["release"]));
    assert_eq!(send(&s, "DELETE", &format!("/images/{E}?channel=release"), &[], None).status, 204);
    assert!(s.manifest(E).is_none());

    // Without ?channel= an import goes to the default channel.
    assert_eq!(post_json(&s, &format!("/images/{D}?action=import"), &manifest(D)).json()["channels"], json!(["dev"]));
}

#[test]
fn without_channels_the_parameter_is_ignored() {
    let s = Server::start(Config::default()).unwrap();
    seed(&s, E, b"x", &["experimental"]);
    let r = get(&s, &format!("/images/{E}?channel=whatever"));
    assert_eq!(r.status, 200);
    assert!(r.json().get("channels").is_none());
    assert_eq!(get(&s, "/images?channel=whatever").json().as_array().unwrap().len(), 1);
    let r = get(&s, "/channels");
    assert_eq!(r.json(), json!({"code": "ResourceNotFound", "message": "/channels does not exist"}));
    let r = post_json(&s, &format!("/images/{E}?action=channel-add"), &json!({"channel": "dev"}));
    assert_eq!(r.json()["message"], "\"channel-add\" is not a valid action");
}
