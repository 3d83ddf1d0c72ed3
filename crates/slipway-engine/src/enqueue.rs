//! Turning a build plan into queued builds: every planned project is recorded (with the index file and line it
//! came from) and gets a build whose job waits for its parents' builds in the same plan.

use slipway_store::{Build, NewBuild, Store, StoreError};

use crate::plan::BuildPlan;
use crate::spec::ProjectSpec;
use crate::triggers::MANUAL_PRIORITY;

#[derive(Debug, Clone)]
pub struct QueuedBuild {
    pub image: String,
    pub build: Build,
}

/// Records the plan's projects and queues one build each, parents first, with `cause`.
pub async fn enqueue_plan(
    store: &Store,
    plan: &BuildPlan<'_>,
    cause: &str,
    max_attempts: i32,
) -> Result<Vec<QueuedBuild>, StoreError> {
    // By plan position: the build queued for that entry, if any.
    let mut queued: Vec<Option<QueuedBuild>> = Vec::with_capacity(plan.builds.len());
    for planned in &plan.builds {
        let Some(project) = &planned.entry.project else {
            queued.push(None);
            continue;
        };
        let spec = ProjectSpec::new(project, planned.shared_repository);
        let record = spec.record(project, &planned.entry.origin);
        let stored = store.upsert_project(&record).await?;
        let parents = planned
            .parents
            .iter()
            .filter_map(|p| queued.get(*p).and_then(Option::as_ref).map(|q| q.build.id))
            .collect();
        let build = store
            .create_build(&NewBuild {
                project_id: stored.id,
                causes: vec![cause.to_string()],
                parents,
                priority: MANUAL_PRIORITY,
                max_attempts,
                source_image: None,
            })
            .await?;
        queued.push(Some(QueuedBuild { image: spec.image, build }));
    }
    Ok(queued.into_iter().flatten().collect())
}
