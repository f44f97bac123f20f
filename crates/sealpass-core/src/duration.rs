//! Durations as people write them in configs and flags (`500ms`, `90s`, `15m`, `72h`, `7d`),
//! shared by the server's settings and the client's `--ttl`. Pure.

use std::time::Duration;

/// Parse `500ms`, `90s`, `15m`, `72h`, `7d` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: u64 = number.parse().map_err(|_| format!("'{s}' is not a duration like 90s, 15m, 72h or 7d"))?;
    if unit.trim() == "ms" {
        return Ok(Duration::from_millis(n));
    }
    let unit = match unit.trim() {
        "s" | "" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("'{s}': the unit must be ms, s, m, h or d")),
    };
    n.checked_mul(unit).map(Duration::from_secs).ok_or_else(|| format!("'{s}' is too long"))
}

/// `seconds` in the largest whole unit that writes it exactly: `7d`, `2h`, `90m`, `45s`.
pub fn shortest(seconds: u64) -> String {
    match seconds {
        s if s > 0 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s > 0 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_errors() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration(" 3d ").unwrap(), Duration::from_secs(3 * 86_400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("3w").unwrap_err().contains("unit"));
        assert!(parse_duration("213503982334603d").unwrap_err().contains("too long"));
        for (seconds, text) in [(604_800, "7d"), (7200, "2h"), (5400, "90m"), (45, "45s"), (0, "0s")] {
            assert_eq!(shortest(seconds), text);
            assert_eq!(parse_duration(text).unwrap().as_secs(), seconds);
        }
    }
}
