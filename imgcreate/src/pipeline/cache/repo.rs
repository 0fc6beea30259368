//! What identifies the packages a packages layer installs: the image's
//! remote pkgsrc repositories (pkgin's `repositories.conf`, pkg_add's
//! `PKG_PATH`) and the digest of each one's package summary as the server
//! has it now. Repositories inside the image are part of its tree, which
//! the parent key already covers.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::key::hex;
use crate::host::exec::Exec;
use crate::source::imgapi::{Client, ClientOptions};
use crate::source::Source;

const REPOSITORIES_CONF: &str = "opt/local/etc/pkgin/repositories.conf";
const PKG_INSTALL_CONF: &str = "opt/local/etc/pkg_install.conf";
/// The summary files pkgsrc repositories publish, in pkgin's preference.
const SUMMARIES: &[&str] = &["pkg_summary.xz", "pkg_summary.bz2", "pkg_summary.gz"];

/// The remote repository URLs configured in the image tree `root`, sorted.
pub fn remote_repositories(root: &Path) -> Vec<String> {
    remote_repositories_in(&[root])
}

/// The same for a tree made of `layers`, the first that has a file winning
/// (a proto dir copied over the base image).
pub fn remote_repositories_in(layers: &[&Path]) -> Vec<String> {
    let read =
        |rel: &str| layers.iter().find_map(|dir| std::fs::read_to_string(dir.join(rel)).ok()).unwrap_or_default();
    let mut urls: Vec<String> = parse_repositories_conf(&read(REPOSITORIES_CONF));
    urls.extend(parse_pkg_path(&read(PKG_INSTALL_CONF)));
    urls.retain(|u| ["http://", "https://", "ftp://"].iter().any(|s| u.starts_with(s)));
    urls.sort();
    urls.dedup();
    urls
}

/// pkgin: one URL per line, `#` comments.
fn parse_repositories_conf(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// pkg_install.conf: `PKG_PATH=url;url`.
fn parse_pkg_path(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("PKG_PATH"))
        .filter_map(|rest| rest.trim_start().strip_prefix('='))
        .flat_map(|v| v.split(';').map(|u| u.trim().to_string()).collect::<Vec<_>>())
        .filter(|u| !u.is_empty())
        .collect()
}

/// `url=<sha256 of its summary>` for each repository, space separated;
/// an error names the repository whose summary could not be fetched.
pub fn identity(exec: &Exec, options: &ClientOptions, urls: &[String]) -> Result<String, String> {
    let mut parts = Vec::new();
    for url in urls {
        let source = Source { url: url.trim_end_matches('/').to_string(), channel: None, insecure: false };
        let client = Client::new(exec, &source, None, options.clone());
        let mut found = None;
        for name in SUMMARIES {
            let file = format!("{}/{name}", source.url);
            match client.get_url(&file).map_err(|e| e.to_string())? {
                Some(mut body) => {
                    found = Some(digest(&mut body).map_err(|e| format!("{file}: {e}"))?);
                    break;
                }
                None => continue,
            }
        }
        let digest = found.ok_or_else(|| format!("{url} has no {}", SUMMARIES.join(", ")))?;
        parts.push(format!("{url}={digest}"));
    }
    Ok(parts.join(" "))
}

fn digest(body: &mut dyn Read) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match body.read(&mut buf) {
            Ok(0) => return Ok(hex(&h.finalize())),
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A repository on 127.0.0.1 that has only `pkg_summary.gz` (`body`).
    fn repository(body: &'static [u8]) -> String {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/All", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                reader.read_line(&mut request).unwrap();
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let mut out = stream;
                if request.starts_with("GET /All/pkg_summary.gz ") {
                    let head =
                        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                    out.write_all(head.as_bytes()).unwrap();
                    out.write_all(body).unwrap();
                } else {
                    out.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
                }
            }
        });
        url
    }

    #[test]
    fn a_repository_is_identified_by_its_summarys_digest() {
        let exec = Exec::default();
        let url = repository(b"summary v1");
        let id = identity(&exec, &ClientOptions::default(), std::slice::from_ref(&url)).unwrap();
        assert_eq!(id, format!("{url}={}", hex(&Sha256::digest(b"summary v1"))));
        let other = repository(b"summary v2");
        let changed = identity(&exec, &ClientOptions::default(), std::slice::from_ref(&other)).unwrap();
        assert_ne!(changed.split('=').nth(1), id.split('=').nth(1));
        let options = ClientOptions { attempts: 1, ..ClientOptions::default() };
        let err = identity(&exec, &options, &["http://127.0.0.1:9/none".to_string()]).unwrap_err();
        assert!(err.starts_with("http://127.0.0.1:9/none/pkg_summary.xz: "), "{err}");
    }

    #[test]
    fn repositories_come_from_pkgin_and_pkg_install_configuration() {
        let conf = "# pkgin\nhttps://pkgsrc.smartos.org/packages/SmartOS/2021Q4/x86_64/All # main\n\nfile:///opt/local/packages/All\n";
        assert_eq!(
            parse_repositories_conf(conf),
            ["https://pkgsrc.smartos.org/packages/SmartOS/2021Q4/x86_64/All", "file:///opt/local/packages/All"]
        );
        let pkg_install = "VERIFIED_INSTALLATION=always\nPKG_PATH = https://a.example/All;https://b.example/All\n";
        assert_eq!(parse_pkg_path(pkg_install), ["https://a.example/All", "https://b.example/All"]);
        let dir = std::env::temp_dir().join(format!("buildy-repo-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("opt/local/etc/pkgin")).unwrap();
        std::fs::write(dir.join(REPOSITORIES_CONF), conf).unwrap();
        std::fs::write(
            dir.join(PKG_INSTALL_CONF),
            "PKG_PATH=https://pkgsrc.smartos.org/packages/SmartOS/2021Q4/x86_64/All\n",
        )
        .unwrap();
        assert_eq!(remote_repositories(&dir), ["https://pkgsrc.smartos.org/packages/SmartOS/2021Q4/x86_64/All"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
