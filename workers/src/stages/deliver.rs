//! deliver: the tested digest is written under `rc`, then under the release tags, manifest only (GET by
//! digest, PUT under the tag): nothing is rebuilt, no layer moves, and no tag is re-resolved. Every tag
//! moved is recorded with the digest it held before. `promotion: manual` stops at rc. The engine's
//! [`promote`] keeps the release order: when a newer build of the project already holds a tier, this build's
//! image is not delivered (it passed its tests; the log says which build superseded it).

use slipway_engine::{MovedTag, PromoteError, Promoted, Promotion, promote};
use slipway_store::{QaState, Tier};

use crate::failure::{StageFailure, StageResult};
use crate::run::{BuildRun, Log};

impl BuildRun<'_> {
    pub(crate) async fn deliver(&mut self, log: Log<'_>) -> StageResult<()> {
        let tags = self.tags()?.clone();
        if self.promote("test", Tier::Rc, std::slice::from_ref(&tags.rc), QaState::Rc, log).await? == Delivered::No {
            return Ok(());
        }
        if self.spec.manual_promotion() {
            log.line(format!(
                "[slipway] promotion: manual — {}:{} waits for `slipway promote {}`",
                self.repository(),
                tags.rc,
                self.spec.image
            ));
            return Ok(());
        }
        self.promote("rc", Tier::Release, &tags.release, QaState::Released, log).await.map(drop)
    }

    async fn promote(
        &self,
        from: &str,
        tier: Tier,
        tags: &[String],
        state: QaState,
        log: Log<'_>,
    ) -> StageResult<Delivered> {
        let digest = self.digest()?.to_string();
        let repository = self.repository();
        let by = format!("build {}#{}", self.spec.image, self.build.number);
        let promotion = Promotion {
            registry: &self.worker.settings.registry,
            repository: &repository,
            digest: &digest,
            tags,
            from_tier: from,
            tier,
            build_id: self.build.id,
            by: &by,
            qa_state: state,
            forced: false,
        };
        let slot = self.worker.settings.registry_slot(&mut |line| log.line(line)).await;
        let promoted = promote(&self.worker.store, &self.worker.registry, &promotion).await;
        drop(slot);
        let Promoted { moved, cascade, .. } = match promoted {
            Ok(promoted) => promoted,
            Err(superseded @ PromoteError::Superseded { .. }) => {
                log.line(format!("[slipway] not delivered: {superseded}"));
                return Ok(Delivered::No);
            }
            Err(PromoteError::Store(e)) => return Err(StageFailure::from(e)),
            Err(other) => return Err(StageFailure::errored(other.to_string())),
        };
        for MovedTag { tag, previous } in moved {
            match previous {
                Some(before) if before == digest => log.line(format!("[slipway] {repository}:{tag} already {digest}")),
                Some(before) => log.line(format!("[slipway] {repository}:{tag} {before} -> {digest}")),
                None => log.line(format!("[slipway] {repository}:{tag} -> {digest}")),
            }
        }
        log_cascade(log, &cascade);
        Ok(Delivered::Yes)
    }
}

/// Whether a promotion moved the tags, or a newer build of the project already holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivered {
    Yes,
    No,
}

/// "[slipway]   demo/web:latest #4 queued", one line per project built on this image.
fn log_cascade(log: Log<'_>, cascade: &[slipway_store::Requested]) {
    if cascade.is_empty() {
        return;
    }
    log.line(format!("[slipway] cascade: {} build(s) of the projects built on this image", cascade.len()));
    for requested in cascade {
        let how = if requested.merged { "joined the build already queued" } else { "queued" };
        log.line(format!("[slipway]   {} #{} {how}", requested.image, requested.build.number));
    }
}
