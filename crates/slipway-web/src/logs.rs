//! Stage logs over HTTP, never loaded whole: the raw text streamed chunk by chunk from the store (with HTTP
//! Range), the live log over SSE (`id:` is the chunk's seq, resumed from `Last-Event-ID`, `event: eof` at the
//! end), and the tail a build page shows.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use slipway_store::{Stage, StageKind, StageState, Store};

use crate::auth::Caller;
use crate::error::{ApiError, PageError, WebError};
use crate::render::{LogLine, log_line};
use crate::state::AppState;
use crate::views::find_project;

/// Chunks read per database round trip while streaming.
const PAGE: u64 = 32;
/// How often a live log looks for new chunks.
const POLL: Duration = Duration::from_millis(250);

/// Path of a stage's log on the pages: `/projects/{app}/{job}/{tag}/builds/{number}/logs/{stage}`.
pub(crate) async fn raw_page(
    State(state): State<AppState>,
    caller: Caller,
    Path((app, job, tag, number, stage)): Path<(String, String, String, i64, String)>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    caller.may_read(&state)?;
    let stage = page_stage(&state, &app, &job, &tag, number, &stage).await?;
    Ok(raw(state.store().clone(), &stage, &headers).await?)
}

/// `GET /api/v1/builds/{id}/logs/{stage}`.
pub(crate) async fn raw_api(
    State(state): State<AppState>,
    caller: Caller,
    Path((build_id, stage)): Path<(i64, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller.may_read(&state)?;
    let stage = stage_of(state.store(), build_id, &stage).await?;
    Ok(raw(state.store().clone(), &stage, &headers).await?)
}

pub(crate) async fn stream_page(
    State(state): State<AppState>,
    caller: Caller,
    Path((app, job, tag, number, stage)): Path<(String, String, String, i64, String)>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    caller.may_read(&state)?;
    let stage = page_stage(&state, &app, &job, &tag, number, &stage).await?;
    Ok(live(&state, stage.id, &headers).into_response())
}

/// `GET /api/v1/builds/{id}/logs/{stage}/stream`.
pub(crate) async fn stream_api(
    State(state): State<AppState>,
    caller: Caller,
    Path((build_id, stage)): Path<(i64, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller.may_read(&state)?;
    let stage = stage_of(state.store(), build_id, &stage).await?;
    Ok(live(&state, stage.id, &headers).into_response())
}

async fn page_stage(
    state: &AppState,
    app: &str,
    job: &str,
    tag: &str,
    number: i64,
    stage: &str,
) -> Result<Stage, WebError> {
    let project = find_project(state, app, job, tag).await?;
    let build = state.store().build_by_number(project.id, number).await?;
    stage_of(state.store(), build.id, stage).await
}

/// The stage `word` of build `build_id`.
pub(crate) async fn stage_of(store: &Store, build_id: i64, word: &str) -> Result<Stage, WebError> {
    let kind: StageKind = word.parse().map_err(|e| WebError::NotFound(format!("{e}")))?;
    store
        .stages(build_id)
        .await?
        .into_iter()
        .find(|s| s.kind == kind)
        .ok_or_else(|| WebError::NotFound(format!("build {build_id} has no {kind} stage (it did not get that far)")))
}

/// A byte range asked for with `Range: bytes=…`, resolved against the log's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wanted {
    All,
    /// `start..=end`, within the log.
    Part {
        start: u64,
        end: u64,
    },
    Unsatisfiable,
}

/// Reads one `bytes=` range (several ranges are answered with the whole log, as RFC 9110 allows).
pub(crate) fn parse_range(value: Option<&str>, size: u64) -> Wanted {
    let Some(spec) = value.and_then(|v| v.trim().strip_prefix("bytes=")) else { return Wanted::All };
    if spec.contains(',') {
        return Wanted::All;
    }
    let Some((first, last)) = spec.split_once('-') else { return Wanted::All };
    let (first, last) = (first.trim(), last.trim());
    let (start, end) = match (first.parse::<u64>(), last.parse::<u64>()) {
        (Ok(start), Ok(end)) if start <= end => (start, end.min(size.saturating_sub(1))),
        (Ok(_), Ok(_)) => return Wanted::All,
        (Ok(start), Err(_)) if last.is_empty() => (start, size.saturating_sub(1)),
        (Err(_), Ok(suffix)) if first.is_empty() => {
            if suffix == 0 {
                return Wanted::Unsatisfiable;
            }
            (size.saturating_sub(suffix), size.saturating_sub(1))
        }
        _ => return Wanted::All,
    };
    if start >= size { Wanted::Unsatisfiable } else { Wanted::Part { start, end } }
}

async fn raw(store: Store, stage: &Stage, headers: &HeaderMap) -> Result<Response, WebError> {
    let size = store.log_size(stage.id).await?.bytes;
    let wanted = parse_range(headers.get(header::RANGE).and_then(|v| v.to_str().ok()), size);
    let (status, start, end) = match wanted {
        Wanted::All => (StatusCode::OK, 0, size),
        Wanted::Part { start, end } => (StatusCode::PARTIAL_CONTENT, start, end + 1),
        Wanted::Unsatisfiable => {
            let mut response = (StatusCode::RANGE_NOT_SATISFIABLE, "").into_response();
            insert(&mut response, header::CONTENT_RANGE, &format!("bytes */{size}"));
            return Ok(response);
        }
    };
    let body = Body::from_stream(byte_range(store, stage.id, start, end));
    let mut response = (status, body).into_response();
    insert(&mut response, header::CONTENT_TYPE, "text/plain; charset=utf-8");
    insert(&mut response, header::ACCEPT_RANGES, "bytes");
    insert(&mut response, header::CONTENT_LENGTH, &(end - start).to_string());
    insert(&mut response, header::CACHE_CONTROL, "no-store");
    insert(&mut response, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    if status == StatusCode::PARTIAL_CONTENT {
        insert(&mut response, header::CONTENT_RANGE, &format!("bytes {start}-{}/{size}", end - 1));
    }
    Ok(response)
}

fn insert(response: &mut Response, name: header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

/// Bytes `start..end` of a stage's log, a page of chunks at a time.
fn byte_range(store: Store, stage_id: i64, start: u64, end: u64) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::unfold(start, move |at| {
        let store = store.clone();
        async move {
            if at >= end {
                return None;
            }
            let chunks = match store.log_chunks_from_byte(stage_id, at, PAGE).await {
                Ok(chunks) if !chunks.is_empty() => chunks,
                Ok(_) => return None,
                Err(err) => return Some((Err(std::io::Error::other(err.to_string())), end)),
            };
            let mut out = Vec::new();
            let mut next = at;
            for chunk in chunks {
                let bytes = chunk.text.as_bytes();
                let from =
                    usize::try_from(next.saturating_sub(chunk.start_byte)).unwrap_or(usize::MAX).min(bytes.len());
                let to = usize::try_from(end.saturating_sub(chunk.start_byte)).unwrap_or(usize::MAX).min(bytes.len());
                if from < to {
                    out.extend_from_slice(&bytes[from..to]);
                }
                next = chunk.start_byte + bytes.len() as u64;
                if next >= end {
                    break;
                }
            }
            Some((Ok(Bytes::from(out)), next.max(at + 1)))
        }
    })
}

/// The live log: chunks as they are written, then `event: eof` once the stage has ended and all is sent.
fn live(
    state: &AppState,
    stage_id: i64,
    headers: &HeaderMap,
) -> Sse<impl Stream<Item = Result<Event, Infallible>> + use<>> {
    let from = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .map_or(0, |seq| seq + 1);
    let store = state.store().clone();
    let stop = state.stopping();
    struct Cursor {
        store: Store,
        next: i64,
        done: bool,
        stop: tokio::sync::watch::Receiver<bool>,
        first: bool,
    }
    let cursor = Cursor { store, next: from, done: false, stop, first: true };
    let events = futures_util::stream::unfold(cursor, move |mut c| async move {
        if c.done {
            return None;
        }
        loop {
            if *c.stop.borrow() {
                return None;
            }
            if !c.first {
                tokio::select! {
                    () = tokio::time::sleep(POLL) => {}
                    _ = c.stop.changed() => return None,
                }
            }
            c.first = false;
            // Whether the stage ended is read before the chunks: a chunk written just before the end is seen.
            let ended = match c.store.stage(stage_id).await {
                Ok(stage) => !matches!(stage.state, StageState::Running | StageState::Pending),
                Err(_) => true,
            };
            match c.store.log_chunks(stage_id, c.next, PAGE).await {
                Ok(chunks) if !chunks.is_empty() => {
                    let mut events = Vec::with_capacity(chunks.len());
                    for chunk in chunks {
                        c.next = chunk.seq + 1;
                        let text = chunk.text.strip_suffix('\n').unwrap_or(&chunk.text);
                        events.push(Ok(Event::default().id(chunk.seq.to_string()).data(text)));
                    }
                    return Some((futures_util::stream::iter(events), c));
                }
                Ok(_) if ended => {
                    c.done = true;
                    let eof = Event::default().event("eof").data("the stage has ended");
                    return Some((futures_util::stream::iter(vec![Ok(eof)]), c));
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(stage.id = stage_id, error = %err, "reading a live log");
                }
            }
        }
    });
    Sse::new(futures_util::StreamExt::flatten(events)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// At most this many lines of a stage's end are shown on a build page.
pub(crate) const TAIL_LINES: usize = 200;
/// Chunks read for the tail: a few first, more only when they hold too few lines.
const TAIL_CHUNKS: [u64; 3] = [4, 16, 64];

/// The end of a stage's log, rendered; `true` when earlier lines were left out.
pub(crate) async fn tail(store: &Store, stage_id: i64) -> Result<(Vec<LogLine>, bool), WebError> {
    let mut chunks = Vec::new();
    for limit in TAIL_CHUNKS {
        chunks = store.log_tail(stage_id, limit).await?;
        let lines: usize = chunks.iter().map(|c| c.text.matches('\n').count()).sum();
        if lines > TAIL_LINES || (chunks.len() as u64) < limit {
            break;
        }
    }
    let starts_at_zero = chunks.first().is_none_or(|c| c.seq == 0);
    let text: String = chunks.into_iter().map(|c| c.text).collect();
    let lines: Vec<&str> = text.lines().collect();
    let cut = lines.len().saturating_sub(TAIL_LINES);
    Ok((lines[cut..].iter().map(|l| log_line(l)).collect(), cut > 0 || !starts_at_zero))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let cases = [
            (None, Wanted::All),
            (Some("bytes=0-9"), Wanted::Part { start: 0, end: 9 }),
            (Some("bytes=90-"), Wanted::Part { start: 90, end: 99 }),
            (Some("bytes=-10"), Wanted::Part { start: 90, end: 99 }),
            (Some("bytes=-1000"), Wanted::Part { start: 0, end: 99 }),
            (Some("bytes=50-5000"), Wanted::Part { start: 50, end: 99 }),
            (Some("bytes=100-"), Wanted::Unsatisfiable),
            (Some("bytes=-0"), Wanted::Unsatisfiable),
            (Some("bytes=5-1"), Wanted::All),
            (Some("bytes=0-1,5-6"), Wanted::All),
            (Some("items=0-1"), Wanted::All),
            (Some("bytes=x-y"), Wanted::All),
        ];
        for (header, want) in cases {
            assert_eq!(parse_range(header, 100), want, "{header:?}");
        }
    }
}
