//! The container supervisor: one `select!` over the container's exit, the deadline and its output, giving the
//! [`StopReason`] that becomes the recorded reason. Dropping the future is the cancel (the caller's
//! [`Container`] guard then removes the container).

use std::fmt;
use std::time::{Duration, Instant};

use bollard::container::LogOutput;
use bollard::errors::Error as BollardError;
use futures_util::{Stream, StreamExt};

use crate::container::{Container, OutputStream};
use crate::error::DockerError;
use crate::log::{LineSplitter, Tail, human, human_bytes};

/// Why a container stopped (or why Slipway stopped watching it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// It exited by itself with this code.
    Exited(i64),
    /// The deadline passed: it was killed (a run), or is still running (the `starts` test).
    TimedOut(Duration),
    /// The kernel killed a process of it for exceeding the memory limit.
    OutOfMemory,
    /// It wrote this many bytes of output and was stopped.
    LogCapReached(u64),
}

impl StopReason {
    /// The exit code, when it exited by itself.
    pub fn exit_code(&self) -> Option<i64> {
        match self {
            StopReason::Exited(code) => Some(*code),
            _ => None,
        }
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Exited(code) => write!(f, "exited with exit code {code}"),
            StopReason::TimedOut(after) => write!(f, "timed out after {}", human(*after)),
            StopReason::OutOfMemory => write!(f, "killed for running out of memory"),
            StopReason::LogCapReached(bytes) => {
                write!(f, "stopped after {} of output (the log cap)", human_bytes(*bytes))
            }
        }
    }
}

/// What to do at the deadline and the log cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Kill the container (a run).
    Enforce,
    /// Leave it running; at the cap only stop passing its output on (the `starts` test watches a server).
    Observe,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Supervision {
    pub(crate) timeout: Duration,
    pub(crate) log_cap: u64,
    pub(crate) mode: Mode,
    pub(crate) tail_bytes: usize,
}

#[derive(Debug)]
pub(crate) struct Supervised {
    pub(crate) reason: StopReason,
    pub(crate) log_bytes: u64,
    pub(crate) tail: String,
    pub(crate) duration: Duration,
}

/// How long to keep reading output after the container stopped; the attached stream ends by itself well before.
const DRAIN: Duration = Duration::from_secs(5);
/// How long to wait for Docker's out-of-memory event after a failed exit: the kernel's OOM event and the exit
/// reach dockerd separately, so the exit can be seen first.
const OOM_EVENT_WAIT: Duration = Duration::from_millis(500);

/// Watches a container started with [`Container::start_attached`], reading `output` from its first byte.
pub(crate) async fn supervise(
    container: &Container,
    output: OutputStream,
    plan: Supervision,
    log: &mut (dyn FnMut(&str) + Send),
) -> Result<Supervised, DockerError> {
    let started = Instant::now();
    let api = container.docker().api();
    let mut logs = output;
    let mut wait = std::pin::pin!(async { api.wait_container(container.id(), None).next().await });
    let mut deadline = std::pin::pin!(tokio::time::sleep(plan.timeout));
    let mut out = Output::new(plan);
    let mut following = true;
    let reason = loop {
        tokio::select! {
            item = logs.next(), if following => match item {
                Some(Ok(chunk)) => {
                    // Past the cap output is still read (and dropped): an attached container whose output is
                    // not read blocks on its next write.
                    if out.take(&chunk, log) {
                        if plan.mode == Mode::Enforce {
                            log(&format!("[slipway] log capped at {} bytes; the container was stopped", plan.log_cap));
                            // Detach first: dockerd cannot finish a kill while the container's output waits on a
                            // reader that stopped reading.
                            drop(logs);
                            container.kill().await?;
                            break StopReason::LogCapReached(plan.log_cap);
                        }
                        log(&format!("[slipway] log capped at {} bytes; further output is not shown", plan.log_cap));
                    }
                }
                Some(Err(err)) => {
                    tracing::warn!(container.id = %container.id(), error = %err, "container output stream broke");
                    following = false;
                }
                None => following = false,
            },
            exit = &mut wait => {
                let code = match exit {
                    Some(Ok(response)) => response.status_code,
                    Some(Err(BollardError::DockerContainerWaitError { code, .. })) => code,
                    Some(Err(err)) => return Err(container.docker().ctx("wait for a container").classify(err, None)),
                    None => -1,
                };
                if following {
                    drain(&mut logs, &mut out, log).await;
                }
                break if out_of_memory(container, code).await? { StopReason::OutOfMemory } else { StopReason::Exited(code) };
            },
            () = &mut deadline => {
                if plan.mode == Mode::Enforce {
                    log(&format!("[slipway] timed out after {}; the container was killed", human(plan.timeout)));
                    // Read while killing: a container blocked on writing its output would hold the kill up.
                    let (killed, ()) = tokio::join!(container.kill(), async {
                        if following {
                            drain(&mut logs, &mut out, log).await;
                        }
                    });
                    killed?;
                }
                break StopReason::TimedOut(plan.timeout);
            },
        }
    };
    out.finish(log);
    Ok(Supervised { reason, log_bytes: out.bytes, tail: out.tail.text(), duration: started.elapsed() })
}

