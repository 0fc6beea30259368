//! SIGINT, SIGTERM and SIGHUP, handled on a thread of their own: the first
//! cancels the work (running commands are stopped, the work in progress
//! fails and is undone), a second one aborts the undo too (hung commands
//! are killed, and the process exits reporting what is left).

use imgcreate::host::exec::Exec;

pub fn catch(exec: &Exec) {
    let exec = exec.clone();
    // SAFETY: plain sigset manipulation; the mask is set before any thread
    // that should inherit it starts, and the executor clears it for the
    // commands it starts.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&mut set, sig);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        std::thread::spawn(move || loop {
            let mut sig: libc::c_int = 0;
            if libc::sigwait(&set, &mut sig) != 0 {
                continue;
            }
            let name = match sig {
                libc::SIGINT => "SIGINT",
                libc::SIGTERM => "SIGTERM",
                _ => "SIGHUP",
            };
            if exec.cancel(name) {
                crate::output::warn(format!("buildy: {name} again: no longer waiting for the undo"));
            }
        });
    }
}
