//! `imgapi-testserver [--listen 127.0.0.1:PORT] [--channels] [--private]`:
//! serves until killed, with no auth. The one line on stdout,
//! `listening on http://127.0.0.1:PORT`, tells a benchmark where. SIGTERM,
//! SIGINT or SIGHUP stop it cleanly (its image files are removed); after a
//! SIGKILL the next start removes what the dead one left.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;

use imgapi_testserver::{Channels, Config, Mode, Server};

const USAGE: &str = "usage: imgapi-testserver [--listen 127.0.0.1:PORT] [--channels] [--private]";

fn main() -> ExitCode {
    let mut listen: SocketAddr = ([127, 0, 0, 1], 0).into();
    let mut config = Config::default();
    let mut mode = Mode::Public;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--listen" => match args.next().map(|v| v.parse()) {
                Some(Ok(addr)) => listen = addr,
                _ => return usage("--listen needs an address such as 127.0.0.1:0"),
            },
            "--channels" => config.channels = Some(Channels::standard()),
            "--private" => mode = Mode::Private,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => return usage(&format!("unknown argument {other:?}")),
        }
    }
    // Block the stop signals before any thread starts (threads inherit the
    // mask), so that only the sigwait below receives them.
    let signals = stop_signals();
    let server = match Server::start_on(config, listen) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("imgapi-testserver: {e}");
            return ExitCode::FAILURE;
        }
    };
    server.set_mode(mode);
    let mut out = std::io::stdout().lock();
    if writeln!(out, "listening on {}", server.url()).and_then(|_| out.flush()).is_err() {
        return ExitCode::FAILURE;
    }
    drop(out);
    let mut sig = 0;
    // SAFETY: `signals` is an initialised set; sigwait only writes `sig`.
    unsafe { libc::sigwait(&signals, &mut sig) };
    drop(server);
    ExitCode::SUCCESS
}

fn stop_signals() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set before it is used; the calls
    // only touch this set and the calling thread's signal mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            libc::sigaddset(&mut set, s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("imgapi-testserver: {msg}\n{USAGE}");
    ExitCode::from(2)
}
