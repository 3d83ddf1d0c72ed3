//! `/`: every project with its last build, filtered by state and text, a page of rows at a time.

use askama::Template;
use axum::extract::{Query, State};
use serde::Deserialize;
use slipway_store::BuildState;

use super::Chrome;
use crate::auth::Caller;
use crate::error::PageError;
use crate::render::{short_digest, time};
use crate::state::{AppState, IndexProblem};
use crate::views::{ProjectRow, project_rows, went_wrong};

/// Rows per page.
const PAGE_ROWS: usize = 100;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Filter {
    #[serde(default)]
    pub(crate) state: String,
    #[serde(default)]
    pub(crate) q: String,
    #[serde(default)]
    pub(crate) page: usize,
}

impl Filter {
    pub(crate) fn keeps(&self, row: &ProjectRow) -> bool {
        let state_ok = match self.state.as_str() {
            "" | "all" => true,
            "failing" => row.state.parse::<BuildState>().is_ok_and(went_wrong),
            state => row.state == state,
        };
        let q = self.q.trim().to_lowercase();
        state_ok && (q.is_empty() || row.image.to_lowercase().contains(&q))
    }
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard<'a> {
    chrome: Chrome,
    rows: Vec<&'a ProjectRow>,
    total: usize,
    matching: usize,
    filter: Filter,
    states: &'static [&'static str],
    problems: &'a [IndexProblem],
    page: usize,
    pages: usize,
}

impl Dashboard<'_> {
    fn short(&self, digest: &str) -> String {
        short_digest(digest)
    }

    fn when(&self, row: &ProjectRow) -> String {
        row.at.map(time).unwrap_or_default()
    }

    fn page_link(&self, page: usize) -> String {
        let mut link = format!("/?page={page}");
        for (key, value) in [("state", &self.filter.state), ("q", &self.filter.q)] {
            if !value.is_empty() {
                link.push_str(&format!("&{key}={}", encode(value)));
            }
        }
        link
    }
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(crate) async fn page(
    State(state): State<AppState>,
    caller: Caller,
    Query(filter): Query<Filter>,
) -> Result<impl axum::response::IntoResponse, PageError> {
    caller.may_read(&state)?;
    let all = project_rows(&state).await?;
    let matching: Vec<&ProjectRow> = all.iter().filter(|r| filter.keeps(r)).collect();
    let pages = matching.len().div_ceil(PAGE_ROWS).max(1);
    let page = filter.page.min(pages - 1);
    let rows = matching.iter().skip(page * PAGE_ROWS).take(PAGE_ROWS).copied().collect();
    let problems = state.config().index_problems.get();
    let html = Dashboard {
        chrome: Chrome::of(&caller),
        rows,
        total: all.len(),
        matching: matching.len(),
        filter,
        states: &[
            "all",
            "failing",
            "succeeded",
            "running",
            "queued",
            "failed",
            "errored",
            "skipped",
            "canceled",
            "never built",
        ],
        problems: &problems,
        page,
        pages,
    }
    .render()
    .map_err(|e| crate::error::WebError::internal(&e))?;
    Ok(axum::response::Html(html))
}
