//! lint: advisory Dockerfile checks. Warnings are recorded and shown; they never fail the build.

use slipway_store::{NewFinding, Severity, StageKind};

use crate::failure::{StageFailure, StageResult};
use crate::run::{BuildRun, Log};

impl BuildRun<'_> {
    pub(crate) async fn lint(&mut self, log: Log<'_>) -> StageResult<()> {
        let path = self.source.join(&self.spec.target_file);
        let text = tokio::fs::read_to_string(&path)
            .await
            .map_err(|e| StageFailure::failed(format!("cannot read /{}: {e}", self.spec.target_file)))?;
        let warnings = slipway_docker::lint(&text);
        if warnings.is_empty() {
            log.line(format!("[slipway] /{}: no warnings", self.spec.target_file));
        }
        for warning in warnings {
            log.line(format!(
                "warning[{}]: /{}:{}: {}",
                warning.code, self.spec.target_file, warning.line, warning.message
            ));
            let finding = NewFinding {
                build_id: self.build.id,
                stage: StageKind::Lint,
                severity: Severity::Warning,
                code: warning.code.to_string(),
                line: Some(warning.line as i32),
                message: warning.message,
            };
            self.worker.store.record_finding(&finding).await?;
        }
        Ok(())
    }
}
