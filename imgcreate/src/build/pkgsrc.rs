//! The package steps, run in `chroot` with the image's own pkgsrc tools at
//! their SmartOS paths: `pkgin update` and `full-upgrade` (`-u`), `pkg_add
//! -U` (`-p`), `pkg_info -a` (logged), and the audit (`-a`), whose exit
//! status 1 means "vulnerabilities found": saved, not fatal.

use std::path::PathBuf;
use std::process::Command;

use super::{BuildError, Run};
use crate::command;

const PKGIN: &str = "/opt/local/bin/pkgin";
const PKG_ADD: &str = "/opt/local/sbin/pkg_add";
const PKG_INFO: &str = "/opt/local/sbin/pkg_info";
const PKG_ADMIN: &str = "/opt/local/sbin/pkg_admin";
const CHROOT: &str = "/usr/sbin/chroot";
const CHROOT_PATH: &str = "/opt/local/sbin:/opt/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What the package steps found.
#[derive(Debug, Clone, Default)]
pub struct Packages {
    /// `pkg_info -a`'s package names, sorted.
    pub installed: Vec<String>,
    /// `pkg_admin audit`'s report, with `-a`.
    pub audit_report: Option<String>,
}

fn chroot(root: &PathBuf, tool: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(CHROOT);
    cmd.arg(root).arg(tool).args(args).env("PATH", CHROOT_PATH);
    cmd
}

/// Runs a tool in the chroot, its output going to the log.
fn logged(run: &mut Run, step: &'static str, tool: &str, args: &[&str]) -> Result<(), BuildError> {
    let mut cmd = chroot(&run.root(), tool, args);
    let log = &mut *run.log;
    command::run_logged(&mut cmd, |line| log(&format!("  {line}")))
        .map_err(|source| BuildError::Command { step, source })
}

pub fn run(run: &mut Run) -> Result<Packages, BuildError> {
    let opts = run.opts;
    let root = run.root();
    let has_pkgsrc = root.join(PKG_INFO.trim_start_matches('/')).symlink_metadata().is_ok();
    if !has_pkgsrc {
        if opts.upgrade_first || !opts.packages.is_empty() || opts.audit {
            return Err(BuildError::Usage(format!(
                "the base image {} has no pkgsrc ({PKG_INFO} is missing), so -u, -p and -a cannot be used",
                opts.image
            )));
        }
        (run.log)("No pkgsrc in the image, skipping the package steps");
        return Ok(Packages::default());
    }
    if opts.upgrade_first {
        (run.log)("pkgin update...");
        logged(run, "pkgin update", PKGIN, &["update"])?;
        (run.log)("pkgin full-upgrade...");
        logged(run, "pkgin full-upgrade", PKGIN, &["-y", "full-upgrade"])?;
    }
    if opts.packages.is_empty() {
        (run.log)("No packages to install, skipping pkgsrc");
    } else {
        (run.log)(&format!("Installing pkgsrc pkgs: {}", opts.packages.join(", ")));
        let mut args = vec!["-U"];
        args.extend(opts.packages.iter().map(String::as_str));
        logged(run, "installing packages", PKG_ADD, &args)?;
        (run.log)(&format!("Installed {}", opts.packages.join(", ")));
    }

    let listing = command::output(&mut chroot(&root, PKG_INFO, &["-a"]))
        .map_err(|source| BuildError::Command { step: "listing packages", source })?;
    let mut installed: Vec<String> = String::from_utf8_lossy(&listing)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect();
    installed.sort();
    let listed = serde_json::to_string_pretty(&installed).expect("strings serialize");
    (run.log)(&format!("Packages:\n{}", listed.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")));

    let audit_report = if opts.audit {
        logged(run, "fetching package vulnerabilities", PKG_ADMIN, &["fetch-pkg-vulnerabilities"])?;
        let (report, code) = command::output_allowing(&mut chroot(&root, PKG_ADMIN, &["audit"]), &[1])
            .map_err(|source| BuildError::Command { step: "auditing packages", source })?;
        let report = String::from_utf8_lossy(&report).into_owned();
        (run.log)(&format!("audited vulnerabilities ({}):", if code == 1 { "found some" } else { "none" }));
        (run.log)(&report);
        Some(report)
    } else {
        (run.log)("skipping pkg audit");
        None
    };
    Ok(Packages { installed, audit_report })
}
