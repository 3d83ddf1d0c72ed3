//! build and push: the image is built once from the checkout and pushed under the test tag; the digest the
//! registry answers is recorded, and every later stage works on that digest.

use std::collections::BTreeMap;

use slipway_docker::{BuildError, BuildSpec, Builder, PushError, pack_context};
use slipway_registry::Reference;
use slipway_store::{NewImage, NewTagEvent, QaState};

use crate::failure::{StageFailure, StageResult};
use crate::run::{BuildRun, Log};

impl BuildRun<'_> {
    pub(crate) async fn build_image(&mut self, log: Log<'_>) -> StageResult<()> {
        let settings = &self.worker.settings;
        let context_dir = self.source.join(&self.spec.build_context);
        let text = self.dockerfile_text().await?;
        self.check_dockerfile(&text, log).await?;
        let dockerfile = self.scoped_dockerfile(&text).await?;
        let secrets = self.build_secrets()?;
        let root = self.source.clone();
        let context = tokio::task::spawn_blocking(move || pack_context(&root, &context_dir, &dockerfile))
            .await
            .map_err(|e| StageFailure::errored(format!("the context task stopped: {e}")))?
            .map_err(StageFailure::failed)?;
        let parents = self.refresh_parents(log).await;
        let bases: Vec<String> =
            slipway_docker::base_images(&text).into_iter().filter(|image| !parents.contains(image)).collect();
        self.refresh_bases(&bases, log).await;
        let tag = format!("{}:{}", self.repository(), self.tags()?.test);
        let docker = &self.worker.docker;
        log.line(format!("[slipway] engine: {} at {}", docker.engine(), docker.endpoint()));
        // BuildKit where the engine has it; otherwise its compatible build API, and the log says why.
        let builder = match settings.builder {
            Builder::BuildKit if !docker.engine().supports_buildkit() => {
                if let Some(note) = docker.engine().build_note() {
                    log.line(format!("[slipway] {note}"));
                }
                Builder::Classic
            }
            builder => builder,
        };
        log.line(format!(
            "[slipway] building {tag} from /{} (context /{}{}) with {builder}",
            self.spec.target_file,
            self.spec.build_context,
            self.spec.build_target.as_ref().map(|t| format!(", stage {t}")).unwrap_or_default(),
        ));
        let mut spec = BuildSpec::new(context, tag);
        spec.builder = builder;
        spec.labels = self.labels();
        spec.target = self.spec.build_target.clone();
        spec.secrets = secrets;
        spec.syntax = slipway_docker::syntax_directive(&text);
        spec.build_args = self.spec.build_args.clone();
        spec.network_mode = self.build_network().docker_mode();
        spec.timeout = settings.build_timeout;
        spec.memory_bytes = settings.build_memory_bytes;
        spec.step_limits = Some(settings.step_limits());
        let built = docker.build(&spec, &mut log.callback()).await;
        if settings.build_cache_bytes > 0 && spec.builder == Builder::BuildKit {
            prune_build_cache_soon(docker, settings.build_cache_bytes);
        }
        match built {
            Ok(built) => {
                log.line(format!("[slipway] built image {}", built.id));
                self.record_bases(&bases, log).await
            }
            Err(err @ BuildError::Docker(_)) => Err(StageFailure::errored(err)),
            Err(err) => Err(StageFailure::failed(err)),
        }
    }

    /// Pulls each index parent's delivered image, so a `FROM` of it never builds on a stale local copy; the
    /// parents' references.
    async fn refresh_parents(&self, log: Log<'_>) -> Vec<String> {
        let mut images = Vec::new();
        for parent in &self.spec.depends_on {
            let Some((name, tag)) = parent.rsplit_once(':') else { continue };
            let repository = name.strip_prefix("library/").unwrap_or(name);
            let image = format!("{}/{repository}:{tag}", self.worker.settings.registry);
            log.line(format!("[slipway] pulling the parent image {image}"));
            self.pull_or_say(&image, log).await;
            images.push(image);
        }
        images
    }

    /// Pulls the external bases that name a registry, so a base that changed there is built on (and a
    /// base-image rebuild builds on the new one).
    async fn refresh_bases(&self, bases: &[String], log: Log<'_>) {
        for image in bases.iter().filter(|image| slipway_oci_name::names_registry(image)) {
            log.line(format!("[slipway] pulling the base image {image}"));
            self.pull_or_say(image, log).await;
        }
    }

    pub(crate) async fn pull_or_say(&self, image: &str, log: Log<'_>) {
        let auth = self.pull_auth(image);
        if let Err(err) = self.worker.docker.pull_with_auth(image, auth.as_ref(), &mut log.callback()).await {
            // It may be local only; the build says if it is missing.
            log.line(format!("[slipway] {err}"));
        }
    }

    /// Records the digest of each external base the image was built on, for the base-image check.
    async fn record_bases(&self, bases: &[String], log: Log<'_>) -> StageResult<()> {
        let mut digests = Vec::new();
        for image in bases {
            match self.worker.docker.image_digest(image).await {
                Ok(Some(digest)) => {
                    log.line(format!("[slipway] base image {image} is {digest}"));
                    digests.push((image.clone(), digest));
                }
                Ok(None) => log.line(format!("[slipway] base image {image} is not in the daemon; not watched")),
                Err(err) => log.line(format!("[slipway] base image {image}: {err}; not watched")),
            }
        }
        self.worker.store.record_base_images(self.project.id, &digests).await?;
        Ok(())
    }

    async fn dockerfile_text(&self) -> StageResult<String> {
        let original = self.source.join(&self.spec.target_file);
        tokio::fs::read_to_string(&original)
            .await
            .map_err(|e| StageFailure::failed(format!("cannot read /{}: {e}", self.spec.target_file)))
    }

    /// The Dockerfile to build: the project's own, or, when it has cache mounts, a copy beside the checkout
    /// (outside the context) whose cache ids are this project's alone.
    async fn scoped_dockerfile(&self, text: &str) -> StageResult<std::path::PathBuf> {
        let original = self.source.join(&self.spec.target_file);
        let scope = format!("slipway/{}", self.repository());
        let Some(scoped) = slipway_docker::scope_cache_mounts(text, &scope) else { return Ok(original) };
        let path = self.worker.settings.work_dir(self.build.id).join("Dockerfile.slipway");
        tokio::fs::write(&path, scoped).await.map_err(|e| StageFailure::errored(format!("{}: {e}", path.display())))?;
        Ok(path)
    }

    /// The values of the secrets the index entry names; one without a value in the configuration fails the
    /// build before it starts (the step would fail later, less clearly).
    fn build_secrets(&self) -> StageResult<BTreeMap<String, String>> {
        let configured = &self.worker.settings.build_secrets;
        let mut secrets = BTreeMap::new();
        for name in &self.spec.build_secrets {
            let value = configured.get(name).ok_or_else(|| {
                StageFailure::failed(format!(
                    "build secret `{name}` is named in the index's build-secrets but has no value in this \
                     worker's configuration; ask the operator to set [build_secrets] {name}"
                ))
            })?;
            secrets.insert(name.clone(), value.clone());
        }
        Ok(secrets)
    }

    /// The OCI annotations, given to the builder through the API. `created` is the commit's time, so an
    /// unchanged commit rebuilds from the layer cache.
    fn labels(&self) -> BTreeMap<String, String> {
        let created = chrono::DateTime::from_timestamp(self.committed_at, 0).unwrap_or_default();
        let mut labels = BTreeMap::new();
        let mut put = |key: &str, value: String| labels.insert(format!("org.opencontainers.image.{key}"), value);
        put("source", self.spec.git_url.clone());
        put("revision", self.commit.clone().unwrap_or_default());
        put("created", created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        put("title", self.spec.image.clone());
        put("version", self.semver_tags.first().cloned().unwrap_or_else(|| self.spec.desired_tag.clone()));
        labels
    }

    pub(crate) async fn push(&mut self, log: Log<'_>) -> StageResult<()> {
        let repository = self.repository();
        let test_tag = self.tags()?.test.clone();
        let previous = self.current_digest(&test_tag).await;
        let _slot = self.worker.settings.registry_slot(&mut |line| log.line(line)).await;
        log.line(format!("[slipway] pushing {repository}:{test_tag}"));
        let auth = self.worker.docker_auth(&repository);
        let pushed =
            self.worker.docker.push_with_auth(&repository, &test_tag, auth.as_ref(), &mut log.callback()).await;
        let digest = match pushed {
            Ok(digest) => digest,
            Err(err @ PushError::Unreachable { .. }) => return Err(StageFailure::errored(err)),
            Err(err) => return Err(StageFailure::failed(err)),
        };
        log.line(format!("[slipway] {repository}:{test_tag} is {digest}"));
        self.record_pushed(digest, previous).await
    }

    /// A pipeline without a build: the image pushed elsewhere (the build's `source_image`) is copied by digest
    /// to the test tag (layers mounted, not re-uploaded), then tested and delivered like a built one.
    pub(crate) async fn import(&mut self, log: Log<'_>) -> StageResult<()> {
        let source = self.build.source_image.clone().unwrap_or_default();
        let source: Reference =
            source.parse().map_err(|e| StageFailure::errored(format!("the build's source image `{source}`: {e}")))?;
        let repository = self.repository();
        let test_tag = self.tags()?.test.clone();
        let target: Reference = format!("{repository}:{test_tag}")
            .parse()
            .map_err(|e| StageFailure::errored(format!("{repository}:{test_tag}: {e}")))?;
        let previous = self.current_digest(&test_tag).await;
        let _slot = self.worker.settings.registry_slot(&mut |line| log.line(line)).await;
        log.line(format!("[slipway] not built here: {source} was pushed elsewhere; copying it to {target}"));
        let copied = self.worker.registry.copy(&source, &target).await.map_err(|err| {
            if err.is_not_found() {
                StageFailure::failed(format!("{source} is no longer in the registry ({err}); push it again"))
            } else {
                StageFailure::errored(format!("copying {source} to {target}: {err}"))
            }
        })?;
        let digest = copied.digest.map(|d| d.to_string()).unwrap_or_default();
        log.line(format!(
            "[slipway] {target} is {digest} ({} blobs already there, {} mounted, {} copied)",
            copied.blobs_present, copied.blobs_mounted, copied.blobs_streamed
        ));
        // The tests run it from the local daemon, as they do an image built here.
        let by_digest = format!("{repository}@{digest}");
        log.line(format!("[slipway] pulling {by_digest} for the tests"));
        self.pull_by_digest(&by_digest, log).await?;
        self.record_pushed(digest, previous).await
    }

    /// A resumed build whose image an earlier attempt pushed from another worker's Docker daemon: pulls that
    /// digest into this one (with the registry's credentials), so the tests and the scan run on what was pushed.
    pub(crate) async fn pull_if_missing(&self, log: Log<'_>) -> StageResult<()> {
        if !self.resumed {
            return Ok(());
        }
        let by_digest = format!("{}@{}", self.repository(), self.digest()?);
        match self.worker.docker.image_digest(&by_digest).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => {
                log.line(format!(
                    "[slipway] {by_digest} was pushed by an earlier attempt and this worker's Docker daemon does \
                     not have it; pulling it by digest"
                ));
                self.pull_by_digest(&by_digest, log).await
            }
            Err(err) => Err(StageFailure::errored(format!("Docker: {err}"))),
        }
    }

    /// `docker pull REPOSITORY@DIGEST` with the registry's credentials; a failure is Slipway's (the image is
    /// in the registry).
    async fn pull_by_digest(&self, by_digest: &str, log: Log<'_>) -> StageResult<()> {
        let auth = self.worker.docker_auth(by_digest);
        let pulled = self.worker.docker.pull_with_auth(by_digest, auth.as_ref(), &mut log.callback()).await;
        pulled.map_err(StageFailure::errored)
    }

    /// The digest now under the test tag: recorded on the build, as an image, and in the tag history.
    async fn record_pushed(&mut self, digest: String, previous: Option<String>) -> StageResult<()> {
        let repository = self.repository();
        let test_tag = self.tags()?.test.clone();
        let store = &self.worker.store;
        store.set_build_digest(self.build.id, &digest).await?;
        if let Some(earlier) = store.image_by_digest(&repository, &digest).await?
            && earlier.build_id != self.build.id
            && matches!(earlier.qa_state, QaState::Rc | QaState::Released)
        {
            self.scanned_before = Some(earlier.build_id);
        }
        let image = NewImage {
            project_id: self.project.id,
            build_id: self.build.id,
            repository: repository.clone(),
            digest: digest.clone(),
            qa_state: QaState::Built,
        };
        store.record_image(&image).await?;
        self.record_tag(&test_tag, &digest, previous).await?;
        self.digest = Some(digest);
        Ok(())
    }

    /// The digest `tag` points to now, if any (for the tag history).
    pub(crate) async fn current_digest(&self, tag: &str) -> Option<String> {
        slipway_engine::current_digest(&self.worker.registry, &self.repository(), tag).await
    }

    pub(crate) async fn record_tag(&self, tag: &str, digest: &str, previous: Option<String>) -> StageResult<()> {
        let event = NewTagEvent {
            registry: self.worker.settings.registry.clone(),
            repository: self.repository(),
            tag: tag.to_string(),
            digest: digest.to_string(),
            previous_digest: previous,
            by: format!("build {}#{}", self.spec.image, self.build.number),
            build_id: Some(self.build.id),
        };
        self.worker.store.record_tag_event(&event).await?;
        Ok(())
    }
}

/// Prunes the daemon's build cache to `keep_bytes` in the background, at most once a minute per process: a
/// prune takes a few hundred milliseconds that no build should wait for.
fn prune_build_cache_soon(docker: &slipway_docker::Docker, keep_bytes: u64) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let last = LAST.load(Ordering::Relaxed);
    if now.saturating_sub(last) < 60 || LAST.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_err()
    {
        return;
    }
    let docker = docker.clone();
    tokio::spawn(async move {
        if let Err(err) = docker.prune_build_cache(keep_bytes).await {
            tracing::warn!(error = %err, "could not prune the build cache");
        }
    });
}
