//! checkout: the project's branch through the worker's cached mirror, then the checks the index could not
//! make: the paths exist inside the repository, and the per-repo cccp file agrees with the index.

use std::path::{Path, PathBuf};
use std::time::Duration;

use slipway_engine::{TagInputs, build_tags};
use slipway_git::{CheckoutRequest, MirrorUse};
use slipway_index::{RepoPath, read_repo_config};

use super::contain::{Kind, resolve_inside, shown};
use crate::failure::{StageFailure, StageResult};
use crate::run::{BuildRun, Log};

const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(10 * 60);

impl BuildRun<'_> {
    pub(crate) async fn checkout(&mut self, log: Log<'_>) -> StageResult<()> {
        let work = self.worker.settings.work_dir(self.build.id);
        if work.exists() {
            tokio::fs::remove_dir_all(&work).await.map_err(|e| io_error(&work, &e))?;
        }
        tokio::fs::create_dir_all(&self.source).await.map_err(|e| io_error(&self.source, &e))?;
        log.line(format!("[slipway] {} branch {}", self.spec.git_url, self.spec.git_branch));

        let mirrors = self.worker.mirrors.clone();
        let (url, branch, dest) = (self.spec.git_url.clone(), self.spec.git_branch.clone(), self.source.clone());
        let mut progress = log.callback();
        let checkout = tokio::task::spawn_blocking(move || {
            let request = CheckoutRequest { url: &url, branch: &branch, dest: &dest, timeout: CHECKOUT_TIMEOUT };
            mirrors.checkout(&request, &mut progress)
        })
        .await
        .map_err(|e| StageFailure::errored(format!("the checkout task stopped: {e}")))?
        .map_err(StageFailure::failed)?;
        match checkout.mirror {
            MirrorUse::Cloned => log.line("[slipway] mirror cloned"),
            MirrorUse::Fetched { changed } => log.line(format!("[slipway] mirror fetched (changed: {changed})")),
        }
        log.line(format!("[slipway] commit {} \"{}\"", checkout.commit, checkout.subject));
        self.worker
            .store
            .set_build_commit(
                self.build.id,
                &checkout.commit,
                &checkout.subject,
                checkout.semver_tags.first().map(String::as_str),
            )
            .await?;

        self.check_paths(log)?;
        self.read_repo_config(log)?;

        let image: slipway_index::ImageRef = self
            .spec
            .image
            .parse()
            .map_err(|e| StageFailure::errored(format!("the stored image {} is invalid: {e}", self.spec.image)))?;
        self.tags = Some(build_tags(&TagInputs {
            image: &image,
            shared_repository: self.spec.shared_repository,
            branch: &self.spec.git_branch,
            commit: &checkout.commit,
            semver_tags: &checkout.semver_tags,
            build_number: self.build.number,
        }));
        self.commit = Some(checkout.commit);
        self.committed_at = checkout.committed_at;
        self.semver_tags = checkout.semver_tags;
        Ok(())
    }

    /// Every path the index names must exist in the checkout and stay inside it, symlinks included.
    fn check_paths(&self, log: Log<'_>) -> StageResult<()> {
        let spec = &self.spec;
        let mut wanted = vec![
            ("git-path", spec.git_path.as_str(), Kind::Dir),
            ("target-file", spec.target_file.as_str(), Kind::File),
            ("build-context", spec.build_context.as_str(), Kind::Dir),
        ];
        if let Some(script) = &spec.prebuild_script {
            wanted.push(("prebuild-script", script, Kind::File));
        }
        if let Some(context) = &spec.prebuild_context {
            wanted.push(("prebuild-context", context, Kind::Dir));
        }
        for (field, path, kind) in wanted {
            inside(&self.source, field, path, kind)?;
        }
        log.line("[slipway] git-path, target-file and build-context found in the repository");
        Ok(())
    }

    /// The per-repo cccp file: its job-id must match the index; its test settings fill what the index left out.
    fn read_repo_config(&mut self, log: Log<'_>) -> StageResult<()> {
        let git_path = RepoPath::root().join(&self.spec.git_path).map_err(StageFailure::failed)?;
        let job_id = self.spec.repository.rsplit('/').next().unwrap_or_default().to_string();
        let config = read_repo_config(&self.source, &git_path, &job_id).map_err(|err| match err {
            slipway_index::RepoConfigError::Invalid { file, diagnostics } => {
                let details: Vec<String> = diagnostics.iter().map(|d| d.to_string()).collect();
                StageFailure::failed(format!("{} is invalid: {}", file.display(), details.join("; ")))
            }
            other => StageFailure::failed(other),
        })?;
        let Some(config) = config else {
            log.line("[slipway] no per-repo cccp file");
            return self.check_test_script();
        };
        log.line(format!("[slipway] read {}", config.file.display()));
        for warning in &config.warnings {
            log.line(format!("warning: {warning}"));
        }
        if self.test_script.is_none() {
            self.test_script = config.test.script.as_ref().map(|s| s.as_str().to_string());
        }
        if let Some(skip) = config.test.skip {
            self.test_skip = self.test_skip || skip;
        }
        if self.test_timeout_s.is_none() {
            self.test_timeout_s = config.test.timeout.map(|t| t.as_secs());
        }
        self.check_test_script()
    }

    fn check_test_script(&self) -> StageResult<()> {
        match &self.test_script {
            Some(script) => inside(&self.source, "test-script", script, Kind::File).map(|_| ()),
            None => Ok(()),
        }
    }
}

/// `relative` under `root`, which must exist as `kind` and resolve (through symlinks) inside `root`.
fn inside(root: &Path, field: &str, relative: &str, kind: Kind) -> StageResult<PathBuf> {
    let root = root.canonicalize().map_err(|e| io_error(root, &e))?;
    resolve_inside(&root, relative, kind).map_err(|problem| {
        StageFailure::failed(format!(
            "{field} `{}` {problem}; {field} must name {kind} inside the repository: fix the index entry or the \
             repository",
            shown(relative)
        ))
    })
}

fn io_error(path: &Path, err: &std::io::Error) -> StageFailure {
    StageFailure::errored(format!("{}: {err}", path.display()))
}
