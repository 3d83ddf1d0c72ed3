//! BuildKit's progress, written as the familiar plain progress: `#5 [2/3] RUN make` when a step starts, its
//! output as `#5 <line>`, then `#5 DONE 1.2s`, `#5 CACHED` or `#5 ERROR: …`.

use std::collections::HashMap;

use bollard_buildkit_proto::moby::buildkit::v1::StatusResponse;

use crate::log::LineSplitter;

#[derive(Debug, Default)]
struct Step {
    number: usize,
    started: Option<f64>,
    done: bool,
    output: LineSplitter,
}

/// What the trace has said so far, and which step is running or failed.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    steps: HashMap<String, Step>,
    /// Vertex digests in the order they were first seen, for flushing output at the end.
    order: Vec<String>,
    /// The last step that started, and the one that failed.
    pub(crate) running: Option<String>,
    pub(crate) failed: Option<String>,
    /// The step whose output BuildKit cut off at its own limit (1 MiB, or 200 KiB/s, per step).
    pub(crate) clipped: Option<String>,
}

type Timestamp = (i64, i32);

/// What BuildKit writes when it drops the rest of a step's output.
const CLIPPED: &[u8] = b"[output clipped, log limit";

fn seconds(t: Option<Timestamp>) -> Option<f64> {
    t.map(|(s, n)| s as f64 + f64::from(n) / 1e9)
}

impl Progress {
    /// Takes one trace message and writes what it adds.
    pub(crate) fn observe(&mut self, status: StatusResponse, emit: &mut dyn FnMut(&str)) {
        // Starts first, then output, then ends: a message may carry all three for one step.
        for vertex in &status.vertexes {
            if vertex.started.is_none() && !vertex.cached {
                continue;
            }
            let cached_now = vertex.cached && vertex.completed.is_some();
            let step = self.step(&vertex.digest, &vertex.name, emit, cached_now);
            if step.started.is_none() {
                step.started = seconds(vertex.started.as_ref().map(|t| (t.seconds, t.nanos)));
            }
            if !step.done && vertex.completed.is_none() && !vertex.name.starts_with("[internal]") {
                self.running = Some(vertex.name.clone());
            }
        }
        for log in status.logs {
            let Some(step) = self.steps.get_mut(&log.vertex) else { continue };
            if self.clipped.is_none() && log.msg.windows(CLIPPED.len()).any(|w| w == CLIPPED) {
                self.clipped = self.running.clone().or_else(|| Some(format!("step #{}", step.number)));
            }
            let number = step.number;
            step.output.push(&log.msg, &mut |line| emit(&format!("#{number} {line}")));
        }
        for vertex in status.vertexes {
            let completed = vertex.completed.as_ref().map(|t| (t.seconds, t.nanos));
            let Some(step) = self.steps.get_mut(&vertex.digest) else { continue };
            if step.done || completed.is_none() {
                continue;
            }
            step.done = true;
            let number = step.number;
            step.output.finish(&mut |line| emit(&format!("#{number} {line}")));
            if !vertex.error.is_empty() {
                emit(&format!("#{number} ERROR: {}", vertex.error));
                self.failed.get_or_insert(vertex.name);
            } else if vertex.cached {
                emit(&format!("#{number} CACHED"));
            } else {
                let took = seconds(completed).zip(step.started).map(|(end, start)| (end - start).max(0.0));
                emit(&format!("#{number} DONE {:.1}s", took.unwrap_or(0.0)));
            }
        }
        for warning in status.warnings {
            let number = self.steps.get(&warning.vertex).map_or(0, |s| s.number);
            emit(&format!("#{number} WARNING: {}", String::from_utf8_lossy(&warning.short)));
        }
    }

    /// The step for `digest`, announced (`#N name`) the first time it is seen.
    fn step(&mut self, digest: &str, name: &str, emit: &mut dyn FnMut(&str), cached: bool) -> &mut Step {
        let number = self.order.len() + 1;
        let order = &mut self.order;
        self.steps.entry(digest.to_string()).or_insert_with(|| {
            order.push(digest.to_string());
            if cached {
                emit(&format!("#{number} {name} CACHED"));
            } else {
                emit(&format!("#{number} {name}"));
            }
            Step { number, done: cached, ..Step::default() }
        })
    }

    /// Writes output still held for a line end (the build ended mid-line).
    pub(crate) fn finish(&mut self, emit: &mut dyn FnMut(&str)) {
        for digest in &self.order {
            if let Some(step) = self.steps.get_mut(digest) {
                let number = step.number;
                step.output.finish(&mut |line| emit(&format!("#{number} {line}")));
            }
        }
    }

    /// The name of the step a failure belongs to: the failed one, else the last started.
    pub(crate) fn step_name(&self) -> Option<String> {
        self.failed.clone().or_else(|| self.running.clone())
    }
}

#[cfg(test)]
mod tests {
    use bollard_buildkit_proto::google::protobuf::Timestamp;
    use bollard_buildkit_proto::moby::buildkit::v1::{Vertex, VertexLog};

    use super::*;

    fn vertex(digest: &str, name: &str, started: Option<i64>, completed: Option<i64>, cached: bool) -> Vertex {
        let at = |s: i64| Timestamp { seconds: s, nanos: 0 };
        Vertex {
            digest: digest.into(),
            name: name.into(),
            started: started.map(at),
            completed: completed.map(at),
            cached,
            ..Vertex::default()
        }
    }

    #[test]
    fn steps_output_and_outcomes() {
        let mut p = Progress::default();
        let mut lines = Vec::new();
        let mut emit = |l: &str| lines.push(l.to_string());
        p.observe(
            StatusResponse {
                vertexes: vec![
                    vertex("a", "[1/3] FROM base", Some(1), Some(1), true),
                    vertex("b", "[2/3] RUN make", Some(10), None, false),
                ],
                ..StatusResponse::default()
            },
            &mut emit,
        );
        p.observe(
            StatusResponse {
                logs: vec![VertexLog { vertex: "b".into(), msg: b"hello\nwor".to_vec(), ..VertexLog::default() }],
                ..StatusResponse::default()
            },
            &mut emit,
        );
        assert_eq!(p.running.as_deref(), Some("[2/3] RUN make"));
        p.observe(
            StatusResponse {
                vertexes: vec![vertex("b", "[2/3] RUN make", Some(10), Some(12), false)],
                logs: vec![VertexLog { vertex: "b".into(), msg: b"ld\n".to_vec(), ..VertexLog::default() }],
                ..StatusResponse::default()
            },
            &mut emit,
        );
        let mut failing = vertex("c", "[3/3] RUN false", Some(12), Some(13), false);
        failing.error = "exit code: 1".into();
        p.observe(StatusResponse { vertexes: vec![failing], ..StatusResponse::default() }, &mut emit);
        assert_eq!(
            lines,
            [
                "#1 [1/3] FROM base CACHED",
                "#2 [2/3] RUN make",
                "#2 hello",
                "#2 world",
                "#2 DONE 2.0s",
                "#3 [3/3] RUN false",
                "#3 ERROR: exit code: 1"
            ]
        );
        assert_eq!(p.step_name().as_deref(), Some("[3/3] RUN false"));
    }
}
