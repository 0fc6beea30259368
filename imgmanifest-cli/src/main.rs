//! `imgmanifest validate` and `imgmanifest upgrade`.
//!
//! Exit status: 0 all valid, 1 some invalid, 2 usage error or an input that
//! cannot be read or parsed.

use std::io::{self, BufWriter, Read, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use imgmanifest::{upgrade, validate, FieldError, Mode, Options};
use serde_json::{json, Value};

#[derive(Parser)]
#[command(name = "imgmanifest", version, about = "Validate and upgrade IMGAPI image manifests")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate manifests as Triton's IMGAPI would.
    Validate {
        /// minimal (what imgadm install needs), dc, public or private.
        #[arg(long, default_value = "minimal", value_parser = parse_mode)]
        mode: Mode,
        /// Channel names the IMGAPI has (public and private modes only):
        /// turns on the channel rules.
        #[arg(long, value_delimiter = ',', num_args = 1)]
        channels: Option<Vec<String>>,
        /// Upgrade each manifest to the current version before validating.
        #[arg(long)]
        upgrade: bool,
        /// One line of JSON per input.
        #[arg(long)]
        json: bool,
        /// Manifest files; `-` or none for standard input.
        files: Vec<String>,
    },
    /// Print a manifest upgraded to the current version.
    Upgrade {
        /// Manifest file; `-` or none for standard input.
        file: Option<String>,
    },
}

fn parse_mode(s: &str) -> Result<Mode, String> {
    s.parse()
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Command::Validate { mode, channels, upgrade, json, files } => {
            if channels.is_some() && !matches!(mode, Mode::Public | Mode::Private) {
                eprintln!("imgmanifest: --channels only applies to --mode public or private");
                return ExitCode::from(2);
            }
            if channels.as_ref().is_some_and(|c| c.iter().any(|n| n.is_empty())) {
                eprintln!("imgmanifest: --channels needs non-empty channel names, e.g. --channels dev,staging");
                return ExitCode::from(2);
            }
            let opts = Options { mode, channels };
            let files = if files.is_empty() { vec!["-".to_string()] } else { files };
            run_validate(&files, &opts, upgrade, json)
        }
        Command::Upgrade { file } => run_upgrade(file.as_deref().unwrap_or("-")),
    }
}

/// The result of one input.
enum Verdict {
    Valid,
    Invalid(Vec<FieldError>),
    /// Unreadable, not JSON, or not upgradable.
    Unusable {
        error: String,
        exit: u8,
    },
}

fn read_input(name: &str) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    let result = if name == "-" {
        io::stdin().lock().read_to_end(&mut buf).map(|_| ())
    } else {
        std::fs::File::open(name).and_then(|mut f| f.read_to_end(&mut buf)).map(|_| ())
    };
    result.map(|_| buf).map_err(|e| format!("cannot read {name}: {e}"))
}

fn parse_input(name: &str) -> Result<Value, String> {
    let bytes = read_input(name)?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{name} is not JSON: {e}"))
}

fn judge(name: &str, opts: &Options, do_upgrade: bool) -> Verdict {
    let value = match parse_input(name) {
        Ok(v) => v,
        Err(error) => return Verdict::Unusable { error, exit: 2 },
    };
    let value = if do_upgrade {
        match upgrade(&value) {
            Ok(v) => v,
            // Parsed fine but not a manifest that can be upgraded: invalid.
            Err(e) => return Verdict::Unusable { error: format!("cannot upgrade: {e}"), exit: 1 },
        }
    } else {
        value
    };
    let errs = validate(&value, opts);
    if errs.is_empty() {
        Verdict::Valid
    } else {
        Verdict::Invalid(errs)
    }
}

fn run_validate(files: &[String], opts: &Options, do_upgrade: bool, as_json: bool) -> ExitCode {
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut exit = 0u8;
    for name in files {
        let verdict = judge(name, opts, do_upgrade);
        let line = match &verdict {
            Verdict::Valid if as_json => json!({"file": name, "valid": true, "errors": []}).to_string(),
            Verdict::Valid => format!("{name}: ok"),
            Verdict::Invalid(errs) if as_json => json!({"file": name, "valid": false, "errors": errs}).to_string(),
            Verdict::Invalid(errs) => {
                let mut s = format!("{name}: invalid");
                for e in errs {
                    s.push_str(&format!("\n    {e}"));
                }
                s
            }
            Verdict::Unusable { error, .. } if as_json => {
                json!({"file": name, "valid": false, "error": error}).to_string()
            }
            Verdict::Unusable { error, .. } => format!("{name}: error: {error}"),
        };
        exit = exit.max(match verdict {
            Verdict::Valid => 0,
            Verdict::Invalid(_) => 1,
            Verdict::Unusable { exit, .. } => exit,
        });
        if writeln!(out, "{line}").is_err() {
            return ExitCode::from(2);
        }
    }
    if out.flush().is_err() {
        return ExitCode::from(2);
    }
    ExitCode::from(exit)
}

fn run_upgrade(name: &str) -> ExitCode {
    let value = match parse_input(name) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("imgmanifest: {e}");
            return ExitCode::from(2);
        }
    };
    match upgrade(&value) {
        Ok(v) => {
            println!("{}", imgmanifest::js::json_stringify_pretty(&v));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("imgmanifest: cannot upgrade {name}: {e}");
            ExitCode::from(2)
        }
    }
}
