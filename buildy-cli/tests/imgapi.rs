//! `buildy import`, `publish`, `sources`, `list`, `get`, `delete` and a
//! build that imports its base image, against the test IMGAPI server
//! (`imgapi-testserver`, on 127.0.0.1) and real zfs-fuse.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use imgapi_testserver::{Channels, Config, Fault, Mode, Server, User};
use serde_json::Value;

use crate::util::*;

/// Three images, base first: (manifest, file, the dataset it was made of).
struct Chain {
    members: Vec<(PathBuf, PathBuf, String)>,
}

impl Chain {
    fn uuid(&self, i: usize) -> String {
        read_json(&self.members[i].0)["uuid"].as_str().unwrap().to_string()
    }
}

/// The project's base image (gzip), a child on it (none) and a grandchild
/// on that (xz), each installed under `<top>/images`.
fn chain(t: &TestZfs) -> Chain {
    let (images, base) = base_image(t);
    let out = t.out();
    let base_files = (out.join("buildy-base-1.0.0.imgmanifest"), out.join("buildy-base-1.0.0.zfs.gz"));
    let mut members = vec![(base_files.0, base_files.1, format!("{images}/{base}"))];
    let mut origin = base;
    for (name, compression, size) in [("child", "none", 300_000usize), ("grandchild", "xz", 200_000)] {
        let mnt = t.clone_of(&format!("{images}/{origin}@final"), &format!("analog-{name}"));
        fs::create_dir_all(mnt.join("root/opt/app")).unwrap();
        let data: Vec<u8> = (0..size).map(|i| (i * 7 + name.len()) as u8).collect();
        fs::write(mnt.join(format!("root/opt/app/{name}.bin")), data).unwrap();
        let (m, f) = t.create(&[
            "-i",
            "-c",
            compression,
            "-o",
            &path(&out),
            &t.ds(&format!("analog-{name}")),
            &format!("name={name}"),
            "version=1.0",
        ]);
        let dataset = t.install(&images, &m, &f);
        origin = read_json(&m)["uuid"].as_str().unwrap().to_string();
        members.push((m, f, dataset));
    }
    Chain { members }
}

fn no_auth() -> Config {
    Config::default()
}

/// A server in `mode: private`: it takes images without `"public": true`
/// (a public one, as images.smartos.org, refuses them).
fn start(config: Config) -> Server {
    let server = Server::start(config).unwrap();
    server.set_mode(Mode::Private);
    server
}

fn buildy_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_buildy"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// The chain, and a server (no auth) with its first `n` images published.
fn published(t: &TestZfs, n: usize) -> (Chain, Server) {
    let chain = chain(t);
    let server = start(no_auth());
    for i in 0..n {
        publish(&chain, &server, i);
    }
    (chain, server)
}

fn publish(chain: &Chain, server: &Server, i: usize) {
    let (m, f, _) = &chain.members[i];
    let out = buildy_env(&["publish", "-q", "-m", &path(m), "-f", &path(f), &server.url()], &[]);
    assert_success(&out);
}

/// `buildy import UUID -S URL --root ROOT --db DB --work-dir WORK [extra]`.
fn import(t: &TestZfs, root: &str, db: &Path, url: &str, uuid: &str, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let work = path(&t.dir.join("work"));
    let mut args = vec!["import", "-S", url, "--root", root, "--db", db.to_str().unwrap(), "--work-dir", &work];
    args.extend(extra);
    args.push(uuid);
    buildy_env(&args, env)
}

/// Datasets and files of a test, and the import's download directory and
/// journals: what must be exactly as before after a failed import.
fn state(t: &TestZfs) -> (Vec<String>, Vec<String>, Vec<String>) {
    let mut extra = Vec::new();
    for sub in ["work/buildy-downloads", "work/buildy-builds", "db2"] {
        if let Ok(entries) = fs::read_dir(t.dir.join(sub)) {
            extra.extend(entries.flatten().map(|e| format!("{sub}/{}", e.file_name().to_string_lossy())));
        }
    }
    extra.sort();
    (t.everything(), t.files(), extra)
}

