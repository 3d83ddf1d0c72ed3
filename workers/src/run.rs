//! One build, stage by stage: checkout → [prebuild] → lint → build → push → test → scan → deliver (an image
//! pushed elsewhere skips prebuild, lint and build, and its push copies it by digest). Every
//! stage is recorded with its log; the first failing stage ends the build with a message a maintainer can act
//! on. A retried build (its lease lapsed) resumes: an image already pushed is not built again, and is pulled by
//! digest when this worker's Docker daemon does not have it (the earlier attempt ran on another host).

use std::path::PathBuf;

use slipway_engine::{BuildTags, ProjectSpec};
use slipway_store::{Build, BuildOutcome, BuildState, Project, StageKind, StageState};

use crate::Worker;
use crate::failure::{StageFailure, StageResult};
use crate::log::{LogSink, StageLog};

/// What the stages learn and hand on.
pub(crate) struct BuildRun<'w> {
    pub worker: &'w Worker,
    pub build: Build,
    pub project: Project,
    pub spec: ProjectSpec,
    pub attempt: i32,
    /// The checkout: the repository's files at the built commit.
    pub source: PathBuf,
    pub commit: Option<String>,
    /// The commit's time (unix seconds): the image's `created` label, so an unchanged commit builds the same image.
    pub committed_at: i64,
    pub semver_tags: Vec<String>,
    /// The user test settings after the per-repo cccp file was read.
    pub test_script: Option<String>,
    pub test_skip: bool,
    pub test_timeout_s: Option<u64>,
    /// The digest pushed as the test tag: everything after the push works on it.
    pub digest: Option<String>,
    pub tags: Option<BuildTags>,
    /// The image was pushed by an earlier attempt: build and push are skipped (and the image is pulled by digest
    /// before the tests when this worker's daemon lacks it).
    pub resumed: bool,
    /// An earlier build produced this very digest and scanned it: a scan reads only the image, so it is not
    /// repeated.
    pub scanned_before: Option<i64>,
}

impl<'w> BuildRun<'w> {
    pub fn new(worker: &'w Worker, build: Build, project: Project, attempt: i32) -> Result<Self, StageFailure> {
        let spec = ProjectSpec::of(&project).map_err(|e| {
            StageFailure::errored(format!("the stored project {} is unreadable ({e}); reload the index", project.image))
        })?;
        Ok(BuildRun {
            source: worker.settings.work_dir(build.id).join("src"),
            test_script: spec.test_script.clone(),
            test_skip: spec.test_skip,
            test_timeout_s: spec.test_timeout_s,
            worker,
            build,
            project,
            spec,
            attempt,
            commit: None,
            committed_at: 0,
            semver_tags: Vec::new(),
            digest: None,
            tags: None,
            resumed: false,
            scanned_before: None,
        })
    }

    /// `REGISTRY/app/job`.
    pub fn repository(&self) -> String {
        self.spec.repository_in(&self.worker.settings.registry)
    }

    pub fn tags(&self) -> StageResult<&BuildTags> {
        self.tags.as_ref().ok_or_else(|| StageFailure::errored("the tags are not known before the checkout"))
    }

    pub fn digest(&self) -> StageResult<&str> {
        self.digest.as_deref().ok_or_else(|| StageFailure::errored("no image digest was recorded before this stage"))
    }

    /// Runs every stage and says how the build ended.
    pub async fn execute(mut self) -> BuildOutcome {
        let store = self.worker.store.clone();
        if let Err(err) = store.set_build_started(self.build.id, &self.worker.settings.name).await {
            return outcome(BuildState::Errored, None, format!("the store: {err}"));
        }
        let result = self.stages().await;
        let work = self.worker.settings.work_dir(self.build.id);
        // The checkout is only needed while the build runs.
        let _ = tokio::fs::remove_dir_all(&work).await;
        match result {
            Ok(()) => BuildOutcome { state: BuildState::Succeeded, failed_stage: None, error: None },
            Err((kind, StageFailure::Failed(message))) => outcome(BuildState::Failed, Some(kind), message),
            Err((kind, StageFailure::Errored(message))) => outcome(BuildState::Errored, Some(kind), message),
        }
    }

