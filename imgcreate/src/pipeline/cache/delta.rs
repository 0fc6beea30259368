//! A proto layer made from a sibling (the same parent, an older proto
//! dir) plus the difference, instead of a whole copy. It equals a whole
//! copy onto the parent when, packages first, no proto path is in the
//! parent's tree (what `order::overlap` ensures): then the sibling's tree is
//! the parent's plus the old proto dir, and removing what left, copying what
//! changed and resetting every directory's attributes gives the parent's
//! plus the new one. Not used when an entry changed type or a directory
//! went away (the parent may have it); a whole copy is made then.

use std::collections::HashMap;

use super::hash::Entry;

/// What to change in the sibling's tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delta {
    /// Paths to copy from the proto dir: what changed or is new, and every
    /// directory (their modes and owners, as a whole copy sets them).
    pub copy: Vec<Vec<u8>>,
    /// Files and links the proto dir no longer has.
    pub remove: Vec<String>,
    /// New paths, which must not be in the parent's tree.
    pub added: Vec<Vec<u8>>,
    pub changed: usize,
}

/// The delta from `old` to `new`, or why there is none.
pub fn delta(old: &[Entry], new: &[Entry]) -> Result<Delta, String> {
    let was: HashMap<&[u8], &Entry> = old.iter().map(|e| (e.path.as_slice(), e)).collect();
    let is: HashMap<&[u8], &Entry> = new.iter().map(|e| (e.path.as_slice(), e)).collect();
    let mut d = Delta { copy: Vec::new(), remove: Vec::new(), added: Vec::new(), changed: 0 };
    for e in new {
        match was.get(e.path.as_slice()) {
            Some(w) if w.kind != e.kind => {
                return Err(format!("{} changed type", String::from_utf8_lossy(&e.path)));
            }
            Some(w) if *w == e && e.kind != 'd' => {}
            Some(w) => {
                if *w != e {
                    d.changed += 1;
                }
                d.copy.push(e.path.clone());
            }
            None => {
                d.added.push(e.path.clone());
                d.changed += 1;
                d.copy.push(e.path.clone());
            }
        }
    }
    for e in old.iter().filter(|e| !is.contains_key(e.path.as_slice())) {
        if e.kind == 'd' {
            return Err(format!("the directory {} went away", String::from_utf8_lossy(&e.path)));
        }
        d.changed += 1;
        d.remove.push(String::from_utf8_lossy(&e.path).into_owned());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(path: &str, kind: char, digest: &str) -> Entry {
        Entry { path: path.into(), kind, mode: 0o644, uid: 0, gid: 0, digest: digest.into() }
    }

    #[test]
    fn a_delta_copies_what_changed_and_every_directory_and_removes_what_left() {
        let old = [e("opt", 'd', ""), e("opt/a", 'f', "1"), e("opt/b", 'f', "2"), e("opt/c", 'f', "3")];
        let new = [e("opt", 'd', ""), e("opt/a", 'f', "1"), e("opt/b", 'f', "9"), e("opt/d", 'f', "4")];
        let d = delta(&old, &new).unwrap();
        assert_eq!(d.copy, [b"opt".to_vec(), b"opt/b".to_vec(), b"opt/d".to_vec()]);
        assert_eq!((d.remove, d.added, d.changed), (vec!["opt/c".to_string()], vec![b"opt/d".to_vec()], 3));
        assert_eq!(delta(&old, &[e("opt", 'd', ""), e("opt/a", 'd', "")]).unwrap_err(), "opt/a changed type");
        assert_eq!(delta(&[e("x", 'd', "")], &[]).unwrap_err(), "the directory x went away");
    }
}