/// Whether the kernel killed a process of the container for exceeding its memory limit. A failed exit is given a
/// moment for Docker's OOM event to arrive.
async fn out_of_memory(container: &Container, code: i64) -> Result<bool, DockerError> {
    if oom_killed(container).await? {
        return Ok(true);
    }
    if code == 0 {
        return Ok(false);
    }
    // Podman 4.3 (runc, cgroup v1 here) never sets OOMKilled. Slipway did not kill this container (that is a
    // timeout), and nothing inside can SIGKILL its pid namespace's init: 137 is the kernel's OOM killer, there or
    // in a child whose status the script passed on.
    if code == 137 && container.docker().engine().is_podman() {
        return Ok(true);
    }
    tokio::time::sleep(OOM_EVENT_WAIT).await;
    oom_killed(container).await
}

async fn oom_killed(container: &Container) -> Result<bool, DockerError> {
    Ok(container.inspect().await?.state.and_then(|s| s.oom_killed).unwrap_or(false))
}

/// Reads what is left of the output after the container stopped.
async fn drain(
    logs: &mut (impl Stream<Item = Result<LogOutput, BollardError>> + Unpin),
    out: &mut Output,
    log: &mut (dyn FnMut(&str) + Send),
) {
    let rest = async {
        while let Some(Ok(chunk)) = logs.next().await {
            if out.take(&chunk, log) {
                log(&format!("[slipway] log capped at {} bytes; further output is not shown", out.cap));
            }
        }
    };
    if tokio::time::timeout(DRAIN, rest).await.is_err() {
        tracing::warn!("container output still flowing {} after it stopped; stopped reading", human(DRAIN));
    }
}

/// The container's output on its way to the log: split per stream into lines, counted against the cap, tailed.
struct Output {
    stdout: LineSplitter,
    stderr: LineSplitter,
    tail: Tail,
    bytes: u64,
    cap: u64,
    capped: bool,
}

impl Output {
    fn new(plan: Supervision) -> Output {
        Output {
            stdout: LineSplitter::default(),
            stderr: LineSplitter::default(),
            tail: Tail::new(plan.tail_bytes),
            bytes: 0,
            cap: plan.log_cap,
            capped: false,
        }
    }

    /// Passes a chunk on up to the cap; `true` when this chunk crossed the cap (the rest of it, and every later
    /// chunk, is dropped).
    fn take(&mut self, chunk: &LogOutput, log: &mut (dyn FnMut(&str) + Send)) -> bool {
        if self.capped {
            return false;
        }
        let (bytes, splitter) = match chunk {
            LogOutput::StdOut { message } | LogOutput::Console { message } => (message, &mut self.stdout),
            LogOutput::StdErr { message } => (message, &mut self.stderr),
            LogOutput::StdIn { .. } => return false,
        };
        let room = usize::try_from(self.cap.saturating_sub(self.bytes)).unwrap_or(usize::MAX);
        let taken = bytes.len().min(room);
        self.bytes += taken as u64;
        let tail = &mut self.tail;
        splitter.push(&bytes[..taken], &mut |line| {
            tail.push(line);
            log(line);
        });
        if bytes.len() > room {
            self.capped = true;
            self.finish(log);
            return true;
        }
        false
    }

    fn finish(&mut self, log: &mut (dyn FnMut(&str) + Send)) {
        let tail = &mut self.tail;
        for splitter in [&mut self.stdout, &mut self.stderr] {
            splitter.finish(&mut |line| {
                tail.push(line);
                log(line);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_stops_at_the_cap() {
        let plan = Supervision { timeout: Duration::from_secs(1), log_cap: 10, mode: Mode::Enforce, tail_bytes: 100 };
        let mut out = Output::new(plan);
        let mut lines = Vec::new();
        let mut log = |l: &str| lines.push(l.to_string());
        assert!(!out.take(&LogOutput::StdOut { message: "hello\n".into() }, &mut log));
        assert!(!out.take(&LogOutput::StdErr { message: "err".into() }, &mut log));
        assert!(out.take(&LogOutput::StdOut { message: "world\n".into() }, &mut log));
        assert!(!out.take(&LogOutput::StdOut { message: "more\n".into() }, &mut log), "reported once");
        assert_eq!(out.bytes, 10);
        assert_eq!(lines, ["hello", "w", "err"]);
        assert_eq!(out.tail.text(), "hello\nw\nerr\n");
    }

    #[test]
    fn reasons_read_well() {
        let cases = [
            (StopReason::Exited(3), "exited with exit code 3"),
            (StopReason::TimedOut(Duration::from_secs(5)), "timed out after 5 s"),
            (StopReason::OutOfMemory, "killed for running out of memory"),
            (StopReason::LogCapReached(1024 * 1024), "stopped after 1 MiB of output (the log cap)"),
        ];
        for (reason, want) in cases {
            assert_eq!(reason.to_string(), want);
        }
    }
}
