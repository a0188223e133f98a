//! `on.schedule` cron expressions: POSIX cron's five fields (minute, hour,
//! day of month, month, day of week) with lists, ranges, steps, `*`, and
//! month and weekday names, validated with a message naming the field.
//! Also the shortest interval a schedule fires at, for GitHub's
//! five-minute minimum. Pure.

/// A parsed schedule: the allowed values of each field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    pub minutes: Vec<u32>,
    pub hours: Vec<u32>,
    pub days: Vec<u32>,
    pub months: Vec<u32>,
    pub weekdays: Vec<u32>,
}

const FIELDS: [(&str, u32, u32); 5] =
    [("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 6)];
const MONTHS: [&str; 12] = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn value(field: usize, s: &str) -> Result<u32, String> {
    let named = match field {
        3 => MONTHS.iter().position(|m| m.eq_ignore_ascii_case(s)).map(|i| i as u32 + 1),
        4 => DAYS.iter().position(|d| d.eq_ignore_ascii_case(s)).map(|i| i as u32),
        _ => None,
    };
    let (name, lo, hi) = FIELDS[field];
    let v = match named {
        Some(v) => v,
        None => s.parse::<u32>().map_err(|_| format!("invalid {name} '{s}'"))?,
    };
    // 7 is Sunday too.
    let v = if field == 4 && v == 7 { 0 } else { v };
    if v < lo || v > hi {
        return Err(format!("{name} {v} is out of range {lo}-{hi}"));
    }
    Ok(v)
}

fn field_values(field: usize, text: &str) -> Result<Vec<u32>, String> {
    let (name, lo, hi) = FIELDS[field];
    let mut out = Vec::new();
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s.parse().map_err(|_| format!("invalid step '{s}' in the {name} field"))?;
                if step == 0 {
                    return Err(format!("the step in the {name} field must be positive"));
                }
                (r, step)
            }
            None => (part, 1),
        };
        let (from, to) = match range {
            "*" => (lo, hi),
            r => match r.split_once('-') {
                Some((a, b)) => (value(field, a)?, value(field, b)?),
                None if step > 1 => (value(field, r)?, hi),
                None => {
                    let v = value(field, r)?;
                    (v, v)
                }
            },
        };
        if from > to {
            return Err(format!("the {name} range {from}-{to} is backwards"));
        }
        out.extend((from..=to).step_by(step as usize));
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Parses a five-field cron expression.
pub fn parse(expr: &str) -> Result<Cron, String> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "a cron expression has 5 fields (minute hour day month weekday), '{expr}' has {}",
            fields.len()
        ));
    }
    Ok(Cron {
        minutes: field_values(0, fields[0])?,
        hours: field_values(1, fields[1])?,
        days: field_values(2, fields[2])?,
        months: field_values(3, fields[3])?,
        weekdays: field_values(4, fields[4])?,
    })
}

impl Cron {
    /// The shortest gap between two firings within a day, in minutes
    /// (`None` when it fires at most once a day).
    pub fn shortest_interval_minutes(&self) -> Option<u32> {
        let times: Vec<u32> = self.hours.iter().flat_map(|h| self.minutes.iter().map(move |m| h * 60 + m)).collect();
        if times.len() < 2 {
            return None;
        }
        let mut gaps: Vec<u32> = times.windows(2).map(|w| w[1] - w[0]).collect();
        // Across midnight.
        gaps.push(24 * 60 - times[times.len() - 1] + times[0]);
        gaps.into_iter().min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_lists_ranges_steps_and_names() {
        let c = parse("*/15 9-17 * JAN,jul MON-FRI");
        assert_eq!(c.as_ref().map(|c| c.minutes.clone()), Ok(vec![0, 15, 30, 45]));
        assert_eq!(c.as_ref().map(|c| c.months.clone()), Ok(vec![1, 7]));
        assert_eq!(c.as_ref().map(|c| c.weekdays.clone()), Ok(vec![1, 2, 3, 4, 5]));
        assert_eq!(parse("0 0 * * 7").map(|c| c.weekdays), Ok(vec![0]));
        assert_eq!(parse("60 * * * *"), Err("minute 60 is out of range 0-59".to_owned()));
        assert!(parse("* * *").is_err_and(|e| e.contains("has 3")));
        assert!(parse("5/0 * * * *").is_err());
    }

    #[test]
    fn intervals() {
        assert_eq!(parse("*/5 * * * *").ok().and_then(|c| c.shortest_interval_minutes()), Some(5));
        assert_eq!(parse("* * * * *").ok().and_then(|c| c.shortest_interval_minutes()), Some(1));
        assert_eq!(parse("30 2 * * *").ok().and_then(|c| c.shortest_interval_minutes()), None);
        assert_eq!(parse("0 0,23 * * *").ok().and_then(|c| c.shortest_interval_minutes()), Some(60));
    }
}
