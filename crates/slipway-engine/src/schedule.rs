//! Scheduled rebuilds: each project's `schedule`, or by default once a week at a time of its own (its image
//! hashed onto the minutes of the week), so the weekly rebuild of every image is spread out rather than fired
//! at one instant. The next time is kept in the store: a rebuild that fell due while no server ran happens
//! once when one starts. `now` is passed in, so tests drive the clock.

use chrono::{DateTime, Datelike, TimeDelta, Timelike, Utc};
use slipway_store::{Project, Requested, Store, StoreError};

use crate::cascade::ProjectGraph;
use crate::cron::{Cron, CronError};
use crate::triggers::{Trigger, request_in};

/// Minutes in a week.
const WEEK: i64 = 7 * 24 * 60;

/// When a project rebuilds on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    Cron {
        expression: String,
        cron: Cron,
    },
    /// The default: weekly, `minute` minutes after Monday 00:00 UTC.
    Weekly {
        minute: i64,
    },
}

impl Schedule {
    /// The project's own schedule, or the default weekly one.
    pub fn of(project: &Project) -> Result<Schedule, CronError> {
        // The stored entry is a ProjectSpec; only its `schedule` is read.
        match project.entry.get("schedule").and_then(serde_json::Value::as_str) {
            Some(expression) => {
                Ok(Schedule::Cron { cron: Cron::parse(expression)?, expression: expression.to_string() })
            }
            None => Ok(Schedule::Weekly { minute: spread(&project.image) }),
        }
    }

    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Cron { cron, .. } => cron.next_after(after),
            Schedule::Weekly { minute } => {
                let into_week = i64::from(after.weekday().num_days_from_monday()) * 24 * 60
                    + i64::from(after.hour()) * 60
                    + i64::from(after.minute());
                let start = after.with_second(0)?.with_nanosecond(0)? - TimeDelta::minutes(into_week);
                let this_week = start + TimeDelta::minutes(*minute);
                Some(if this_week > after { this_week } else { this_week + TimeDelta::minutes(WEEK) })
            }
        }
    }

    /// The cause of its builds.
    pub fn describe(&self) -> String {
        match self {
            Schedule::Cron { expression, .. } => expression.clone(),
            Schedule::Weekly { minute } => {
                const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
                let day = DAYS[(*minute / (24 * 60)) as usize % 7];
                format!("weekly, {day} {:02}:{:02} UTC", minute % (24 * 60) / 60, minute % 60)
            }
        }
    }
}

/// The image's minute of the week (FNV-1a: the same on every host and release).
fn spread(image: &str) -> i64 {
    let hash = image.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    (hash % WEEK as u64) as i64
}

/// What one look at the schedules did.
#[derive(Debug, Default)]
pub struct ScheduleReport {
    pub requested: Vec<Requested>,
    /// Projects whose `schedule` cannot be read, with why (they are not rebuilt on a schedule).
    pub invalid: Vec<(String, CronError)>,
}

/// Queues the projects whose schedule came round by `now`, and records when each comes round next.
pub async fn run_schedules(store: &Store, now: DateTime<Utc>) -> Result<ScheduleReport, StoreError> {
    let projects = store.projects().await?;
    let times = store.schedule_times().await?;
    let mut report = ScheduleReport::default();
    let mut graph = None;
    for project in projects.iter().filter(|p| p.active) {
        let schedule = match Schedule::of(project) {
            Ok(schedule) => schedule,
            Err(err) => {
                report.invalid.push((project.image.clone(), err));
                continue;
            }
        };
        let due = match times.get(&project.id) {
            Some(at) if *at <= now => true,
            Some(_) => continue,
            None => false,
        };
        if due {
            if graph.is_none() {
                graph = Some(ProjectGraph::new(store.project_graph().await?));
            }
            if let Some(graph) = &graph {
                let trigger = Trigger::Schedule { schedule: schedule.describe() };
                report.requested.push(request_in(store, graph, project.id, &trigger, Vec::new()).await?);
            }
        }
        if let Some(next) = schedule.next_after(now) {
            store.set_schedule_time(project.id, next).await?;
        }
    }
    Ok(report)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn the_weekly_default_is_spread_and_comes_once_a_week() {
        let minutes: std::collections::BTreeSet<i64> = (0..200).map(|i| spread(&format!("ns/app{i}:latest"))).collect();
        assert!(minutes.len() > 190, "200 images land on {} distinct minutes", minutes.len());
        let schedule = Schedule::Weekly { minute: 24 * 60 + 4 * 60 + 17 };
        assert_eq!(schedule.describe(), "weekly, Tue 04:17 UTC");
        // Wednesday 2026-12-02 10:30: next Tuesday 04:17, then a week later.
        let now = Utc.with_ymd_and_hms(2026, 12, 2, 10, 30, 0).unwrap();
        let next = schedule.next_after(now).unwrap();
        assert_eq!(next, Utc.with_ymd_and_hms(2026, 12, 8, 4, 17, 0).unwrap());
        assert_eq!(schedule.next_after(next).unwrap(), next + TimeDelta::days(7));
        let monday = Utc.with_ymd_and_hms(2026, 12, 7, 0, 0, 0).unwrap();
        assert_eq!(schedule.next_after(monday).unwrap(), next, "later the same week");
    }
}
