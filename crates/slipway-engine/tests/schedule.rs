//! Scheduled rebuilds against a real store (SQLite and PostgreSQL), with the clock driven by the test.

#![allow(clippy::unwrap_used)]

#[path = "../../slipway-store/tests/common/mod.rs"]
mod common;

use chrono::{DateTime, TimeZone, Utc};
use common::{new_project, on_both};
use slipway_engine::run_schedules;
use slipway_store::Store;

fn at(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, d, h, m, 0).unwrap()
}

async fn scheduled(store: &Store, name: &str, schedule: Option<&str>) -> i64 {
    let mut p = new_project(name);
    if let Some(schedule) = schedule {
        p.entry = serde_json::json!({ "job-id": name, "schedule": schedule });
    }
    store.upsert_project(&p).await.unwrap().id
}

async fn builds(store: &Store, project: i64) -> Vec<Vec<String>> {
    store.builds_of(project, 100).await.unwrap().into_iter().rev().map(|b| b.causes).collect()
}

#[tokio::test]
async fn schedules_fire_once_when_due_and_once_after_a_long_stop() {
    on_both(|store| async move {
        let nightly = scheduled(&store, "nightly", Some("0 3 * * *")).await;
        let weekly = scheduled(&store, "weekly", None).await;
        let broken = scheduled(&store, "broken", Some("61 * * * *")).await;

        // Wednesday 10:30: the first look only records when each comes round.
        let first = run_schedules(&store, at(2, 10, 30)).await.unwrap();
        assert!(first.requested.is_empty());
        assert_eq!(first.invalid.len(), 1);
        assert!(first.invalid[0].1.to_string().contains("minute 61"), "{}", first.invalid[0].1);
        let times = store.schedule_times().await.unwrap();
        assert_eq!(times[&nightly], at(3, 3, 0));
        assert!(times[&weekly] > at(2, 10, 30) && times[&weekly] <= at(9, 10, 30), "within the week");
        assert!(!times.contains_key(&broken));

        assert!(run_schedules(&store, at(3, 2, 59)).await.unwrap().requested.is_empty(), "not yet");
        let due = run_schedules(&store, at(3, 3, 0)).await.unwrap();
        assert_eq!(due.requested.iter().map(|r| r.image.as_str()).collect::<Vec<_>>(), ["app/nightly:latest"]);
        assert!(run_schedules(&store, at(3, 3, 0)).await.unwrap().requested.is_empty(), "not twice");
        assert_eq!(builds(&store, nightly).await, [vec!["schedule: 0 3 * * *".to_string()]]);

        // No server for a week: each due schedule fires once, and the nightly build still queued absorbs it.
        let later = run_schedules(&store, at(10, 12, 0)).await.unwrap();
        let mut images: Vec<&str> = later.requested.iter().map(|r| r.image.as_str()).collect();
        images.sort();
        assert_eq!(images, ["app/nightly:latest", "app/weekly:latest"]);
        assert!(later.requested.iter().any(|r| r.image == "app/nightly:latest" && r.merged));
        let weekly_causes = builds(&store, weekly).await;
        assert_eq!(weekly_causes.len(), 1);
        assert!(weekly_causes[0][0].starts_with("schedule: weekly, "), "{weekly_causes:?}");
        assert_eq!(store.schedule_times().await.unwrap()[&nightly], at(11, 3, 0));
        assert!(builds(&store, broken).await.is_empty());
    })
    .await;
}
