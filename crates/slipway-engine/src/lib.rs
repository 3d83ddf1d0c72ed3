//! The pipeline's rules: the tag scheme, the build plan, and queuing a plan's builds in the store.

pub mod enqueue;
pub mod plan;
pub mod spec;
pub mod tags;

pub use enqueue::{QueuedBuild, enqueue_plan};
pub use plan::{BuildPlan, PlanError, PlannedBuild, plan_builds};
pub use spec::ProjectSpec;
pub use tags::{BuildTags, TagInputs, build_tags};
