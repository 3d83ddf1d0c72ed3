//! The pipeline's rules: the tag scheme, the build plan, queuing a plan's builds in the store, and promotion.

pub mod enqueue;
pub mod plan;
pub mod promote;
pub mod release;
pub mod spec;
pub mod tags;

pub use enqueue::{MANUAL_PRIORITY, QueuedBuild, enqueue_first_builds, enqueue_plan};
pub use plan::{BuildPlan, PlanError, PlannedBuild, plan_builds};
pub use promote::{MovedTag, PromoteError, Promotion, current_digest, promote};
pub use release::{ReleaseError, Released, release_build};
pub use spec::ProjectSpec;
pub use tags::{BuildTags, TagInputs, build_tags};