    async fn stages(&mut self) -> Result<(), (StageKind, StageFailure)> {
        macro_rules! stage {
            ($kind:expr, $method:ident) => {{
                let kind = $kind;
                let (stage_id, log) = self.begin(kind).await.map_err(|e| (kind, e))?;
                let result = self.$method(log.sink()).await;
                self.end(kind, stage_id, log, &result).await.map_err(|e| (kind, e))?;
                result.map_err(|e| (kind, e))?
            }};
        }
        stage!(StageKind::Checkout, checkout);
        // An image pushed elsewhere is tested and delivered, not built: the checkout gives its tests and tags.
        let built_here = self.build.source_image.is_none();
        if built_here && self.spec.prebuild_script.is_some() {
            stage!(StageKind::Prebuild, prebuild);
        }
        self.resumed = self.already_pushed().await;
        if !self.resumed && !built_here {
            stage!(StageKind::Push, import);
        } else if !self.resumed {
            stage!(StageKind::Lint, lint);
            stage!(StageKind::Build, build_image);
            stage!(StageKind::Push, push);
        }
        // Tests and the (advisory) scan only read the pushed image: they run side by side, once this worker's
        // Docker daemon has it (pulled here when an earlier attempt pushed it from another host).
        let (scan_id, scan_log) = self.begin(StageKind::Scan).await.map_err(|e| (StageKind::Scan, e))?;
        let (tested, scanned) = if self.test_skip {
            let scanned = match self.pull_if_missing(scan_log.sink()).await {
                Ok(()) => self.scan(scan_log.sink()).await,
                missing => missing,
            };
            (None, scanned)
        } else {
            let kind = StageKind::Test;
            let (test_id, test_log) = self.begin(kind).await.map_err(|e| (kind, e))?;
            let (tested, scanned) = match self.pull_if_missing(test_log.sink()).await {
                Ok(()) => tokio::join!(self.test(test_log.sink()), self.scan(scan_log.sink())),
                Err(missing) => (Err(missing.clone()), Err(missing)),
            };
            self.end(kind, test_id, test_log, &tested).await.map_err(|e| (kind, e))?;
            (Some(tested), scanned)
        };
        self.end(StageKind::Scan, scan_id, scan_log, &scanned).await.map_err(|e| (StageKind::Scan, e))?;
        if let Some(tested) = tested {
            tested.map_err(|e| (StageKind::Test, e))?;
        }
        scanned.map_err(|e| (StageKind::Scan, e))?;
        stage!(StageKind::Deliver, deliver);
        Ok(())
    }

    async fn begin(&self, kind: StageKind) -> StageResult<(i64, StageLog)> {
        let store = &self.worker.store;
        let stage = store.start_stage(self.build.id, kind).await?;
        let log = StageLog::start(store.clone(), stage.id);
        if self.attempt > 1 {
            log.sink().line(format!("[slipway] attempt {} of this build", self.attempt));
        }
        Ok((stage.id, log))
    }

    async fn end<T>(&self, kind: StageKind, stage_id: i64, log: StageLog, result: &StageResult<T>) -> StageResult<()> {
        let (state, error) = match result {
            Ok(_) => (StageState::Succeeded, None),
            Err(StageFailure::Failed(m)) => (StageState::Failed, Some(m.as_str())),
            Err(StageFailure::Errored(m)) => (StageState::Errored, Some(m.as_str())),
        };
        if let Some(message) = error {
            log.sink().line(format!("[slipway] {kind} {}: {message}", state.as_str()));
        }
        log.close().await?;
        self.worker.store.finish_stage(stage_id, state, error).await?;
        Ok(())
    }

    /// A retried build whose image reached the registry: the digest it recorded still resolves there, and it
    /// came from what this attempt would build (the same commit, or the same image pushed elsewhere).
    async fn already_pushed(&mut self) -> bool {
        let Some(digest) = self.build.digest.clone() else { return false };
        let same_source = match &self.build.source_image {
            Some(source) => source.ends_with(&format!("@{digest}")),
            None => self.build.commit.is_some() && self.build.commit == self.commit,
        };
        if !same_source {
            return false;
        }
        let Ok(reference) = format!("{}@{digest}", self.repository()).parse::<slipway_registry::Reference>() else {
            return false;
        };
        match self.worker.registry.head_manifest(&reference).await {
            Ok(Some(_)) => {
                self.digest = Some(digest);
                true
            }
            _ => false,
        }
    }
}

fn outcome(state: BuildState, failed_stage: Option<StageKind>, error: String) -> BuildOutcome {
    BuildOutcome { state, failed_stage, error: Some(error) }
}

/// Keeps `LogSink` in the signatures of the stage methods honest about where their lines go.
pub(crate) type Log<'a> = &'a LogSink;
