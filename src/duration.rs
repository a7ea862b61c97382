//! Durations as people write them in a crontab or on the command line — `90s`, `5m`,
//! `1h30m`, `2d` — and back again for log lines. Text in, `Duration` out; nothing else.
//! The crontab, the command line and the scheduler's log all speak this one dialect, so it
//! sits at the bottom and imports nothing of the project.

use std::time::Duration;

/// Parses `<number><unit>` parts (units `s`, `m`, `h`, `d`), e.g. `45s`, `10m`, `1h30m`.
/// A bare number is refused: `timeout=5` could mean seconds or minutes.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration: write it like 90s, 5m, 2h or 1h30m".into());
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            _ => {
                return Err(format!(
                    "`{text}` is not a duration: `{c}` is not a unit (use s, m, h or d, as in 90s, 5m, 1h30m)"
                ));
            }
        };
        if digits.is_empty() {
            return Err(format!(
                "`{text}` is not a duration: a number must come before `{c}`"
            ));
        }
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("`{text}` is not a duration: the number is too large"))?;
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(|| format!("`{text}` is too long a duration"))?;
        digits.clear();
    }
    if !digits.is_empty() {
        return Err(format!(
            "`{text}` needs a unit: write {text}s, {text}m or {text}h"
        ));
    }
    Ok(Duration::from_secs(total))
}

/// `1h30m`, `45s`, `1.5s`, `250ms`: short and exact enough for a log line.
pub fn format(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    if secs < 60 {
        let ms = d.subsec_millis();
        return if ms == 0 {
            format!("{secs}s")
        } else {
            let n = format!("{:.3}", d.as_secs_f64());
            format!("{}s", n.trim_end_matches('0'))
        };
    }
    let mut out = String::new();
    let (d_, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3_600,
        secs % 3_600 / 60,
        secs % 60,
    );
    for (n, unit) in [(d_, "d"), (h, "h"), (m, "m"), (s, "s")] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_units_and_combinations() {
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn refuses_what_is_ambiguous_or_wrong() {
        assert!(parse("5").unwrap_err().contains("needs a unit"));
        assert!(parse("5x").unwrap_err().contains("not a unit"));
        assert!(parse("m").unwrap_err().contains("number must come before"));
        assert!(parse("").is_err());
        assert!(parse("99999999999999999999s").is_err());
    }

    #[test]
    fn formats_for_logs() {
        assert_eq!(format(Duration::from_secs(5_400)), "1h30m");
        assert_eq!(format(Duration::from_secs(600)), "10m");
        assert_eq!(format(Duration::from_millis(1_500)), "1.5s");
        assert_eq!(format(Duration::from_millis(2_000)), "2s");
        assert_eq!(format(Duration::from_millis(250)), "250ms");
    }
}