fn file_gets(server: &Server) -> Vec<String> {
    server.requests().into_iter().filter(|r| r.method == "GET" && r.path.ends_with("/file")).map(|r| r.path).collect()
}

#[test]
fn a_published_chain_imports_base_first_with_its_source_and_only_what_is_missing() {
    let Some(t) = TestZfs::new("imgapi-chain") else { return };
    let (chain, server) = published(&t, 3);
    assert_eq!(server.manifest(&chain.uuid(2)).unwrap()["state"], "active");

    let fresh = t.root("fresh");
    let db = t.dir.join("db2");
    let out = import(&t, &fresh, &db, &server.url(), &chain.uuid(2), &[], &[]);
    assert_success(&out);
    let said = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = said.lines().collect();
    assert_eq!(lines.len(), 3, "{said}");
    for (i, line) in lines.iter().enumerate() {
        assert!(line.starts_with(&format!("Imported image {}", chain.uuid(i))), "base first: {said}");
    }
    for i in 0..3 {
        let uuid = chain.uuid(i);
        let record = read_json(&db.join(format!("images/{fresh}-{uuid}.json")));
        assert_eq!(record["source"], server.url().as_str());
        assert_eq!(record["zpool"], fresh.as_str());
        let imported = t.mount_image(&format!("{fresh}/{uuid}"), &format!("imported-{i}"));
        let original = t.mount_image(&chain.members[i].2, &format!("original-{i}"));
        assert_eq!(describe_tree(&imported), describe_tree(&original), "image {i}'s tree");
    }
    // Requests as imgadm makes them.
    let requests = server.requests();
    assert!(requests.iter().all(|r| r.header("accept-version") == Some("~2")), "Accept-Version: ~2");
    let agent = format!("buildy/{}", env!("CARGO_PKG_VERSION"));
    assert!(requests.iter().all(|r| r.header("user-agent") == Some(agent.as_str())), "User-Agent");

    // Again: already installed, nothing downloaded.
    let gets = file_gets(&server).len();
    let again = import(&t, &fresh, &db, &server.url(), &chain.uuid(2), &[], &[]);
    assert_success(&again);
    assert!(String::from_utf8_lossy(&again.stdout).contains("is already installed"));
    assert_eq!(file_gets(&server).len(), gets);

    // With the base installed, only the other two are downloaded.
    let third = t.root("third");
    let db3 = t.dir.join("db3");
    assert_success(&buildy_with(
        &["install", "-q", "--root", &third, "-m", &path(&chain.members[0].0), "-f", &path(&chain.members[0].1)],
        &db3,
    ));
    let out = import(&t, &third, &db3, &server.url(), &chain.uuid(2), &["--json"], &[]);
    assert_success(&out);
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["installed"].as_array().unwrap().len(), 2, "{result}");
    assert_eq!(result["already_installed"][0], format!("{third}/{}", chain.uuid(0)));
    assert_eq!(file_gets(&server).len(), gets + 2);

    // list, get and delete see them as imgadm would.
    let listed = buildy_with(&["list", "--root", &fresh], &db);
    assert_success(&listed);
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(text.starts_with("UUID") && text.contains("PUB") && text.lines().count() == 4, "{text}");
    let got = buildy_with(&["get", &chain.uuid(1), "--root", &fresh], &db);
    assert_success(&got);
    assert_eq!(serde_json::from_slice::<Value>(&got.stdout).unwrap()["manifest"]["uuid"], chain.uuid(1).as_str());
    // (The originals' root: an image received under another root of the
    // same pool may become a clone of either copy of its origin.)
    let images = t.ds("images");
    let refused = t.buildy(&["delete", &chain.uuid(1), "--root", &images]);
    assert_fails(&refused, 2, "has dependent clones (");
    assert!(String::from_utf8_lossy(&refused.stderr).contains(&format!("{images}/{}", chain.uuid(2))));
    assert_success(&buildy_with(&["delete", &chain.uuid(2), "--root", &fresh], &db));
    assert!(!zfs_ok(&["list", &format!("{fresh}/{}", chain.uuid(2))]));
    assert!(!db.join(format!("images/{fresh}-{}.json", chain.uuid(2))).exists());
}

