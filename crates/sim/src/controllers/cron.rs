//! Cron schedules as Kubernetes CronJobs and Velero Schedules read them (robfig/cron's
//! standard parser): five fields, `*`, lists, ranges, steps, month and weekday names,
//! `@daily`-style macros, and an optional `CRON_TZ=`/`TZ=` zone prefix.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};

/// Why a schedule does not parse; the messages are what a Velero Schedule reports in
/// `status.validationErrors`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CronError {
    #[error("missing schedule after time zone")]
    MissingSchedule,
    #[error("unknown time zone {0}")]
    UnknownTimeZone(String),
    #[error("expected exactly 5 fields, found {found}: {spec}")]
    FieldCount { found: usize, spec: String },
    #[error("invalid value {0:?} in {1:?}")]
    InvalidValue(String, String),
    #[error("invalid step in {0:?}")]
    InvalidStep(String),
    #[error("step of zero in {0:?}")]
    ZeroStep(String),
    #[error("{part:?} is out of range {min}-{max}")]
    OutOfRange { part: String, min: u32, max: u32 },
}

/// A standard five-field cron schedule (minute hour day-of-month month day-of-week) with
/// `*`, lists, ranges, steps, month and weekday names, `@daily`-style macros and an
/// optional `CRON_TZ=<zone> ` (or `TZ=`) prefix; UTC otherwise, as kube-controller-manager.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    /// Day-of-month or day-of-week given as `*`: then both must match, else either.
    day_star: bool,
    weekday_star: bool,
    tz: chrono_tz::Tz,
}

