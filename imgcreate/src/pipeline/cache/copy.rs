//! `zfs send -i ORIGIN SNAPSHOT | zfs receive TARGET`: a copy of a snapshot
//! as a new clone of `ORIGIN` (the same stream an incremental image file
//! holds), which is how a layer is stored and how a build resumes from one.

use std::io::{Read, Write};

use crate::host::zfs::{Zfs, ZfsError};

pub fn send_receive(zfs: &Zfs, snapshot: &str, origin: &str, target: &str) -> Result<(), ZfsError> {
    let mut stream = zfs.send(snapshot, Some(origin))?;
    let mut receive = zfs.receive_into(target, Some(origin))?;
    let mut stdin = receive.take_stdin();
    let mut buf = vec![0u8; 1 << 20];
    let copied = loop {
        match stream.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                if stdin.write_all(&buf[..n]).is_err() {
                    break Ok(()); // the receiver exited: its status says why
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    drop(stdin);
    match copied {
        Ok(()) => receive.wait().map_err(|e| Zfs::error("receive", target, e)),
        Err(e) => {
            receive.kill();
            // The sender's failure (its status and stderr) is in the error.
            let io = crate::host::exec::CommandError::other(format!("zfs send -i {origin} {snapshot}"), e);
            Err(Zfs::error("send", snapshot, io))
        }
    }
}