#[test]
fn download_faults_are_retried_where_a_retry_can_succeed_and_leave_nothing_otherwise() {
    let Some(t) = TestZfs::new("imgapi-faults") else { return };
    let (chain, server) = published(&t, 2);
    let child = chain.uuid(1);
    let db = t.dir.join("db2");
    let quick = [("BUILDY_HTTP_TIMEOUT", "1")];
    // Faults that a retry overcomes: the fault is lifted once the first
    // GET of the file arrived.
    for (n, fault) in
        [Fault::ServerErrorOnce, Fault::CutShort, Fault::Stall, Fault::Trickle { bytes_per_sec: 2_000_000 }]
            .into_iter()
            .enumerate()
    {
        let root = t.root(&format!("ok{n}"));
        let once = !matches!(fault, Fault::ServerErrorOnce | Fault::Trickle { .. });
        server.set_fault(&child, fault);
        let gets = file_gets(&server).len();
        let (t2, url, c) = (&t, server.url(), child.clone());
        let importing = std::thread::scope(|s| {
            let handle = s.spawn(|| import(t2, &root, &db, &url, &c, &[], &quick));
            if once {
                let deadline = Instant::now() + Duration::from_secs(30);
                while file_gets(&server).len() <= gets {
                    assert!(Instant::now() < deadline, "the download did not start");
                    std::thread::sleep(Duration::from_millis(20));
                }
                server.clear_fault(&child);
            }
            handle.join().unwrap()
        });
        assert_success(&importing);
        assert!(file_gets(&server).len() >= gets + 2, "fault {n} was retried");
        server.clear_fault(&child);
        assert!(zfs_ok(&["list", &format!("{root}/{child}@final")]));
    }
    // Faults no retry overcomes: exit 1 and nothing left (the child's
    // origin is installed first: it would stay, as a complete image).
    let root = t.root("fails");
    let (m0, f0) = (path(&chain.members[0].0), path(&chain.members[0].1));
    assert_success(&buildy_with(&["install", "-q", "--root", &root, "-m", &m0, "-f", &f0], &db));
    let before = state(&t);
    for fault in [Fault::WrongByte, Fault::CutShort, Fault::Stall] {
        server.set_fault(&child, fault);
        let out = import(&t, &root, &db, &server.url(), &child, &[], &quick);
        assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(state(&t), before, "a failed import leaves nothing");
    }
    server.clear_fault(&child);
    assert_success(&import(&t, &root, &db, &server.url(), &child, &[], &quick));
    assert!(zfs_ok(&["list", &format!("{root}/{child}@final")]), "it imports once the server is well");
}

