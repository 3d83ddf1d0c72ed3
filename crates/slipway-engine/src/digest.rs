//! The weekly digest: once a week (Monday 07:00 UTC) each maintainer address gets one mail listing every image
//! it is the `notify-email` of, failing ones first, with each newest build's state, cause and link. It
//! replaces a mail per image for the weekly rebuilds; failures are still mailed when they happen. `now` is
//! passed in, so tests drive the clock.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, TimeDelta, Utc};
use slipway_store::{Build, BuildState, DigestClaim, Project, Store, StoreError};

use crate::notify::{Mail, MailError, Mailer, build_url, notify_on, recipients};

/// Hours after Monday 00:00 UTC a digest goes out.
const SEND_HOUR: i64 = 7;

/// When the digest period that `now` is in began: the latest Monday 07:00 UTC not after `now`.
pub fn digest_period(now: DateTime<Utc>) -> DateTime<Utc> {
    let midnight = now.date_naive().and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let monday = midnight - TimeDelta::days(i64::from(now.weekday().num_days_from_monday()));
    let start = monday + TimeDelta::hours(SEND_HOUR);
    if start <= now { start } else { start - TimeDelta::weeks(1) }
}

/// What one round did.
#[derive(Debug, Default)]
pub struct DigestReport {
    /// (address, subject) of every digest sent.
    pub sent: Vec<(String, String)>,
    /// Addresses seen for the first time: their first digest is next week's.
    pub started: Vec<String>,
    pub failures: Vec<(String, MailError)>,
}

/// Sends the digests of the period `now` is in that no server has sent yet.
pub async fn digest_round(
    store: &Store,
    mailer: &Mailer,
    base_url: &str,
    now: DateTime<Utc>,
) -> Result<DigestReport, StoreError> {
    let period = digest_period(now);
    let mut by_address: BTreeMap<String, Vec<(Project, Option<Build>)>> = BTreeMap::new();
    for (project, build) in store.last_builds().await? {
        if notify_on(&project) == "never" {
            continue;
        }
        for address in recipients(&project) {
            by_address.entry(address).or_default().push((project.clone(), build.clone()));
        }
    }
    let mut report = DigestReport::default();
    for (address, images) in by_address {
        match store.claim_digest(&address, period).await? {
            DigestClaim::AlreadySent => {}
            DigestClaim::First => report.started.push(address),
            DigestClaim::Claimed => {
                let mail = compose_digest(&address, &images, base_url, period);
                match mailer.send(&mail).await {
                    Ok(()) => report.sent.push((address, mail.subject)),
                    Err(err) => report.failures.push((address, err)),
                }
            }
        }
    }
    Ok(report)
}

/// The digest for `address` of its `images` (each with its newest build).
pub fn compose_digest(
    address: &str,
    images: &[(Project, Option<Build>)],
    base_url: &str,
    period: DateTime<Utc>,
) -> Mail {
    let failing =
        |b: &Option<Build>| b.as_ref().is_some_and(|b| matches!(b.state, BuildState::Failed | BuildState::Errored));
    let mut sorted: Vec<&(Project, Option<Build>)> = images.iter().collect();
    sorted.sort_by_key(|(project, build)| (!failing(build), project.image.clone()));
    let failing_count = images.iter().filter(|(_, b)| failing(b)).count();
    let subject = match failing_count {
        0 => format!("[slipway] weekly: {} image(s), all well", images.len()),
        n => format!("[slipway] weekly: {} image(s), {n} failing", images.len()),
    };
    let mut body = format!(
        "Your images on Slipway, the week from {} (each with its newest build):\n\n",
        period.format("%Y-%m-%d %H:%M UTC")
    );
    for (project, build) in sorted {
        body.push_str(&format!("{}\n", project.image));
        let Some(build) = build else {
            body.push_str("    not built yet\n\n");
            continue;
        };
        let state = match (build.state, build.failed_stage) {
            (BuildState::Failed | BuildState::Errored, Some(stage)) => format!("{} at {}", build.state, stage.as_str()),
            (state, _) => state.to_string(),
        };
        let when = build.finished_at.or(build.started_at).unwrap_or(build.created_at);
        body.push_str(&format!("    #{} {state}, {}\n", build.number, when.format("%Y-%m-%d %H:%M UTC")));
        body.push_str(&format!("    why it ran: {}\n", build.causes.join("; ")));
        if let Some(error) = &build.error {
            body.push_str(&format!("    error: {error}\n"));
        }
        if let Some(digest) = build.digest.as_ref().filter(|_| build.state == BuildState::Succeeded) {
            body.push_str(&format!("    image: {digest}\n"));
        }
        body.push_str(&format!("    {}\n\n", build_url(base_url, project, build.number)));
    }
    body.push_str(&format!(
        "You get this digest as the notify-email of these images in the index. It replaces a mail per image for \
         the weekly rebuilds; failures are still mailed when they happen. Sent to {address} once a week.\n"
    ));
    Mail { to: vec![address.to_string()], subject, body }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn a_period_starts_on_monday_at_seven() {
        let at = |d, h, m| Utc.with_ymd_and_hms(2026, 12, d, h, m, 0).unwrap();
        // Thursday 2026-12-03: the period began Monday 2026-11-30 07:00.
        assert_eq!(digest_period(at(3, 12, 0)), at(3, 12, 0) - TimeDelta::days(3) - TimeDelta::hours(5));
        assert_eq!(digest_period(at(7, 6, 59)), digest_period(at(3, 12, 0)), "Monday before seven");
        assert_eq!(digest_period(at(7, 7, 0)), at(7, 7, 0), "Monday at seven");
    }
}
