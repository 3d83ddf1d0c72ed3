//! Operations: `/healthz` (the process answers), `/readyz` (the database and every configured probe, Docker
//! say, answer), and `/metrics` in the Prometheus text format.
//!
//! Build, stage, queue and release figures come from the database, so every server shows the same numbers
//! whichever workers did the work; quantiles are over the newest builds, stages and releases (as a summary's
//! are over a window). Tag drift is the last tag check's, stored by whichever server ran it. Registry errors
//! are this process's own.

use std::collections::BTreeMap;
use std::fmt::Write;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use chrono::Utc;
use slipway_store::{StageKind, Store, TagDrift, TagState};

use crate::error::PageError;
use crate::state::AppState;

pub(crate) async fn healthz() -> &'static str {
    "ok\n"
}

pub(crate) async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let mut report = String::new();
    let mut ready = true;
    match state.store().queue_counts().await {
        Ok(_) => report.push_str("database: ok\n"),
        Err(err) => {
            ready = false;
            tracing::warn!(error = %err, "readiness: database");
            report.push_str("database: unreachable\n");
        }
    }
    for (name, probe) in &state.config().probes {
        match probe().await {
            Ok(()) => {
                let _ = writeln!(report, "{name}: ok");
            }
            Err(err) => {
                ready = false;
                tracing::warn!(probe = %name, error = %err, "readiness");
                let _ = writeln!(report, "{name}: {err}");
            }
        }
    }
    (if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, report)
}

/// How many of the newest stages, builds and releases the quantiles cover.
const WINDOW: u64 = 1_000;
const QUANTILES: [f64; 3] = [0.5, 0.9, 0.99];

pub(crate) async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, PageError> {
    let text = render(state.store()).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text))
}

async fn render(store: &Store) -> Result<String, slipway_store::StoreError> {
    let mut out = String::new();
    let counts = store.build_counts().await?;
    family(&mut out, "slipway_builds", "gauge", "Builds in the database, by state.");
    for (state, n) in &counts.by_state {
        let _ = writeln!(out, "slipway_builds{{state=\"{state}\"}} {n}");
    }

    let queue = store.queue_counts().await?;
    family(&mut out, "slipway_queue_jobs", "gauge", "Jobs waiting in the queue and being worked on.");
    let _ = writeln!(out, "slipway_queue_jobs{{state=\"queued\"}} {}", queue.queued);
    let _ = writeln!(out, "slipway_queue_jobs{{state=\"running\"}} {}", queue.running);
    family(&mut out, "slipway_queue_oldest_wait_seconds", "gauge", "How long the oldest queued build has waited.");
    let oldest = store.oldest_queued().await?.map_or(0.0, |at| seconds((Utc::now() - at).num_milliseconds()));
    let _ = writeln!(out, "slipway_queue_oldest_wait_seconds {oldest}");
    let waits: Vec<f64> = store
        .recently_started(WINDOW)
        .await?
        .iter()
        .filter_map(|b| b.started_at.map(|s| seconds((s - b.created_at).num_milliseconds())))
        .collect();
    summary(&mut out, "slipway_queue_wait_seconds", "From queued to started, newest builds.", &[], waits);

    let stages = store.recent_stage_durations(WINDOW).await?;
    family(&mut out, "slipway_stage_duration_seconds", "summary", "Stage durations, newest finished stages.");
    for kind in StageKind::ALL {
        let values: Vec<f64> = stages.iter().filter(|(k, _)| k == kind).map(|(_, ms)| seconds(*ms)).collect();
        if !values.is_empty() {
            quantiles(&mut out, "slipway_stage_duration_seconds", &[("stage", kind.as_str())], values);
        }
    }

    let latencies = store.release_latencies(WINDOW).await?;
    summary(
        &mut out,
        "slipway_promotion_latency_seconds",
        "From a build queued (its commit seen) to its release tags written, newest releases.",
        &[],
        latencies,
    );

    tag_drift(&mut out, &store.tag_drift(None).await?);

    family(&mut out, "slipway_registry_errors_total", "counter", "Failed registry requests, by registry and status.");
    for e in slipway_registry::registry_error_counts() {
        let _ = writeln!(
            out,
            "slipway_registry_errors_total{{registry=\"{}\",status=\"{}\"}} {}",
            label(&e.registry),
            label(&e.status),
            e.count
        );
    }
    Ok(out)
}

