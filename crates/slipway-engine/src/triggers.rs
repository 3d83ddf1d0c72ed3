//! Why a build runs. Every trigger becomes a cause in words (shown in the UI, the API, the CLI and mail) and a
//! priority: a maintainer's push or a manual build is never starved by a cascade over hundreds of images or
//! by the weekly schedule (manual > branch moved > index changed > cascade > schedule).

use slipway_store::{NewBuild, Requested, Store, StoreError};

use crate::cascade::ProjectGraph;

/// Attempts a triggered build gets before a lapsed lease errors it with "worker lost".
pub const TRIGGERED_MAX_ATTEMPTS: i32 = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// Someone asked: the CLI, the API or the UI, with who.
    Manual { by: String },
    /// The branch the project builds from points to a new commit.
    BranchMoved { branch: String, commit: String },
    /// The project's index entry changed.
    IndexChanged,
    /// The project is new to the index.
    FirstBuild,
    /// An external base image (a `FROM` outside the index) has a new digest.
    BaseImageChanged { image: String, digest: String },
    /// A parent (`depends-on`) delivered a new digest; `through` is the nearest parent rebuilt in the same
    /// cascade when the delivered one is a farther ancestor.
    ParentDelivered { parent: String, digest: String, through: Option<String> },
    /// The project's schedule (or the default one) came round.
    Schedule { schedule: String },
    /// An image built elsewhere was pushed to `repository:tag` (`REGISTRY/name`) and a registry-event rule
    /// has the project test and deliver it.
    ImagePushed { repository: String, tag: String, digest: String },
}

/// Builds a run of `slipway run` queues; the other triggers rank around it.
pub const MANUAL_PRIORITY: i32 = 100;

impl Trigger {
    /// Higher runs first.
    pub fn priority(&self) -> i32 {
        match self {
            Trigger::Manual { .. } => MANUAL_PRIORITY,
            Trigger::BranchMoved { .. } | Trigger::ImagePushed { .. } => 80,
            Trigger::IndexChanged | Trigger::FirstBuild => 60,
            Trigger::BaseImageChanged { .. } | Trigger::ParentDelivered { .. } => 40,
            Trigger::Schedule { .. } => 10,
        }
    }

    /// The cause as people read it.
    pub fn cause(&self) -> String {
        match self {
            Trigger::Manual { by } => format!("manual: asked by {by}"),
            Trigger::BranchMoved { branch, commit } => format!("branch {branch} moved to {}", short(commit, 12)),
            Trigger::IndexChanged => "index entry changed".into(),
            Trigger::FirstBuild => "first build".into(),
            Trigger::BaseImageChanged { image, digest } => {
                format!("base image {image} changed to {}", short(digest, 19))
            }
            Trigger::ParentDelivered { parent, digest, through: None } => {
                format!("parent {parent} delivered {}", short(digest, 19))
            }
            Trigger::ParentDelivered { parent, digest, through: Some(through) } => {
                format!("ancestor {parent} delivered {}, rebuilt through {through}", short(digest, 19))
            }
            Trigger::Schedule { schedule } => format!("{SCHEDULE_CAUSE}{schedule}"),
            Trigger::ImagePushed { repository, tag, digest } => {
                format!("image {repository}:{tag} pushed as {}", short(digest, 19))
            }
        }
    }

    /// The image the build tests and delivers instead of building one, `REGISTRY/name@sha256:…`.
    pub fn source_image(&self) -> Option<String> {
        match self {
            Trigger::ImagePushed { repository, digest, .. } => Some(format!("{repository}@{digest}")),
            _ => None,
        }
    }
}

/// How a scheduled build's cause begins.
const SCHEDULE_CAUSE: &str = "schedule: ";

/// The build ran only because its schedule came round (its success goes in the weekly digest, not a mail).
pub fn only_scheduled(causes: &[String]) -> bool {
    !causes.is_empty() && causes.iter().all(|c| c.starts_with(SCHEDULE_CAUSE))
}

/// `sha256:0123456789abcdef…` cut to `len` characters.
fn short(text: &str, len: usize) -> &str {
    text.char_indices().nth(len).map_or(text, |(at, _)| &text[..at])
}

/// Asks for a build of `project_id` for `trigger`, waiting for `parents` (builds): a new build, or the
/// project's queued build with the cause added. It also waits for every queued or running build of a project
/// it builds on: built now, it would build on the old parent and again when the parent delivers, so it is
/// built once, after them (and skipped with the reason if one of them fails).
pub async fn request(
    store: &Store,
    project_id: i64,
    trigger: &Trigger,
    parents: Vec<i64>,
) -> Result<Requested, StoreError> {
    let graph = ProjectGraph::new(store.project_graph().await?);
    request_in(store, &graph, project_id, trigger, parents).await
}

/// [`request`] on a graph already read (a cascade asks for many builds at once).
pub async fn request_in(
    store: &Store,
    graph: &ProjectGraph,
    project_id: i64,
    trigger: &Trigger,
    mut parents: Vec<i64>,
) -> Result<Requested, StoreError> {
    if let Some(node) = graph.node_of_project(project_id) {
        let ancestors: Vec<i64> = graph.ancestors(node).into_iter().map(|n| graph.project(n).id).collect();
        if !ancestors.is_empty() {
            parents.extend(store.unfinished_builds(&ancestors).await?.into_iter().map(|b| b.id));
        }
    }
    store
        .request_build(&NewBuild {
            project_id,
            causes: vec![trigger.cause()],
            parents,
            priority: trigger.priority(),
            max_attempts: TRIGGERED_MAX_ATTEMPTS,
            source_image: trigger.source_image(),
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_put_people_before_cascades_and_schedules() {
        let manual = Trigger::Manual { by: "alice".into() };
        let push = Trigger::BranchMoved { branch: "main".into(), commit: "0123456789abcdef".into() };
        let cascade = Trigger::ParentDelivered { parent: "a/b:1".into(), digest: "sha256:00".into(), through: None };
        let weekly = Trigger::Schedule { schedule: "weekly".into() };
        assert!(manual.priority() > push.priority());
        assert!(push.priority() > cascade.priority());
        assert!(cascade.priority() > weekly.priority());
    }

    #[test]
    fn causes_read_as_sentences() {
        let digest = "sha256:0123456789abcdef0123456789abcdef";
        assert_eq!(Trigger::Manual { by: "alice".into() }.cause(), "manual: asked by alice");
        assert_eq!(
            Trigger::BranchMoved { branch: "main".into(), commit: "0123456789abcdef".into() }.cause(),
            "branch main moved to 0123456789ab"
        );
        assert_eq!(
            Trigger::ParentDelivered { parent: "demo/base:latest".into(), digest: digest.into(), through: None }
                .cause(),
            "parent demo/base:latest delivered sha256:0123456789ab"
        );
        assert_eq!(
            Trigger::ParentDelivered {
                parent: "demo/base:latest".into(),
                digest: digest.into(),
                through: Some("demo/mid:latest".into())
            }
            .cause(),
            "ancestor demo/base:latest delivered sha256:0123456789ab, rebuilt through demo/mid:latest"
        );
        assert_eq!(Trigger::Schedule { schedule: "weekly".into() }.cause(), "schedule: weekly");
        assert_eq!(short("é1", 1), "é");
    }
}
