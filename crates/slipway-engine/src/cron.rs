//! The `schedule` of an index entry: a 5-field cron expression (minute hour day-of-month month day-of-week, in
//! UTC) or an alias (`@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`). Fields take `*`, numbers, ranges
//! `a-b`, steps `*/n` and `a-b/n`, and lists; day-of-week 0 and 7 are Sunday. As in cron, when both day fields
//! are restricted a day matching either one matches.

use chrono::{DateTime, Datelike, DurationRound, TimeDelta, Timelike, Utc};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u32,
    days: u32,
    months: u16,
    weekdays: u8,
    days_restricted: bool,
    weekdays_restricted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{expression}` is not a schedule: {reason} (write 5 fields, minute hour day month weekday, e.g. `0 3 * * 1`, or @daily / @weekly)"
)]
pub struct CronError {
    pub expression: String,
    pub reason: String,
}

/// The fields' names and ranges.
const FIELDS: [(&str, u32, u32); 5] =
    [("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7)];

impl Cron {
    pub fn parse(expression: &str) -> Result<Cron, CronError> {
        let error = |reason: String| CronError { expression: expression.to_string(), reason };
        let text = match expression.trim() {
            "@hourly" => "0 * * * *",
            "@daily" | "@midnight" => "0 0 * * *",
            "@weekly" => "0 0 * * 0",
            "@monthly" => "0 0 1 * *",
            "@yearly" | "@annually" => "0 0 1 1 *",
            other => other,
        };
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(error(format!("it has {} field(s)", fields.len())));
        }
        let mut sets = [0u64; 5];
        for (at, field) in fields.iter().enumerate() {
            sets[at] = field_set(field, FIELDS[at]).map_err(error)?;
        }
        // Day of week 7 is Sunday, like 0.
        let weekdays = (sets[4] | (sets[4] >> 7)) & 0x7f;
        Ok(Cron {
            minutes: sets[0],
            hours: sets[1] as u32,
            days: sets[2] as u32,
            months: sets[3] as u16,
            weekdays: weekdays as u8,
            days_restricted: fields[2] != "*",
            weekdays_restricted: fields[4] != "*",
        })
    }

    fn day_matches(&self, at: DateTime<Utc>) -> bool {
        let day = self.days & (1 << at.day()) != 0;
        let weekday = self.weekdays & (1 << at.weekday().num_days_from_sunday()) != 0;
        let month = self.months & (1 << at.month()) != 0;
        month
            && match (self.days_restricted, self.weekdays_restricted) {
                (true, true) => day || weekday,
                (true, false) => day,
                (false, true) => weekday,
                (false, false) => true,
            }
    }

    /// The first minute strictly after `after` that the schedule names; `None` if none comes within about
    /// five years (`0 0 30 2 *`: February 30th).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut at = after.duration_trunc(TimeDelta::minutes(1)).ok()? + TimeDelta::minutes(1);
        let limit = after + TimeDelta::days(5 * 366);
        while at <= limit {
            if !self.day_matches(at) {
                at = (at + TimeDelta::days(1)).with_hour(0)?.with_minute(0)?;
            } else if self.hours & (1 << at.hour()) == 0 {
                at = (at + TimeDelta::hours(1)).with_minute(0)?;
            } else if self.minutes & (1 << at.minute()) == 0 {
                at += TimeDelta::minutes(1);
            } else {
                return Some(at);
            }
        }
        None
    }
}

/// One field as a bit set of the values it names.
fn field_set(field: &str, (name, low, high): (&str, u32, u32)) -> Result<u64, String> {
    let mut set = 0u64;
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step
                    .parse()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("the {name} step `{step}` is not a number above 0"))?;
                (range, step)
            }
            None => (part, 1),
        };
        let number = |text: &str| -> Result<u32, String> {
            let value: u32 = text.parse().map_err(|_| format!("the {name} `{text}` is not a number"))?;
            if value < low || value > high {
                return Err(format!("the {name} {value} is outside {low}-{high}"));
            }
            Ok(value)
        };
        let (from, to) = match range {
            "*" => (low, high),
            _ => match range.split_once('-') {
                Some((a, b)) => (number(a)?, number(b)?),
                None if step > 1 => (number(range)?, high),
                None => (number(range)?, number(range)?),
            },
        };
        if from > to {
            return Err(format!("the {name} range {from}-{to} runs backwards"));
        }
        for value in (from..=to).step_by(step as usize) {
            set |= 1 << value;
        }
    }
    Ok(set)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn next_times() {
        // 2026-12-02 is a Wednesday.
        let now = at(2026, 12, 2, 10, 30);
        let next = |expr: &str| Cron::parse(expr).unwrap().next_after(now);
        assert_eq!(next("0 3 * * 1"), Some(at(2026, 12, 7, 3, 0)), "Monday 03:00");
        assert_eq!(next("*/15 * * * *"), Some(at(2026, 12, 2, 10, 45)));
        assert_eq!(next("30 10 * * *"), Some(at(2026, 12, 3, 10, 30)), "strictly after");
        assert_eq!(next("@daily"), Some(at(2026, 12, 3, 0, 0)));
        assert_eq!(next("@weekly"), Some(at(2026, 12, 6, 0, 0)), "Sunday");
        assert_eq!(next("0 0 * * 7"), Some(at(2026, 12, 6, 0, 0)), "7 is Sunday too");
        assert_eq!(next("0 12 1 1 *"), Some(at(2027, 1, 1, 12, 0)));
        assert_eq!(next("0 0 13 * 5"), Some(at(2026, 12, 4, 0, 0)), "either day field: Friday the 4th");
        assert_eq!(next("0 9-17/4 * * 1-5"), Some(at(2026, 12, 2, 13, 0)));
        assert_eq!(next("0 0 29 2 *"), Some(at(2028, 2, 29, 0, 0)), "the next leap day");
        assert_eq!(next("0 0 30 2 *"), None, "never");
    }

    #[test]
    fn mistakes_say_which_field() {
        for (expr, says) in [
            ("0 3 * *", "4 field(s)"),
            ("61 * * * *", "minute 61 is outside 0-59"),
            ("0 24 * * *", "hour 24 is outside 0-23"),
            ("0 0 * 13 *", "month 13"),
            ("*/0 * * * *", "minute step `0`"),
            ("5-1 * * * *", "runs backwards"),
            ("x * * * *", "minute `x` is not a number"),
        ] {
            let err = Cron::parse(expr).unwrap_err().to_string();
            assert!(err.contains(says), "{expr}: {err}");
            assert!(err.contains("e.g. `0 3 * * 1`"), "{err}");
        }
    }
}