const MONTHS: &[&str] = &[
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

const WEEKDAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl Schedule {
    /// Parses a schedule; `time_zone` is the CronJob's `spec.timeZone`.
    pub fn parse(spec: &str, time_zone: Option<&str>) -> Result<Schedule, CronError> {
        let mut spec = spec.trim();
        let mut tz = time_zone.unwrap_or("UTC").to_string();
        for prefix in ["CRON_TZ=", "TZ="] {
            if let Some(rest) = spec.strip_prefix(prefix) {
                let (zone, rest) = rest.split_once(' ').ok_or(CronError::MissingSchedule)?;
                tz = zone.to_string();
                spec = rest.trim();
            }
        }
        let tz: chrono_tz::Tz = tz.parse().map_err(|_| CronError::UnknownTimeZone(tz))?;
        let spec = match spec {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            s => s,
        };
        let fields: Vec<&str> = spec.split_whitespace().collect();
        let [mi, h, dom, mo, dow] = fields[..] else {
            return Err(CronError::FieldCount {
                found: fields.len(),
                spec: spec.to_string(),
            });
        };
        let (minutes, _) = parse_field(mi, 0, 59, &[], 0)?;
        let (hours, _) = parse_field(h, 0, 23, &[], 0)?;
        let (days, day_star) = parse_field(dom, 1, 31, &[], 0)?;
        let (months, _) = parse_field(mo, 1, 12, MONTHS, 1)?;
        let (mut weekdays, weekday_star) = parse_field(dow, 0, 7, WEEKDAYS, 0)?;
        if weekdays & (1 << 7) != 0 {
            weekdays = (weekdays & !(1 << 7)) | 1;
        }
        Ok(Schedule {
            minutes,
            hours,
            days,
            months,
            weekdays,
            day_star,
            weekday_star,
            tz,
        })
    }

    fn day_matches(&self, d: NaiveDate) -> bool {
        let dom = self.days & (1 << d.day()) != 0;
        let dow = self.weekdays & (1 << d.weekday().num_days_from_sunday()) != 0;
        if self.day_star || self.weekday_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// The first scheduled minute strictly after `t`, within about five years.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = t.with_timezone(&self.tz).naive_local();
        let mut n = local.with_second(0)?.with_nanosecond(0)? + Duration::minutes(1);
        let limit = local + Duration::days(5 * 366);
        while n < limit {
            if self.months & (1 << n.month()) == 0 {
                let (y, m) = if n.month() == 12 {
                    (n.year() + 1, 1)
                } else {
                    (n.year(), n.month() + 1)
                };
                n = NaiveDate::from_ymd_opt(y, m, 1)?.and_hms_opt(0, 0, 0)?;
            } else if !self.day_matches(n.date()) {
                n = n.date().succ_opt()?.and_hms_opt(0, 0, 0)?;
            } else if self.hours & (1 << n.hour()) == 0 {
                n = n.date().and_hms_opt(n.hour(), 0, 0)? + Duration::hours(1);
            } else if self.minutes & (1 << n.minute()) == 0 {
                n = self.next_minute_in_hour(n)?;
            } else {
                match self.tz.from_local_datetime(&n).earliest() {
                    Some(x) if x.with_timezone(&Utc) > t => return Some(x.with_timezone(&Utc)),
                    // A local time skipped by a DST change, or before `t` on a repeated hour.
                    _ => n += Duration::minutes(1),
                }
            }
        }
        None
    }

    fn next_minute_in_hour(&self, n: NaiveDateTime) -> Option<NaiveDateTime> {
        let later = self.minutes >> (n.minute() + 1);
        if later == 0 {
            return Some(n.date().and_hms_opt(n.hour(), 0, 0)? + Duration::hours(1));
        }
        Some(n + Duration::minutes(i64::from(later.trailing_zeros()) + 1))
    }

    /// The latest scheduled minute in `(after, until]`, as the controller looks for the
    /// most recent missed run.
    pub fn latest_between(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let mut found = None;
        let mut t = after;
        // Bounded: a long outage with a per-minute schedule starts only the latest run.
        for _ in 0..100_000 {
            match self.next_after(t) {
                Some(n) if n <= until => {
                    found = Some(n);
                    t = n;
                }
                _ => break,
            }
        }
        found
    }
}

/// One cron field as a bit set, and whether it was `*`/`?` (a step over `*` is not).
fn parse_field(
    field: &str,
    min: u32,
    max: u32,
    names: &[&str],
    name_base: u32,
) -> Result<(u64, bool), CronError> {
    let value = |s: &str| -> Result<u32, CronError> {
        let lower = s.to_ascii_lowercase();
        if let Some(i) = names.iter().position(|n| *n == lower) {
            return Ok(i as u32 + name_base);
        }
        s.parse::<u32>()
            .map_err(|_| CronError::InvalidValue(s.to_string(), field.to_string()))
    };
    let mut bits = 0u64;
    let mut star = false;
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u32>()
                    .map_err(|_| CronError::InvalidStep(part.to_string()))?,
            ),
            None => (part, 1),
        };
        if step == 0 {
            return Err(CronError::ZeroStep(part.to_string()));
        }
        let (lo, hi) = match range {
            "*" | "?" => {
                star |= step == 1;
                (min, max)
            }
            r => match r.split_once('-') {
                Some((a, b)) => (value(a)?, value(b)?),
                None if step > 1 => (value(r)?, max),
                None => (value(r)?, value(r)?),
            },
        };
        if lo < min || hi > max || lo > hi {
            return Err(CronError::OutOfRange {
                part: part.to_string(),
                min,
                max,
            });
        }
        for v in (lo..=hi).step_by(step as usize) {
            bits |= 1 << v;
        }
    }
    Ok((bits, star))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_schedules_parse_and_step() {
        let t = |h, m| Utc.with_ymd_and_hms(2026, 11, 25, h, m, 0).unwrap();
        let s = Schedule::parse("*/15 9-17 * * mon-fri", None).unwrap();
        assert_eq!(s.next_after(t(10, 0)), Some(t(10, 15)));
        assert_eq!(
            s.next_after(t(17, 45)),
            Some(Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap())
        );
        // 2026-11-28 is a Saturday: the next run is Monday.
        let fri = Utc.with_ymd_and_hms(2026, 11, 27, 17, 50, 0).unwrap();
        assert_eq!(
            s.next_after(fri),
            Some(Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap())
        );
        let s = Schedule::parse("CRON_TZ=Europe/Stockholm 30 0 * * *", None).unwrap();
        assert_eq!(
            s.next_after(t(0, 0)),
            Some(t(23, 30)),
            "00:30 CET is 23:30 UTC"
        );
        let s = Schedule::parse("0 0 1,15 * *", None).unwrap();
        assert_eq!(
            s.next_after(t(0, 0)),
            Some(Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap())
        );
        assert_eq!(
            Schedule::parse("@daily", None).unwrap(),
            Schedule::parse("0 0 * * *", None).unwrap()
        );
        assert_eq!(
            Schedule::parse("0 0 * * 7", None).unwrap(),
            Schedule::parse("0 0 * * 0", None).unwrap()
        );
        assert!(Schedule::parse("61 * * * *", None).is_err());
        assert!(Schedule::parse("* * * *", None).is_err());
        assert!(Schedule::parse("CRON_TZ=Mars/Base * * * * *", None).is_err());
        let s = Schedule::parse("0 */2 * * *", None).unwrap();
        assert_eq!(s.latest_between(t(0, 0), t(5, 59)), Some(t(4, 0)));
        assert_eq!(s.latest_between(t(4, 0), t(5, 59)), None);
    }
}
