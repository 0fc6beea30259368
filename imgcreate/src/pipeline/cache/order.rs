//! The layer order. buildimage copies the proto dir and then installs
//! packages; a cache is more useful the other way round (a service's files
//! change far more often than its packages), so buildy installs packages
//! first when that provably gives the same tree: no pkgsrc configuration in
//! the proto dir (it would change what the packages step does), and no
//! proto path that the base image or the packages also have (the proto
//! file would win where buildimage's packages step could have changed or
//! read it). Otherwise it keeps buildimage's order, and says why.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::hash::Entry;
use super::Kind;

/// Proto paths that configure pkgsrc or hold its databases.
const PKGSRC_PATHS: &[&str] = &[
    "opt/local/etc/pkgin",
    "opt/local/etc/pkg_install.conf",
    "opt/local/etc/mk.conf",
    "opt/local/etc/gnupg",
    "opt/local/pkg",
    "var/db/pkg",
    "var/db/pkgin",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub kinds: Vec<Kind>,
    /// For the log: which order and why.
    pub why: String,
}

impl Order {
    pub fn packages_first() -> Order {
        Order {
            kinds: vec![Kind::Packages, Kind::Proto],
            why: "packages, then the proto dir (no proto path is pkgsrc configuration or also in the base image or its packages)".into(),
        }
    }

    pub fn buildimage(why: String) -> Order {
        Order {
            kinds: vec![Kind::Proto, Kind::Packages],
            why: format!("the proto dir, then packages (buildimage's order): {why}"),
        }
    }

    pub fn is_packages_first(&self) -> bool {
        self.kinds.first() == Some(&Kind::Packages)
    }
}

/// The order to try first, from the proto dir alone.
pub fn initial(proto: &[Entry]) -> Order {
    let configuring: Vec<String> = proto
        .iter()
        .filter(|e| PKGSRC_PATHS.iter().any(|p| under(&e.path, p.as_bytes())))
        .map(|e| String::from_utf8_lossy(&e.path).into_owned())
        .take(3)
        .collect();
    if configuring.is_empty() {
        Order::packages_first()
    } else {
        Order::buildimage(format!("the proto dir configures pkgsrc ({})", configuring.join(", ")))
    }
}

fn under(path: &[u8], prefix: &[u8]) -> bool {
    path == prefix || (path.starts_with(prefix) && path.get(prefix.len()) == Some(&b'/'))
}

/// Proto paths that the tree at `root` (the base image with its packages)
/// already has, other than directories on both sides; `None` if none.
pub fn overlap(proto: &[Entry], root: &Path) -> Option<String> {
    let clashing: Vec<String> = proto
        .iter()
        .filter(|e| match std::fs::symlink_metadata(root.join(OsStr::from_bytes(&e.path))) {
            Ok(m) => !(m.is_dir() && e.kind == 'd'),
            Err(_) => false,
        })
        .map(|e| String::from_utf8_lossy(&e.path).into_owned())
        .collect();
    if clashing.is_empty() {
        return None;
    }
    let shown: Vec<&str> = clashing.iter().take(3).map(String::as_str).collect();
    let more = if clashing.len() > 3 { format!(" and {} more", clashing.len() - 3) } else { String::new() };
    Some(format!("the base image or its packages also have {}{more}", shown.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, kind: char) -> Entry {
        Entry { path: path.as_bytes().to_vec(), kind, mode: 0o644, uid: 0, gid: 0, digest: String::new() }
    }

    #[test]
    fn pkgsrc_configuration_in_the_proto_dir_keeps_buildimages_order() {
        assert!(initial(&[entry("opt/app/run", 'f'), entry("opt/local/etc", 'd')]).is_packages_first());
        let order = initial(&[entry("opt/local/etc/pkgin/repositories.conf", 'f')]);
        assert_eq!(order.kinds, [Kind::Proto, Kind::Packages]);
        assert!(order.why.contains("configures pkgsrc (opt/local/etc/pkgin/repositories.conf)"), "{}", order.why);
        assert!(initial(&[entry("var/db/pkgsrc-notes", 'f')]).is_packages_first());
    }

    #[test]
    fn only_non_directory_paths_in_both_trees_clash() {
        let root = std::env::temp_dir().join(format!("buildy-order-{}", std::process::id()));
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
        let proto = [entry("etc", 'd'), entry("etc/app.conf", 'f')];
        assert_eq!(overlap(&proto, &root), None);
        let proto = [entry("etc", 'd'), entry("etc/passwd", 'f'), entry("etc/app.conf", 'f')];
        assert_eq!(overlap(&proto, &root).unwrap(), "the base image or its packages also have etc/passwd");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
