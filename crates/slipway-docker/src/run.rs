//! Running one command in a sandbox to completion: create, start, supervise, always remove.

use std::time::Duration;

use crate::client::Docker;
use crate::container::Container;
use crate::error::DockerError;
use crate::sandbox::SandboxSpec;
use crate::supervise::{Mode, StopReason, Supervision, supervise};

/// How much of the end of the output a [`RunOutcome`] keeps.
pub(crate) const TAIL_BYTES: usize = 8 * 1024;

/// How a sandboxed run ended. A non-zero exit, a timeout or an OOM kill is an outcome, not an error:
/// errors are for Docker itself failing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    pub stop: StopReason,
    /// From start to stop.
    pub duration: Duration,
    /// Output bytes passed to the log (at most the cap).
    pub log_bytes: u64,
    /// The last 8 KiB of output, for a failure message.
    pub output_tail: String,
}

impl RunOutcome {
    /// Exited by itself with code 0.
    pub fn succeeded(&self) -> bool {
        self.stop == StopReason::Exited(0)
    }
}

impl Docker {
    /// Runs `spec` to completion under its limits, passing each output line (stdout and stderr) to `log` as it
    /// comes. The container is removed afterwards, whatever happened.
    pub async fn run(&self, spec: &SandboxSpec, log: &mut (dyn FnMut(&str) + Send)) -> Result<RunOutcome, DockerError> {
        let container = Container::create(self, spec.create_body(None)?, spec.name.as_deref()).await?;
        let plan = Supervision {
            timeout: spec.timeout,
            log_cap: spec.log_cap_bytes,
            mode: Mode::Enforce,
            tail_bytes: TAIL_BYTES,
        };
        let result = async {
            let output = container.start_attached().await?;
            supervise(&container, output, plan, log).await
        }
        .await;
        let removed = container.remove().await;
        let supervised = result?;
        removed?;
        tracing::debug!(image = %spec.image, reason = %supervised.reason, duration_ms = supervised.duration.as_millis() as u64, "sandbox run finished");
        Ok(RunOutcome {
            stop: supervised.reason,
            duration: supervised.duration,
            log_bytes: supervised.log_bytes,
            output_tail: supervised.tail,
        })
    }
}
