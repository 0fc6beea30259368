//! The zone and platform facts of a SmartOS host: `zonename`, `uname -v`
//! (`joyent_<live image>`), `sysinfo` (SDC Version, Live Image). Elsewhere
//! the commands do not exist and every fact is `None`.

use std::process::Command;

use super::exec::Exec;

pub const ZONENAME: &str = "/usr/bin/zonename";
pub const SYSINFO: &str = "/usr/bin/sysinfo";

/// The zone this runs in (`global` in the global zone).
pub fn zonename(exec: &Exec) -> Option<String> {
    let out = exec.output(&mut Command::new(ZONENAME)).ok()?;
    parse_zonename(&String::from_utf8_lossy(&out))
}

/// imgadm's dataset root here: `zones` in the global zone, the delegated
/// `zones/<zonename>/data` in any other.
pub fn image_root(exec: &Exec) -> Option<String> {
    zonename(exec).map(|zone| if zone == "global" { "zones".into() } else { format!("zones/{zone}/data") })
}

/// The platform's build stamp (`20240101T000000Z`) from `uname -v`
/// (`joyent_20240101T000000Z` on SmartOS), as buildimage reads it.
pub fn platform_stamp(exec: &Exec) -> Option<String> {
    let out = exec.output(Command::new("uname").arg("-v")).ok()?;
    parse_uname_v(&String::from_utf8_lossy(&out))
}

/// SmartOS's `sysinfo`: its "SDC Version" and "Live Image".
pub fn sysinfo_platform(exec: &Exec) -> Option<(String, String)> {
    let out = exec.output(&mut Command::new(SYSINFO)).ok()?;
    parse_sysinfo(&out)
}

fn parse_zonename(text: &str) -> Option<String> {
    let zone = text.trim();
    (!zone.is_empty() && !zone.contains(char::is_whitespace)).then(|| zone.to_string())
}

fn parse_uname_v(text: &str) -> Option<String> {
    text.trim().strip_prefix("joyent_").map(str::to_string)
}

fn parse_sysinfo(json: &[u8]) -> Option<(String, String)> {
    let info: serde_json::Value = serde_json::from_slice(json).ok()?;
    Some((info.get("SDC Version")?.as_str()?.to_string(), info.get("Live Image")?.as_str()?.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_smartos_answers_are_read() {
        assert_eq!(
            parse_zonename(include_str!("../../../fixtures/platform/illumos/zonename.txt")),
            Some("global".into())
        );
        assert_eq!(parse_zonename("\n"), None);
        let uname = include_str!("../../../fixtures/platform/illumos/uname-v.txt");
        assert_eq!(parse_uname_v(uname), Some("20190228T233723Z".into()));
        assert_eq!(parse_uname_v("#1 SMP PREEMPT_DYNAMIC Debian 6.1.0-18-amd64\n"), None, "Linux's is not a stamp");
        let sysinfo = include_bytes!("../../../fixtures/platform/illumos/sysinfo.json");
        assert_eq!(parse_sysinfo(sysinfo), Some(("7.0".into(), "20190228T233723Z".into())));
        assert_eq!(parse_sysinfo(b"{\"Live Image\": \"x\"}"), None);
    }

    #[test]
    fn off_smartos_there_are_no_facts() {
        if std::path::Path::new(ZONENAME).exists() {
            return;
        }
        let exec = Exec::default();
        assert_eq!((zonename(&exec), image_root(&exec), sysinfo_platform(&exec)), (None, None, None));
    }
}
