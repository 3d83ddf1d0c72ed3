//! scan, advisory: what a maintainer should know about the delivered image. Pending package updates where
//! the package manager can tell offline, outdated language packages where those tools exist, `rpm -Va` on
//! rpm images, and privileged flags in the `RUN`/`usage` labels. A scanner never fails the build.

use std::time::Duration;

use slipway_docker::{SandboxSpec, StopReason};
use slipway_store::{NewFinding, Severity, StageKind};

use crate::failure::StageResult;
use crate::run::{BuildRun, Log};

/// One shell script, so one container: each check prints `slipway-scan <check> <status>` and its output.
const SCAN_SCRIPT: &str = r#"
check() { name=$1; shift; if command -v "$1" >/dev/null 2>&1; then echo "slipway-scan $name available"; "$@" 2>&1 | head -n 200; else echo "slipway-scan $name not-available"; fi; }
check apk apk version -l '<'
check apt apt list --upgradable
check dnf dnf -q --cacheonly check-update
check yum yum -q -C check-update
check rpm rpm -Va
check pip pip list --outdated --disable-pip-version-check
check npm npm outdated -g
check gem gem outdated --local
"#;

const PRIVILEGED: [&str; 5] = ["--privileged", "--net=host", "--pid=host", "/var/run/docker.sock", "--cap-add"];

impl BuildRun<'_> {
    pub(crate) async fn scan(&self, log: Log<'_>) -> StageResult<()> {
        let image = format!("{}@{}", self.repository(), self.digest()?);
        if let Some(build_id) = self.scanned_before {
            // The scan reads nothing but the image (no network), so the same digest gives the same findings.
            log.line(format!(
                "[slipway] {image} is the image an earlier build (id {build_id}) already scanned; not scanned again"
            ));
            return Ok(());
        }
        self.scan_labels(&image, log).await?;
        let spec = SandboxSpec {
            entrypoint: Some(vec!["/bin/sh".into(), "-c".into()]),
            cmd: Some(vec![SCAN_SCRIPT.into()]),
            user: Some("0".into()),
            timeout: Duration::from_secs(120),
            limits: self.worker.settings.limits,
            read_only_root: true,
            tmpfs: vec![("/tmp".into(), "rw,size=64m".into())],
            ..SandboxSpec::new(&image)
        };
        // Advisory: a scan that cannot run is reported, never a failure.
        match self.worker.docker.run(&spec, &mut log.callback()).await {
            Ok(outcome) if matches!(outcome.stop, StopReason::Exited(_)) => {}
            Ok(outcome) => log.line(format!("[slipway] scan stopped: {}; results are partial", outcome.stop)),
            Err(err) => log.line(format!("[slipway] scan not available for this image: {err}")),
        }
        Ok(())
    }

    async fn scan_labels(&self, image: &str, log: Log<'_>) -> StageResult<()> {
        let config = match self.worker.docker.image_config(image).await {
            Ok(config) => config,
            Err(err) => {
                log.line(format!("[slipway] cannot read the image's labels: {err}"));
                return Ok(());
            }
        };
        for key in ["RUN", "run", "usage", "USAGE"] {
            let Some(value) = config.labels.get(key) else { continue };
            for flag in PRIVILEGED.iter().filter(|f| value.contains(*f)) {
                let message = format!("label `{key}` asks for `{flag}`: the image expects privileges");
                log.line(format!("warning[privileged-label]: {message}"));
                let finding = NewFinding {
                    build_id: self.build.id,
                    stage: StageKind::Scan,
                    severity: Severity::Warning,
                    code: "privileged-label".into(),
                    line: None,
                    message,
                };
                self.worker.store.record_finding(&finding).await?;
            }
        }
        Ok(())
    }
}
