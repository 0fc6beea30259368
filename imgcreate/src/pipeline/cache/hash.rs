//! The proto directory's content hash: over each entry's relative path,
//! file type, permission bits, uid/gid, content (files) or target
//! (symlinks), never mtimes. Files are read on all cores. A stat cache
//! (inode, size, mtime, ctime per path) lets an unchanged file's digest be
//! reused without reading it; it only saves work and never enters the key.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use sha2::{Digest, Sha256};

use super::key::hex;
use crate::atomic;

/// One entry of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Relative, `/`-separated, as bytes (paths need not be UTF-8).
    pub path: Vec<u8>,
    /// `f` file, `d` directory, `l` symlink, `p` fifo, `s` socket, `b`/`c` device.
    pub kind: char,
    /// Permission bits (`mode & 0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// SHA-256 of the content (files), of the target (symlinks), of the
    /// device number (devices); empty otherwise.
    pub digest: String,
}

/// The tree's entries, sorted by path, and their digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtoIndex {
    pub entries: Vec<Entry>,
    pub digest: String,
    /// Files read (the rest came from the stat cache).
    pub read: usize,
}

/// What the stat cache knows of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    ino: u64,
    size: u64,
    mtime: i128,
    ctime: i128,
}

impl Stat {
    fn of(m: &fs::Metadata) -> Stat {
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        Stat {
            ino: m.ino(),
            size: m.size(),
            mtime: ns(m.mtime(), m.mtime_nsec()),
            ctime: ns(m.ctime(), m.ctime_nsec()),
        }
    }
}

/// Hashes `dir`. `stat_cache` (if given) is read first and rewritten after.
pub fn hash_tree(dir: &Path, stat_cache: Option<&Path>) -> io::Result<ProtoIndex> {
    let mut found = Vec::new();
    walk(dir, &mut Vec::new(), &mut found)?;
    found.sort_by(|a, b| a.0.path.cmp(&b.0.path));
    let cached = stat_cache.map(read_stat_cache).unwrap_or_default();

    // Files whose digest the stat cache does not have, read in parallel.
    let mut to_read = Vec::new();
    for (i, (entry, stat)) in found.iter_mut().enumerate() {
        if entry.kind != 'f' {
            continue;
        }
        match cached.get(&entry.path) {
            Some((s, digest)) if s == stat && !racy(s) => entry.digest = digest.clone(),
            _ => to_read.push(i),
        }
    }
    let digests = read_in_parallel(dir, &found, &to_read)?;
    for (i, digest) in to_read.iter().zip(digests) {
        found[*i].0.digest = digest;
    }

    let mut h = Sha256::new();
    for (e, _) in &found {
        h.update((e.path.len() as u64).to_le_bytes());
        h.update(&e.path);
        h.update(format!("\0{}\0{:o}\0{}\0{}\0{}\0", e.kind, e.mode, e.uid, e.gid, e.digest).as_bytes());
    }
    if let Some(path) = stat_cache {
        // Best effort: a cache that cannot be written costs time, not correctness.
        let _ = write_stat_cache(path, &found);
    }
    let read = to_read.len();
    Ok(ProtoIndex { entries: found.into_iter().map(|(e, _)| e).collect(), digest: hex(&h.finalize()), read })
}

/// A file changed within the same second as its mtime could change again
/// without the mtime moving on coarse clocks: never trust such a stat.
fn racy(s: &Stat) -> bool {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    s.mtime / 1_000_000_000 >= i128::from(now.as_secs() as i64) - 1
}

fn walk(dir: &Path, rel: &mut Vec<u8>, out: &mut Vec<(Entry, Stat)>) -> io::Result<()> {
    let at = |e: io::Error, p: &Path| io::Error::new(e.kind(), format!("{}: {e}", p.display()));
    for item in fs::read_dir(dir).map_err(|e| at(e, dir))? {
        let item = item.map_err(|e| at(e, dir))?;
        let path = item.path();
        let meta = fs::symlink_metadata(&path).map_err(|e| at(e, &path))?;
        let len = rel.len();
        if !rel.is_empty() {
            rel.push(b'/');
        }
        rel.extend_from_slice(item.file_name().as_bytes());
        let ft = meta.file_type();
        let (kind, digest) = if ft.is_dir() {
            ('d', String::new())
        } else if ft.is_file() {
            ('f', String::new())
        } else if ft.is_symlink() {
            let target = fs::read_link(&path).map_err(|e| at(e, &path))?;
            ('l', hex(&Sha256::digest(target.as_os_str().as_bytes())))
        } else if ft.is_block_device() || ft.is_char_device() {
            let kind = if ft.is_block_device() { 'b' } else { 'c' };
            (kind, hex(&Sha256::digest(meta.rdev().to_le_bytes())))
        } else if ft.is_fifo() {
            ('p', String::new())
        } else {
            ('s', String::new())
        };
        let entry =
            Entry { path: rel.clone(), kind, mode: meta.mode() & 0o7777, uid: meta.uid(), gid: meta.gid(), digest };
        out.push((entry, Stat::of(&meta)));
        if ft.is_dir() {
            walk(&path, rel, out)?;
        }
        rel.truncate(len);
    }
    Ok(())
}

