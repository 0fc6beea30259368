//! Packages: run in `chroot` with the image's own pkgsrc tools at their
//! SmartOS paths: `pkgin update` and `full-upgrade` (`-u`), `pkg_add -U`
//! (`-p`), `pkg_info -a` (logged), and the audit (`-a`), whose exit status
//! 1 means "vulnerabilities found": saved with the image, not fatal.

use std::path::Path;
use std::process::Command;

use crate::pipeline::{Build, BuildError, Step};

/// `-p`: pkgsrc package names and versions, comma separated (buildimage's pattern).
pub fn valid_packages(list: &str) -> bool {
    list.chars().all(|c| c.is_ascii_alphanumeric() || "-_.+,".contains(c))
}

const PKGIN: &str = "/opt/local/bin/pkgin";
const PKG_ADD: &str = "/opt/local/sbin/pkg_add";
pub(crate) const PKG_INFO: &str = "/opt/local/sbin/pkg_info";
const PKG_ADMIN: &str = "/opt/local/sbin/pkg_admin";
const CHROOT: &str = "/usr/sbin/chroot";
const CHROOT_PATH: &str = "/opt/local/sbin:/opt/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The step.
pub struct Packages;

/// What the package step found.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// `pkg_info -a`'s package names, sorted.
    pub installed: Vec<String>,
    /// `pkg_admin audit`'s report, with `-a`.
    pub audit_report: Option<String>,
}

fn chroot(root: &Path, tool: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(CHROOT);
    cmd.arg(root).arg(tool).args(args).env("PATH", CHROOT_PATH);
    cmd
}

/// Runs a tool in the chroot, its output going to the log.
fn logged(build: &Build, step: &'static str, tool: &str, args: &[&str]) -> Result<(), BuildError> {
    let mut cmd = chroot(&build.root(), tool, args);
    build
        .exec()
        .run_logged(&mut cmd, &|line| build.log(&format!("  {line}")))
        .map_err(|source| BuildError::Command { step, source })
}

impl Step for Packages {
    fn name(&self) -> &'static str {
        "packages"
    }

    fn inputs(&self, build: &Build) -> Vec<(&'static str, String)> {
        let opts = build.opts;
        let mut packages = opts.packages.clone();
        packages.sort();
        packages.dedup();
        vec![
            ("packages", packages.join(",")),
            ("upgrade first", opts.upgrade_first.to_string()),
            ("audit", opts.audit.to_string()),
        ]
    }

    fn run(&self, build: &mut Build) -> Result<(), BuildError> {
        build.packages = install(build)?;
        Ok(())
    }
}

fn install(run: &Build) -> Result<Found, BuildError> {
    let opts = run.opts;
    let root = run.root();
    let has_pkgsrc = root.join(PKG_INFO.trim_start_matches('/')).symlink_metadata().is_ok();
    if !has_pkgsrc {
        if opts.upgrade_first || !opts.packages.is_empty() || opts.audit {
            return Err(BuildError::NoPkgsrc(run.base.uuid));
        }
        run.log("No pkgsrc in the image, skipping the package steps");
        return Ok(Found::default());
    }
    if opts.upgrade_first {
        run.log("pkgin update...");
        logged(run, "pkgin update", PKGIN, &["update"])?;
        run.log("pkgin full-upgrade...");
        logged(run, "pkgin full-upgrade", PKGIN, &["-y", "full-upgrade"])?;
    }
    if opts.packages.is_empty() {
        run.log("No packages to install, skipping pkgsrc");
    } else {
        run.log(&format!("Installing pkgsrc pkgs: {}", opts.packages.join(", ")));
        let mut args = vec!["-U"];
        args.extend(opts.packages.iter().map(String::as_str));
        logged(run, "installing packages", PKG_ADD, &args)?;
        run.log(&format!("Installed {}", opts.packages.join(", ")));
    }

    let listing = run
        .exec()
        .output(&mut chroot(&root, PKG_INFO, &["-a"]))
        .map_err(|source| BuildError::Command { step: "listing packages", source })?;
    let mut installed: Vec<String> = String::from_utf8_lossy(&listing)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect();
    installed.sort();
    let listed = serde_json::to_string_pretty(&installed).expect("strings serialize");
    run.log(&format!("Packages:\n{}", listed.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")));

    let audit_report = if opts.audit {
        logged(run, "fetching package vulnerabilities", PKG_ADMIN, &["fetch-pkg-vulnerabilities"])?;
        let (report, code) = run
            .exec()
            .output_allowing(&mut chroot(&root, PKG_ADMIN, &["audit"]), &[1])
            .map_err(|source| BuildError::Command { step: "auditing packages", source })?;
        let report = String::from_utf8_lossy(&report).into_owned();
        run.log(&format!("audited vulnerabilities ({}):", if code == 1 { "found some" } else { "none" }));
        run.log(&report);
        Some(report)
    } else {
        run.log("skipping pkg audit");
        None
    };
    Ok(Found { installed, audit_report })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn package_lists_never_pass_shell_or_path_characters(list in ".{0,30}") {
            let bad = list.chars().any(|c| !(c.is_ascii_alphanumeric() || "-_.+,".contains(c)));
            prop_assert_eq!(valid_packages(&list), !bad);
        }
    }
}
