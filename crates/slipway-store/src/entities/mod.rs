//! sea-orm entities, one per table (schema in the `slipway-migrations` crate). States are text here; the
//! public types in the crate root parse them into enums.

pub(crate) mod api_token;
pub(crate) mod base_image;
pub(crate) mod build;
pub(crate) mod build_parent;
pub(crate) mod finding;
pub(crate) mod image;
pub(crate) mod job;
pub(crate) mod log_chunk;
pub(crate) mod mail_digest;
pub(crate) mod periodic_run;
pub(crate) mod project;
pub(crate) mod project_parent;
pub(crate) mod promotion;
pub(crate) mod registry_event;
pub(crate) mod release_head;
pub(crate) mod repository_lock;
pub(crate) mod schedule;
pub(crate) mod session;
pub(crate) mod stage;
pub(crate) mod tag_drift;
pub(crate) mod tag_event;
pub(crate) mod test_result;