/// The content digests of `found[i]` for each `i` in `which`, on all cores.
fn read_in_parallel(dir: &Path, found: &[(Entry, Stat)], which: &[usize]) -> io::Result<Vec<String>> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(which.len().max(1));
    let next = AtomicUsize::new(0);
    let mut digests: Vec<Option<io::Result<String>>> = (0..which.len()).map(|_| None).collect();
    let results = std::sync::Mutex::new(&mut digests);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut buf = vec![0u8; 256 * 1024];
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&i) = which.get(n) else { break };
                    let path = dir.join(OsStr::from_bytes(&found[i].0.path));
                    let digest = file_digest(&path, &mut buf);
                    results.lock().expect("no panics hold it")[n] = Some(digest);
                }
            });
        }
    });
    digests.into_iter().map(|d| d.expect("every file was read")).collect()
}

fn file_digest(path: &Path, buf: &mut [u8]) -> io::Result<String> {
    let mut file = fs::File::open(path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    let mut h = Sha256::new();
    loop {
        match file.read(buf) {
            Ok(0) => break,
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
        }
    }
    Ok(hex(&h.finalize()))
}

/// `path\0ino size mtime ctime digest\n` per file.
fn read_stat_cache(path: &Path) -> HashMap<Vec<u8>, (Stat, String)> {
    let Ok(bytes) = fs::read(path) else { return HashMap::new() };
    let mut cache = HashMap::new();
    for line in bytes.split(|&b| b == b'\n') {
        let Some(nul) = line.iter().position(|&b| b == 0) else { continue };
        let (name, rest) = (&line[..nul], String::from_utf8_lossy(&line[nul + 1..]).into_owned());
        let f: Vec<&str> = rest.split(' ').collect();
        let parsed = (|| {
            let stat = Stat {
                ino: f.first()?.parse().ok()?,
                size: f.get(1)?.parse().ok()?,
                mtime: f.get(2)?.parse().ok()?,
                ctime: f.get(3)?.parse().ok()?,
            };
            Some((stat, f.get(4)?.to_string()))
        })();
        if let Some(entry) = parsed {
            cache.insert(name.to_vec(), entry);
        }
    }
    cache
}

fn write_stat_cache(path: &Path, found: &[(Entry, Stat)]) -> io::Result<()> {
    let mut out = Vec::new();
    for (e, s) in found.iter().filter(|(e, _)| e.kind == 'f') {
        out.extend_from_slice(&e.path);
        out.push(0);
        out.extend_from_slice(format!("{} {} {} {} {}\n", s.ino, s.size, s.mtime, s.ctime, e.digest).as_bytes());
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    atomic::write_file(path, &out)
}

/// Where the stat cache of proto dir `dir` lives under `work_dir`.
pub fn stat_cache_path(work_dir: &Path, dir: &Path) -> PathBuf {
    let absolute = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let id = hex(&Sha256::digest(absolute.as_os_str().as_bytes()));
    work_dir.join("buildy-cache").join(format!("proto-stat-{}", &id[..16]))
}

/// `old` to `new` as a short line: `proto: 3 files changed: a, b, c ...`.
pub fn describe_changes(old: &[Entry], new: &[Entry]) -> String {
    fn index(entries: &[Entry]) -> HashMap<&[u8], &Entry> {
        entries.iter().map(|e| (e.path.as_slice(), e)).collect()
    }
    let (was, is) = (index(old), index(new));
    let mut changed: Vec<String> = Vec::new();
    for e in new {
        match was.get(e.path.as_slice()) {
            Some(w) if *w == e => {}
            Some(_) => changed.push(String::from_utf8_lossy(&e.path).into_owned()),
            None => changed.push(format!("+{}", String::from_utf8_lossy(&e.path))),
        }
    }
    changed.extend(
        old.iter()
            .filter(|e| !is.contains_key(e.path.as_slice()))
            .map(|e| format!("-{}", String::from_utf8_lossy(&e.path))),
    );
    let shown: Vec<&str> = changed.iter().take(5).map(String::as_str).collect();
    let more = if changed.len() > shown.len() { " ..." } else { "" };
    let files = if changed.len() == 1 { "file" } else { "files" };
    format!("proto: {} {files} changed: {}{more}", changed.len(), shown.join(", "))
}

/// An index as text (one entry per line), for a layer's record: paths are
/// hex when they hold bytes a line cannot.
pub fn entries_to_text(entries: &[Entry]) -> String {
    let mut out = String::new();
    for e in entries {
        let path = match std::str::from_utf8(&e.path) {
            Ok(p) if !p.contains(['\n', '\t']) && !p.starts_with("hex:") => p.to_string(),
            _ => format!("hex:{}", hex(&e.path)),
        };
        out.push_str(&format!("{}\t{:o}\t{}\t{}\t{}\t{path}\n", e.kind, e.mode, e.uid, e.gid, e.digest));
    }
    out
}

pub fn entries_from_text(text: &str) -> Vec<Entry> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.splitn(6, '\t').collect();
            let [kind, mode, uid, gid, digest, path] = f.as_slice() else { return None };
            let path = match path.strip_prefix("hex:") {
                Some(h) => (0..h.len() / 2)
                    .map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).ok())
                    .collect::<Option<Vec<u8>>>()?,
                None => path.as_bytes().to_vec(),
            };
            Some(Entry {
                path,
                kind: kind.chars().next()?,
                mode: u32::from_str_radix(mode, 8).ok()?,
                uid: uid.parse().ok()?,
                gid: gid.parse().ok()?,
                digest: digest.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn tree() -> tempdir::Dir {
        let d = tempdir::Dir::new();
        fs::create_dir_all(d.0.join("opt/app/bin")).unwrap();
        fs::write(d.0.join("opt/app/bin/run"), "#!/bin/sh\n").unwrap();
        fs::write(d.0.join("etc.conf"), "port=80\n").unwrap();
        symlink("opt/app", d.0.join("app")).unwrap();
        d
    }

    mod tempdir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
                let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let p = std::env::temp_dir().join(format!("buildy-hash-{}-{n}", std::process::id()));
                let _ = std::fs::remove_dir_all(&p);
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn the_hash_follows_content_modes_and_links_but_not_mtimes() {
        let d = tree();
        let first = hash_tree(&d.0, None).unwrap();
        let paths: Vec<String> = first.entries.iter().map(|e| String::from_utf8_lossy(&e.path).into_owned()).collect();
        assert_eq!(paths, ["app", "etc.conf", "opt", "opt/app", "opt/app/bin", "opt/app/bin/run"]);
        // A new mtime alone changes nothing.
        let f = fs::File::options().write(true).open(d.0.join("etc.conf")).unwrap();
        f.set_modified(std::time::SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(hash_tree(&d.0, None).unwrap().digest, first.digest);
        // Content, permission bits and link targets do.
        fs::write(d.0.join("etc.conf"), "port=81\n").unwrap();
        let content = hash_tree(&d.0, None).unwrap();
        assert_ne!(content.digest, first.digest);
        assert_eq!(describe_changes(&first.entries, &content.entries), "proto: 1 file changed: etc.conf");
        fs::set_permissions(d.0.join("opt/app/bin/run"), fs::Permissions::from_mode(0o700)).unwrap();
        assert_ne!(hash_tree(&d.0, None).unwrap().digest, content.digest);
        fs::remove_file(d.0.join("app")).unwrap();
        symlink("opt", d.0.join("app")).unwrap();
        let relinked = hash_tree(&d.0, None).unwrap();
        assert_ne!(relinked.digest, content.digest);
        assert_eq!(entries_from_text(&entries_to_text(&relinked.entries)), relinked.entries);
    }

    #[test]
    fn the_stat_cache_skips_unchanged_files_and_never_changes_the_digest() {
        let d = tree();
        let cache_dir = tempdir::Dir::new();
        let cache = cache_dir.0.join("stat");
        // Files written just now are never trusted from the cache: age them.
        for f in ["etc.conf", "opt/app/bin/run"] {
            let file = fs::File::options().write(true).open(d.0.join(f)).unwrap();
            file.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(60)).unwrap();
        }
        let cold = hash_tree(&d.0, Some(&cache)).unwrap();
        assert_eq!(cold.read, 2);
        let warm = hash_tree(&d.0, Some(&cache)).unwrap();
        assert_eq!((warm.read, &warm.digest), (0, &cold.digest));
        fs::write(d.0.join("etc.conf"), "port=82\n").unwrap();
        let changed = hash_tree(&d.0, Some(&cache)).unwrap();
        assert_eq!(changed.read, 1);
        assert_eq!(changed.digest, hash_tree(&d.0, None).unwrap().digest);
        assert_ne!(changed.digest, cold.digest);
    }
}
