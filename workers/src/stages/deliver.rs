//! deliver: the tested digest is written under `rc`, then under the release tags, manifest only (GET by
//! digest, PUT under the tag): nothing is rebuilt, no layer moves, and no tag is re-resolved. Every tag
//! moved is recorded with the digest it held before. `promotion: manual` stops at rc.

use slipway_registry::Reference;
use slipway_store::{NewPromotion, QaState};

use crate::failure::{StageFailure, StageResult};
use crate::run::{BuildRun, Log};

impl BuildRun<'_> {
    pub(crate) async fn deliver(&mut self, log: Log<'_>) -> StageResult<()> {
        let tags = self.tags()?.clone();
        self.promote("test", "rc", std::slice::from_ref(&tags.rc), QaState::Rc, log).await?;
        if self.spec.manual_promotion() {
            log.line(format!(
                "[slipway] promotion: manual — {}:{} waits for `slipway promote {}`",
                self.repository(),
                tags.rc,
                self.spec.image
            ));
            return Ok(());
        }
        self.promote("rc", "release", &tags.release, QaState::Released, log).await
    }

    async fn promote(&self, from: &str, to: &str, tags: &[String], state: QaState, log: Log<'_>) -> StageResult<()> {
        let digest = self.digest()?.to_string();
        let source: Reference = format!("{}@{digest}", self.repository())
            .parse()
            .map_err(|e| StageFailure::errored(format!("invalid reference: {e}")))?;
        let mut previous = Vec::with_capacity(tags.len());
        for tag in tags {
            previous.push(self.current_digest(tag).await);
        }
        let store = &self.worker.store;
        let image = store.image_of_build(self.build.id).await?;
        let by = format!("build {}#{}", self.spec.image, self.build.number);
        let result = self.worker.registry.tag(&source, tags).await;
        if let Some(image) = &image {
            let promotion = NewPromotion {
                build_id: self.build.id,
                image_id: image.id,
                from_tier: from.into(),
                to_tier: to.into(),
                succeeded: result.is_ok(),
                by: by.clone(),
                error: result.as_ref().err().map(ToString::to_string),
            };
            store.record_promotion(&promotion).await?;
        }
        result.map_err(|e| StageFailure::errored(format!("promoting {digest} to {}: {e}", tags.join(", "))))?;
        for (tag, previous) in tags.iter().zip(previous) {
            match &previous {
                Some(before) if *before == digest => {
                    log.line(format!("[slipway] {}:{tag} already {digest}", self.repository()))
                }
                Some(before) => log.line(format!("[slipway] {}:{tag} {before} -> {digest}", self.repository())),
                None => log.line(format!("[slipway] {}:{tag} -> {digest}", self.repository())),
            }
            self.record_tag(tag, &digest, previous).await?;
        }
        if let Some(image) = image {
            store.set_image_state(image.id, state).await?;
        }
        Ok(())
    }
}
