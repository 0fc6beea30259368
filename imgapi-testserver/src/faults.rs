//! GetImageFile's body, with the faults a test can set on an image: the
//! ways a real download goes wrong that an importer must notice.

use std::fs::File;
use std::io::{self, Read, Write};
use std::time::Duration;

use crate::server::Shared;

/// A fault on GetImageFile of one image (`Server::set_fault`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// `Content-Length` says the whole file; the connection closes after half.
    CutShort,
    /// One byte of the body flipped: same length, another sha1.
    WrongByte,
    /// The next GetImageFile answers 500 `InternalError`; later ones succeed.
    ServerErrorOnce,
    /// The whole file, at this rate.
    Trickle { bytes_per_sec: u64 },
    /// Headers and a few bytes, then nothing; the connection stays open
    /// until the server drops.
    Stall,
}

/// Whether the connection must close after this fault's answer.
pub(crate) fn closes(fault: Option<&Fault>) -> bool {
    matches!(fault, Some(Fault::CutShort | Fault::Stall))
}

/// Writes `size` bytes of `file` as the fault says. `Ok(false)` when the
/// connection must not carry another request (the body is not whole).
pub(crate) fn send_body(
    w: &mut impl Write,
    sh: &Shared,
    mut file: File,
    size: u64,
    fault: Option<&Fault>,
) -> io::Result<bool> {
    match fault {
        None | Some(Fault::ServerErrorOnce) => copy(&mut file, w, size, |_, _| {}),
        Some(Fault::CutShort) => {
            copy(&mut file, w, size / 2, |_, _| {})?;
            Ok(false)
        }
        Some(Fault::WrongByte) => {
            let at = size / 2;
            copy(&mut file, w, size, |offset, chunk| {
                if (offset..offset + chunk.len() as u64).contains(&at) {
                    chunk[(at - offset) as usize] ^= 0xff;
                }
            })
        }
        Some(Fault::Trickle { bytes_per_sec }) => {
            // A tenth of the rate every 100 ms.
            let step = (*bytes_per_sec / 10).max(1);
            let mut sent = 0;
            while sent < size {
                let n = step.min(size - sent);
                if !copy(&mut file, w, n, |_, _| {})? {
                    return Ok(false);
                }
                w.flush()?;
                sent += n;
                if sent < size && !sh.sleep(Duration::from_millis(100)) {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Some(Fault::Stall) => {
            copy(&mut file, w, size.saturating_sub(1).min(16), |_, _| {})?;
            w.flush()?;
            sh.wait_for_stop();
            Ok(false)
        }
    }
}

/// Copies `n` bytes, letting `edit` change each chunk (given its offset from
/// where this copy started). `Ok(false)` if the file ran out first.
fn copy(from: &mut File, to: &mut impl Write, n: u64, mut edit: impl FnMut(u64, &mut [u8])) -> io::Result<bool> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut done = 0u64;
    while done < n {
        let want = (n - done).min(buf.len() as u64) as usize;
        let got = from.read(&mut buf[..want])?;
        if got == 0 {
            return Ok(false);
        }
        edit(done, &mut buf[..got]);
        to.write_all(&buf[..got])?;
        done += got as u64;
    }
    Ok(true)
}
