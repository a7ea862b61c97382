//! The zone a crontab's times are read in before any `CRON_TZ=` line: the system's own,
//! as standard cron does — from `TZ`, then `/etc/timezone`, then the `/etc/localtime`
//! link — or UTC when none names an IANA zone (the usual case in containers).

use chrono_tz::Tz;
use std::path::Path;

/// The system's zone, and where it was found (for the start-up log line).
pub fn system_zone() -> (Tz, &'static str) {
    if let Some(tz) = std::env::var("TZ").ok().and_then(|v| parse(&v)) {
        return (tz, "TZ");
    }
    if let Some(tz) = std::fs::read_to_string("/etc/timezone")
        .ok()
        .and_then(|v| parse(&v))
    {
        return (tz, "/etc/timezone");
    }
    if let Some(tz) = std::fs::read_link("/etc/localtime")
        .ok()
        .and_then(|target| from_zoneinfo_path(&target))
    {
        return (tz, "/etc/localtime");
    }
    (Tz::UTC, "default")
}

fn parse(value: &str) -> Option<Tz> {
    let v = value.trim().trim_start_matches(':');
    if v.is_empty() {
        return None;
    }
    v.parse().ok().or_else(|| from_zoneinfo_path(Path::new(v)))
}

/// `/usr/share/zoneinfo/Europe/Madrid` → `Europe/Madrid`.
fn from_zoneinfo_path(path: &Path) -> Option<Tz> {
    let text = path.to_string_lossy();
    let (_, name) = text.rsplit_once("zoneinfo/")?;
    name.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_names_and_zoneinfo_paths() {
        assert_eq!(parse("Europe/Madrid"), Some(chrono_tz::Europe::Madrid));
        assert_eq!(
            parse(":America/New_York\n"),
            Some(chrono_tz::America::New_York)
        );
        assert_eq!(
            parse("/usr/share/zoneinfo/Asia/Tokyo"),
            Some(chrono_tz::Asia::Tokyo)
        );
        assert_eq!(parse("CET-1CEST"), None);
        assert_eq!(parse(""), None);
    }
}
