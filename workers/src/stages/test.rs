//! test: against the pushed digest, never a tag. The predefined tests (the image starts; its exposed ports
//! accept connections; its healthcheck turns healthy), then the user's test script, run in a container of
//! the image under test with the checkout mounted read-only. Every test container is sandboxed.

use std::time::{Duration, Instant};

use slipway_docker::{Bind, PredefinedOptions, SandboxSpec, StopReason};
use slipway_store::{NewTestResult, QaState, TestResult};

use crate::failure::{StageFailure, StageResult};
use crate::run::{BuildRun, Log};

/// The most output kept per test in the store (its whole output is in the stage log).
const OUTPUT_CAP: usize = 16 * 1024;
const SOURCE_MOUNT: &str = "/slipway/src";

impl BuildRun<'_> {
    pub(crate) async fn test(&self, log: Log<'_>) -> StageResult<()> {
        let image = format!("{}@{}", self.repository(), self.digest()?);
        log.line(format!("[slipway] testing {image}"));
        let settings = &self.worker.settings;
        let defaults = PredefinedOptions::default();
        let start_grace = self.spec.start_grace_ms.map(Duration::from_millis);
        let options = PredefinedOptions {
            grace: start_grace.unwrap_or(defaults.grace),
            grace_with_checks: start_grace.unwrap_or(defaults.grace_with_checks),
            limits: settings.limits,
            busybox_image: settings.busybox_image.clone(),
            ..PredefinedOptions::default()
        };
        // The predefined tests and the user's script are independent containers of the same image: they run
        // side by side. The script's output streams live; the predefined tests' few lines follow as one block.
        let predefined = async {
            let mut lines = Vec::new();
            let mut keep = |line: &str| lines.push(line.to_string());
            let outcomes = self.worker.docker.predefined_tests(&image, &options, &mut keep).await;
            for line in lines {
                log.line(line);
            }
            outcomes.map_err(|e| StageFailure::errored(format!("Docker: {e}")))
        };
        let user = async {
            match self.test_script.clone() {
                Some(script) => self.user_test(&image, &script, log).await,
                None => Ok(None),
            }
        };
        let (outcomes, user) = tokio::join!(predefined, user);
        let (outcomes, user) = (outcomes?, user?);
        let mut failed = Vec::new();
        for outcome in outcomes {
            log.line(format!(
                "[slipway] test `{}`: {} in {} ms",
                outcome.name,
                if outcome.passed { "passed" } else { "FAILED" },
                outcome.duration.as_millis()
            ));
            if !outcome.passed {
                failed.push(format!("`{}`: {}", outcome.name, last_line(&outcome.output)));
            }
            let result = if outcome.passed { TestResult::Passed } else { TestResult::Failed };
            self.record_test(&outcome.name, result, outcome.duration, &outcome.output).await?;
        }
        failed.extend(user);
        let store = &self.worker.store;
        if let Some(image) = store.image_of_build(self.build.id).await? {
            let state = if failed.is_empty() { QaState::Passed } else { QaState::Failed };
            store.set_image_state(image.id, state).await?;
        }
        self.attach_test_report(log).await?;
        if failed.is_empty() {
            return Ok(());
        }
        Err(StageFailure::failed(format!("{} test(s) failed: {}", failed.len(), failed.join("; "))))
    }

    /// The user's script: `Some(reason)` when it failed.
    async fn user_test(&self, image: &str, script: &str, log: Log<'_>) -> StageResult<Option<String>> {
        let settings = &self.worker.settings;
        // Unique on the Docker host, which other Slipway installations (other databases) may share.
        let nonce = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let name = format!("slipway-test-{}-{}-{nonce:x}", self.build.id, self.attempt);
        let timeout = self.test_timeout_s.map_or(settings.test_timeout, Duration::from_secs);
        log.line(format!("[slipway] running test-script /{script} in {image} (time limit {} s)", timeout.as_secs()));
        let spec = SandboxSpec {
            entrypoint: Some(vec!["/bin/sh".into()]),
            cmd: Some(vec![format!("{SOURCE_MOUNT}/{script}")]),
            env: vec![("IMAGE_NAME".into(), image.to_string()), ("CONTAINER_NAME".into(), name.clone())],
            binds: vec![Bind { host: self.source.clone(), container: SOURCE_MOUNT.into(), read_only: true }],
            name: Some(name),
            timeout,
            limits: settings.limits,
            read_only_root: true,
            tmpfs: vec![("/tmp".into(), "rw,size=64m".into())],
            ..SandboxSpec::new(image)
        };
        let started = Instant::now();
        let outcome = self
            .worker
            .docker
            .run(&spec, &mut log.callback())
            .await
            .map_err(|e| StageFailure::errored(format!("Docker: {e}")))?;
        let test_name = format!("test-script /{script}");
        let (result, reason) = match &outcome.stop {
            StopReason::Exited(0) => (TestResult::Passed, None),
            StopReason::Exited(code) => (TestResult::Failed, Some(format!("exited with code {code}"))),
            other => (TestResult::Failed, Some(other.to_string())),
        };
        log.line(format!("[slipway] test `{test_name}`: {}", reason.as_deref().unwrap_or("passed")));
        let output = outcome.output_tail.clone();
        self.record_test(&test_name, result, started.elapsed(), &output).await?;
        Ok(reason.map(|r| format!("`{test_name}` {r}")))
    }

    async fn record_test(&self, name: &str, result: TestResult, duration: Duration, output: &str) -> StageResult<()> {
        let start = output.len().saturating_sub(OUTPUT_CAP);
        let start = (start..output.len()).find(|i| output.is_char_boundary(*i)).unwrap_or(output.len());
        let row = NewTestResult {
            build_id: self.build.id,
            name: name.to_string(),
            result,
            duration_ms: i64::try_from(duration.as_millis()).unwrap_or(i64::MAX),
            output: output[start..].to_string(),
        };
        self.worker.store.record_test_result(&row).await?;
        Ok(())
    }
}

fn last_line(output: &str) -> &str {
    output.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output").trim()
}