/// `slipway_tag_drift{repository, kind}`: the tags the last check found drifting, one series per repository
/// checked and kind (`moved`, `deleted`, `not_stable`; 0 when none), and `slipway_tag_unchecked{repository}`:
/// the tags it could not read.
fn tag_drift(out: &mut String, rows: &[TagDrift]) {
    let mut counts: BTreeMap<&str, BTreeMap<TagState, usize>> = BTreeMap::new();
    for row in rows {
        *counts.entry(row.result.repository.as_str()).or_default().entry(row.result.state).or_default() += 1;
    }
    let count = |states: &BTreeMap<TagState, usize>, state| states.get(&state).copied().unwrap_or(0);
    family(
        out,
        "slipway_tag_drift",
        "gauge",
        "Tags the last tag check found drifting from what Slipway recorded, by repository and kind.",
    );
    for (repository, states) in &counts {
        for kind in TagState::ALL.iter().copied().filter(|s| s.is_drift()) {
            let (repository, n) = (label(repository), count(states, kind));
            let _ = writeln!(out, "slipway_tag_drift{{repository=\"{repository}\",kind=\"{kind}\"}} {n}");
        }
    }
    family(out, "slipway_tag_unchecked", "gauge", "Tags the last tag check could not read, by repository.");
    for (repository, states) in &counts {
        let n = count(states, TagState::Unchecked);
        let _ = writeln!(out, "slipway_tag_unchecked{{repository=\"{}\"}} {n}", label(repository));
    }
}

fn seconds(ms: i64) -> f64 {
    ms.max(0) as f64 / 1000.0
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn summary(out: &mut String, name: &str, help: &str, labels: &[(&str, &str)], values: Vec<f64>) {
    family(out, name, "summary", help);
    quantiles(out, name, labels, values);
}

/// The quantile lines, `_sum` and `_count` of one labelled summary.
fn quantiles(out: &mut String, name: &str, labels: &[(&str, &str)], mut values: Vec<f64>) {
    values.sort_by(f64::total_cmp);
    let base: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", label(v))).collect();
    for q in QUANTILES {
        let value = if values.is_empty() {
            f64::NAN
        } else {
            let at = ((values.len() - 1) as f64 * q).round() as usize;
            values[at.min(values.len() - 1)]
        };
        let mut all = base.clone();
        all.push(format!("quantile=\"{q}\""));
        let _ = writeln!(out, "{name}{{{}}} {value}", all.join(","));
    }
    let braces = if base.is_empty() { String::new() } else { format!("{{{}}}", base.join(",")) };
    let _ = writeln!(out, "{name}_sum{braces} {}", values.iter().sum::<f64>() + 0.0);
    let _ = writeln!(out, "{name}_count{braces} {}", values.len());
}

/// Escapes a label value.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_render_in_the_text_format() {
        let mut out = String::new();
        summary(&mut out, "x_seconds", "help", &[("stage", "build")], vec![3.0, 1.0, 2.0]);
        assert!(out.contains("# TYPE x_seconds summary"), "{out}");
        assert!(out.contains("x_seconds{stage=\"build\",quantile=\"0.5\"} 2"), "{out}");
        assert!(out.contains("x_seconds_sum{stage=\"build\"} 6"), "{out}");
        assert!(out.contains("x_seconds_count{stage=\"build\"} 3"), "{out}");
        assert_eq!(label("a\"b\\"), "a\\\"b\\\\");
    }

    #[test]
    fn tag_drift_has_a_series_per_repository_and_kind() {
        let row = |repository: &str, tag: &str, state| TagDrift {
            result: slipway_store::NewTagDrift {
                repository: repository.into(),
                tag: tag.into(),
                state,
                recorded: "sha256:aa".into(),
                found: None,
                stable: None,
                error: None,
            },
            checked_at: Utc::now(),
        };
        let mut out = String::new();
        tag_drift(
            &mut out,
            &[
                row("r/a/web", "latest", TagState::Moved),
                row("r/a/web", "rc", TagState::Moved),
                row("r/a/api", "rc", TagState::Unchecked),
            ],
        );
        assert!(out.contains("# TYPE slipway_tag_drift gauge"), "{out}");
        assert!(out.contains("slipway_tag_drift{repository=\"r/a/web\",kind=\"moved\"} 2"), "{out}");
        assert!(out.contains("slipway_tag_drift{repository=\"r/a/web\",kind=\"not_stable\"} 0"), "{out}");
        assert!(out.contains("slipway_tag_drift{repository=\"r/a/api\",kind=\"deleted\"} 0"), "{out}");
        assert!(out.contains("slipway_tag_unchecked{repository=\"r/a/api\"} 1"), "{out}");
        assert!(!out.contains("kind=\"unchecked\"") && !out.contains("kind=\"in_step\""), "{out}");
    }
}
