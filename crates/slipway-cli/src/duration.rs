//! Durations on the command line and in the environment: `250ms`, `5s`, `10m`, `2h`, `1d`.

use std::time::Duration;

/// Parses `NUMBER UNIT` (ms, s, m, h, d); clap calls it for duration options.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let hint = || format!("`{text}` is not a duration: write a number and a unit, e.g. 30s, 10m, 2h");
    let number: u64 = number.parse().map_err(|_| hint())?;
    let seconds = match unit.trim() {
        "ms" => return Ok(Duration::from_millis(number)),
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(hint()),
    };
    number.checked_mul(seconds).map(Duration::from_secs).ok_or_else(|| format!("`{text}` is too long"))
}

/// `600s` → `10m`: the largest unit that divides it.
pub fn show(duration: Duration) -> String {
    let ms = duration.as_millis();
    for (unit, size) in [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)] {
        if ms >= size && ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn units_and_mistakes() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration(" 10m "), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        for bad in ["", "10", "m", "5x", "-1s", "1.5h"] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.contains("e.g. 30s"), "{bad}: {err}");
        }
        assert!(parse_duration("99999999999999999999d").is_err());
        for text in ["250ms", "5s", "10m", "2h", "1d", "90s"] {
            assert_eq!(show(parse_duration(text).unwrap()), text);
        }
    }
}
