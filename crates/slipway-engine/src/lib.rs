//! The pipeline's rules: the tag scheme, the build plan, queuing a plan's builds in the store, promotion,
//! triggers, the cascade a delivered parent starts, the tag check (drift between the store and the registry), and
//! what a build may reach: its network and the images it may build on with Slipway's credentials.

pub mod base_access;
pub mod base_images;
pub mod branches;
pub mod cascade;
pub mod cron;
pub mod digest;
pub mod drift;
pub mod enqueue;
pub mod events;
pub mod lifecycle;
pub mod network;
pub mod notify;
pub mod plan;
pub mod promote;
pub mod registry_events;
pub mod release;
pub mod reload;
pub mod repository_lock;
pub mod retention;
pub mod schedule;
pub mod signature;
pub mod spec;
pub mod tags;
pub mod triggers;

pub use base_access::{BaseAccess, BaseImageRule, BaseImagesRefused, NamedImage, Refusal};
pub use base_images::{BaseImageReport, check_base_images};
pub use branches::{PollReport, poll_branches};
pub use cascade::{ProjectGraph, queue_cascade};
pub use digest::{DigestReport, digest_period, digest_round};
pub use drift::{Drift, DriftReport, Outcome, Repair, RepairError, TagCheck, check_tags, repair_tags, tag_check_round};
pub use enqueue::{QueuedBuild, enqueue_plan};
pub use events::{AnnounceReport, EventHookError, EventHooks, announce_round};
pub use lifecycle::{LifecycleError, Revocation, Rollback, TagChange, revoke, rollback};
pub use network::BuildNetworkMode;
pub use notify::{Mail, MailError, MailKind, Mailer, NotifyReport, notify_round};
pub use plan::{BuildPlan, PlanError, PlannedBuild, plan_builds};
pub use promote::{MovedTag, PromoteError, Promoted, Promotion, current_digest, promote, tag_digest};
pub use registry_events::{EventOutcome, EventRule, EventRules, RegistryEventError, RuleError, handle_notification};
pub use release::{ReleaseError, Released, release_build, release_set};
pub use reload::{ReloadReport, reload_index};
pub use repository_lock::{LockError, RepositoryLock};
pub use retention::{GcPlan, GcReport, RetentionPolicy, TagToDrop, plan_gc, retention_round, run_gc};
pub use schedule::{Schedule, ScheduleReport, run_schedules};
pub use signature::{constant_time_eq, hmac_sha256_hex};
pub use spec::ProjectSpec;
pub use tags::{BuildTags, TagInputs, build_tags};
pub use triggers::{MANUAL_PRIORITY, TRIGGERED_MAX_ATTEMPTS, Trigger, request, request_in};
