//! `imgapi-testserver [--listen 127.0.0.1:PORT] [--channels] [--private]`:
//! serves until killed, with no auth. The one line on stdout,
//! `listening on http://127.0.0.1:PORT`, tells a benchmark where.

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
    loop {
        std::thread::park();
    }
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("imgapi-testserver: {msg}\n{USAGE}");
    ExitCode::from(2)
}