#[test]
fn an_import_killed_mid_download_is_cleaned_up() {
    let Some(t) = TestZfs::new("imgapi-kill") else { return };
    let (chain, server) = published(&t, 1);
    let root = t.root("fresh");
    let db = t.dir.join("db2");
    let before = state(&t);
    server.set_fault(&chain.uuid(0), Fault::Trickle { bytes_per_sec: 50_000 });
    let work = path(&t.dir.join("work"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_buildy"))
        .args([
            "import",
            "-q",
            "-S",
            &server.url(),
            "--root",
            &root,
            "--db",
            &path(&db),
            "--work-dir",
            &work,
            &chain.uuid(0),
        ])
        .spawn()
        .unwrap();
    let downloads = t.dir.join("work/buildy-downloads");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !fs::read_dir(&downloads).is_ok_and(|d| d.flatten().any(|e| e.metadata().is_ok_and(|m| m.len() > 0))) {
        assert!(Instant::now() < deadline, "the download did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_ne!(state(&t), before, "the killed import left its download");
    let cleaned = buildy_with(&["cleanup", "--root", &t.top, "--work-dir", &work], &db);
    assert_success(&cleaned);
    assert_eq!(state(&t), before, "{}", String::from_utf8_lossy(&cleaned.stdout));
}

#[test]
fn channels_decide_what_an_import_finds() {
    let Some(t) = TestZfs::new("imgapi-channels") else { return };
    let chain = chain(&t);
    let config = Config { channels: Some(Channels::standard()), ..no_auth() };
    let server = Server::start(config).unwrap();
    let base = &chain.members[0];
    server.add_image(read_json(&base.0), &base.1, &["experimental"]);
    let root = t.root("fresh");
    let db = t.dir.join("db2");
    let out = import(&t, &root, &db, &server.url(), &chain.uuid(0), &[], &[]);
    assert_fails(&out, 2, &format!("image {} was found in no source (asked {})", chain.uuid(0), server.url()));
    let out = import(&t, &root, &db, &server.url(), &chain.uuid(0), &["-C", "experimental"], &[]);
    assert_success(&out);
    assert!(server
        .requests()
        .iter()
        .filter(|r| r.param("channel").is_some())
        .all(|r| r.param("channel") == Some("experimental")));
    // A channel in the source URL works too.
    let other = t.root("other");
    let url = format!("{}/?channel=experimental", server.url());
    assert_success(&import(&t, &other, &t.dir.join("db3"), &url, &chain.uuid(0), &[], &[]));
}

#[test]
fn publish_signs_when_asked_rolls_back_a_failed_upload_and_names_a_missing_origin() {
    let Some(t) = TestZfs::new("imgapi-publish") else { return };
    let chain = chain(&t);
    let key = t.dir.join("key");
    let made =
        Command::new("ssh-keygen").args(["-q", "-t", "rsa", "-b", "2048", "-N", "", "-f"]).arg(&key).status().unwrap();
    assert!(made.success());
    let public_key = fs::read_to_string(t.dir.join("key.pub")).unwrap();
    let config =
        Config { users: vec![User { login: "builder".into(), public_key }], require_signatures: true, ..no_auth() };
    let server = start(config);
    let (m, f, _) = &chain.members[0];
    let unsigned = buildy_env(&["publish", "-m", &path(m), "-f", &path(f), &server.url()], &[]);
    assert_fails(&unsigned, 1, "401");
    assert!(server.manifest(&chain.uuid(0)).is_none());
    let signed =
        ["publish", "-q", "--user", "builder", "--key", &path(&key), "-m", &path(m), "-f", &path(f), &server.url()];
    assert_success(&buildy_env(&signed, &[]));
    assert_eq!(server.manifest(&chain.uuid(0)).unwrap()["state"], "active");
    let writes: Vec<_> = server.requests().into_iter().filter(|r| r.method != "GET").collect();
    assert!(
        writes.iter().filter(|r| r.header("authorization").is_some()).count() >= 3,
        "import, file and activate are signed"
    );

    // The upload fails: the half-made image is deleted again.
    let open = start(no_auth());
    publish(&chain, &open, 0);
    open.fail_next("PUT", "/file", 500, "InternalError");
    let (m1, f1, _) = &chain.members[1];
    let out = buildy_env(&["publish", "-m", &path(m1), "-f", &path(f1), &open.url()], &[]);
    assert_fails(&out, 1, "InternalError");
    assert!(open.manifest(&chain.uuid(1)).is_none(), "rolled back");
    assert!(open.requests().iter().any(|r| r.method == "DELETE" && r.path == format!("/images/{}", chain.uuid(1))));

    // An origin the server lacks.
    let empty = start(no_auth());
    let (m2, f2, _) = &chain.members[2];
    let out = buildy_env(&["publish", "-m", &path(m2), "-f", &path(f2), &empty.url()], &[]);
    assert_fails(&out, 2, &format!("does not have the origin image {}", chain.uuid(1)));
}

#[test]
fn bad_sources_and_bad_answers_are_refused_and_leave_nothing() {
    let Some(t) = TestZfs::new("imgapi-bad") else { return };
    let (chain, server) = published(&t, 0);
    let root = t.root("fresh");
    let db = t.dir.join("db2");
    let before = state(&t);
    let uuid = chain.uuid(0);
    assert_fails(&import(&t, &root, &db, &server.url(), "not-a-uuid", &[], &[]), 2, "\"not-a-uuid\" is not a uuid");
    assert_fails(&import(&t, &root, &db, "ftp://x", &uuid, &[], &[]), 2, "\"ftp://x\" is not an image source URL");
    let closed = "http://127.0.0.1:9";
    assert_fails(
        &import(&t, &root, &db, closed, &uuid, &[], &[]),
        2,
        &format!("some could not be asked: {closed}/images/{uuid}"),
    );
    assert_fails(&import(&t, &root, &db, &server.url(), &uuid, &[], &[]), 2, &format!("(asked {})", server.url()));
    // A manifest that passes Node's rules only by coercion.
    let mut m = read_json(&chain.members[0].0);
    m["version"] = serde_json::json!(1);
    server.add_image(m, &chain.members[0].1, &[]);
    assert_fails(&import(&t, &root, &db, &server.url(), &uuid, &[], &[]), 2, "the manifest's version must be a string");
    // An answer that is not JSON.
    let not_imgapi = not_json_server();
    assert_fails(&import(&t, &root, &db, &not_imgapi, &uuid, &[], &[]), 2, "is not JSON");
    // A size the file does not have, and a file that is not a stream.
    let wrong = start(no_auth());
    let mut m = read_json(&chain.members[0].0);
    m["files"][0]["size"] = serde_json::json!(m["files"][0]["size"].as_u64().unwrap() + 1);
    wrong.add_image(m, &chain.members[0].1, &[]);
    assert_fails(&import(&t, &root, &db, &wrong.url(), &uuid, &[], &[]), 1, &format!("downloading image {uuid}"));
    let garbage = t.dir.join("garbage");
    fs::write(&garbage, vec![7u8; 4096]).unwrap();
    let sha1 = Command::new("sha1sum").arg(&garbage).output().unwrap();
    let sha1 = String::from_utf8_lossy(&sha1.stdout).split(' ').next().unwrap().to_string();
    let mut m = read_json(&chain.members[0].0);
    m["files"][0] = serde_json::json!({"size": 4096, "compression": "none", "sha1": sha1});
    let bad_stream = start(no_auth());
    bad_stream.add_image(m, &garbage, &[]);
    assert_fails(&import(&t, &root, &db, &bad_stream.url(), &uuid, &[], &[]), 1, "does not match its manifest");
    assert_eq!(state(&t), before);
}

#[test]
fn two_imports_of_one_chain_at_once_both_succeed_and_install_each_image_once() {
    let Some(t) = TestZfs::new("imgapi-race") else { return };
    let (chain, server) = published(&t, 3);
    let root = t.root("fresh");
    let db = t.dir.join("db2");
    let (url, top) = (server.url(), chain.uuid(2));
    let outputs = std::thread::scope(|s| {
        let a = s.spawn(|| import(&t, &root, &db, &url, &top, &["--json"], &[]));
        let b = s.spawn(|| import(&t, &root, &db, &url, &top, &["--json"], &[]));
        [a.join().unwrap(), b.join().unwrap()]
    });
    let mut installed = 0;
    for out in &outputs {
        assert_success(out);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        installed += v["installed"].as_array().unwrap().len();
    }
    assert_eq!(installed, 3, "each image installed once");
    for i in 0..3 {
        let ds = format!("{root}/{}", chain.uuid(i));
        assert_eq!(zfs(&["list", "-H", "-t", "snapshot", "-o", "name", "-r", &ds]).trim(), format!("{ds}@final"));
    }
}

#[test]
fn a_build_imports_its_missing_base_image_then_builds() {
    let Some(t) = TestZfs::new("imgapi-build") else { return };
    let (images, base) = base_image(&t);
    let server = start(no_auth());
    let out = t.out();
    let (m, f) = (out.join("buildy-base-1.0.0.imgmanifest"), out.join("buildy-base-1.0.0.zfs.gz"));
    assert_success(&buildy_env(&["publish", "-q", "-m", &path(&m), "-f", &path(&f), &server.url()], &[]));
    let fresh = t.root("fresh");
    let mut args =
        build_args(&t, &fresh, &base, "imported-base", &["-p", "hello", "--json", "--source", &server.url()]);
    args.push("--db".into());
    args.push(path(&t.dir.join("db2")));
    let built = Command::new(env!("CARGO_BIN_EXE_buildy")).args(&args).output().unwrap();
    assert_success(&built);
    let result: Value = serde_json::from_slice(&built.stdout).unwrap();
    let steps: Vec<&str> = result["steps"].as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(steps[..3], ["import", "hash", "clone"]);
    let log = String::from_utf8_lossy(&built.stderr);
    assert!(log.contains("step import: "), "{log}");
    // The result installs where the base is installed.
    let manifest = PathBuf::from(result["manifest_path"].as_str().unwrap());
    let file = PathBuf::from(result["file"].as_str().unwrap());
    let image = t.install(&images, &manifest, &file);
    assert!(t.mount_image(&image, "built").join("root/opt/local/bin/hello").is_file());
}

/// A server on 127.0.0.1 that answers every request with a 200 that is not
/// JSON; returns its URL.
fn not_json_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16).flatten() {
            let mut stream = stream;
            let mut buf = [0u8; 4096];
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 6\r\nConnection: close\r\n\r\n<html>",
            );
        }
    });
    url
}

