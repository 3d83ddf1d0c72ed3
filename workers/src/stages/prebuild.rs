//! prebuild: the project's prebuild script, run in a container with the checkout mounted (never on the
//! worker's host), within limits and a time limit, on the project's build network. Its changes to the checkout
//! are what the build sees, once the paths the build reads are checked again.

use slipway_docker::{Bind, SandboxSpec, StopReason};

use crate::failure::{StageFailure, StageResult};
use crate::run::{BuildRun, Log};

const MOUNT: &str = "/src";

impl BuildRun<'_> {
    pub(crate) async fn prebuild(&mut self, log: Log<'_>) -> StageResult<()> {
        let settings = &self.worker.settings;
        let (Some(script), context) = (&self.spec.prebuild_script, self.spec.prebuild_context.as_deref()) else {
            return Ok(());
        };
        let context = context.unwrap_or(&self.spec.git_path);
        let workdir = if context.is_empty() { MOUNT.to_string() } else { format!("{MOUNT}/{context}") };
        log.line(format!("[slipway] running /{script} in {} (in {workdir})", settings.prebuild_image));
        let spec = SandboxSpec {
            cmd: Some(vec!["/bin/sh".into(), format!("{MOUNT}/{script}")]),
            binds: vec![Bind { host: self.source.clone(), container: MOUNT.into(), read_only: false }],
            workdir: Some(workdir),
            network: self.prebuild_network(log),
            timeout: settings.prebuild_timeout,
            limits: settings.limits,
            read_only_root: true,
            ..SandboxSpec::new(&settings.prebuild_image)
        };
        let outcome = self
            .worker
            .docker
            .run(&spec, &mut log.callback())
            .await
            .map_err(|e| StageFailure::errored(format!("Docker: {e}")))?;
        match outcome.stop {
            // The script had the checkout read-write: what the build reads is checked again.
            StopReason::Exited(0) => self.recheck_paths(log),
            StopReason::Exited(code) => {
                Err(StageFailure::failed(format!("the prebuild script /{script} exited with code {code}")))
            }
            other => Err(StageFailure::failed(format!("the prebuild script /{script} was stopped: {other}"))),
        }
    }
}