#[test]
fn sources_are_listed_added_after_a_ping_and_deleted_in_imgadm_conf() {
    let dir = std::env::temp_dir().join(format!("buildy-sources-test-{}", std::process::id()));
    let db = dir.join("db");
    let sources = |args: &[&str]| buildy_env(&[&["sources", "--db", db.to_str().unwrap()], args].concat(), &[]);
    let listed = sources(&[]);
    assert_success(&listed);
    assert_eq!(String::from_utf8_lossy(&listed.stdout), "https://images.smartos.org\n", "imgadm's default");
    let server = start(no_auth());
    assert_success(&sources(&["-a", &format!("{}/?channel=dev", server.url()), "-k"]));
    assert!(server.requests().iter().any(|r| r.path == "/ping"), "pinged before it was added");
    let listed = String::from_utf8_lossy(&sources(&[]).stdout).to_string();
    assert_eq!(listed, format!("https://images.smartos.org\n{}?channel=dev (insecure)\n", server.url()));
    let conf: Value = serde_json::from_str(&fs::read_to_string(db.join("imgadm.conf")).unwrap()).unwrap();
    assert_eq!(
        conf["sources"][1],
        serde_json::json!({"url": format!("{}?channel=dev", server.url()), "type": "imgapi", "insecure": true})
    );
    assert_fails(&sources(&["-a", "http://127.0.0.1:9"]), 2, "source http://127.0.0.1:9 does not answer as an IMGAPI");
    assert_success(&sources(&["-d", "https://images.smartos.org"]));
    assert_fails(&sources(&["-d", "https://images.smartos.org"]), 2, "is not a configured source");
    let json: Value = serde_json::from_slice(&sources(&["--json"]).stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 1);
    fs::remove_dir_all(&dir).unwrap();
}
