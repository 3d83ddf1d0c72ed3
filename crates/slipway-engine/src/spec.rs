//! What a worker needs to know of a project, stored with the project row so a worker on any host builds
//! exactly what the index said when the build was queued.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use slipway_index::{BuildNetwork, NotifyOn, Origin, Project, Promotion};
use slipway_store::NewProject;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectSpec {
    /// `app/job:tag`.
    pub image: String,
    /// The repository path in the registry (`app/job`, or `job` for app-id `library`).
    pub repository: String,
    pub desired_tag: String,
    pub git_url: String,
    pub git_branch: String,
    /// Repository-relative paths, normalised, `""` for the root.
    pub git_path: String,
    pub target_file: String,
    pub build_context: String,
    pub depends_on: Vec<String>,
    pub notify_email: String,
    pub notify_on: String,
    pub prebuild_script: Option<String>,
    pub prebuild_context: Option<String>,
    pub build_args: BTreeMap<String, String>,
    // Left out of the stored entry when unset, so an upgrade does not see every project as changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_target: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub build_secrets: Vec<String>,
    pub test_script: Option<String>,
    pub test_skip: bool,
    pub test_timeout_s: Option<u64>,
    /// `start-grace` in milliseconds; none: 5 s, or 1 s for an image with ports or a healthcheck.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_grace_ms: Option<u64>,
    /// `auto` or `manual`.
    pub promotion: String,
    /// The entry's `schedule` (cron, UTC); none means the default weekly rebuild.
    #[serde(default)]
    pub schedule: Option<String>,
    pub shared_repository: bool,
    /// The entry's `build-network`; none: the configuration's (see [`ProjectSpec::build_network`]). Left out of
    /// the stored entry when unset, so projects stored before the field existed do not look changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_network: Option<BuildNetwork>,
    /// The entry's own retention (`keep-candidates`, `keep-days`, `rollback-window`), over the configuration's.
    #[serde(default)]
    pub retention: SpecRetention,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SpecRetention {
    pub keep_candidates: Option<u32>,
    pub keep_days: Option<u32>,
    pub rollback_window: Option<u32>,
}

impl ProjectSpec {
    pub fn new(project: &Project, shared_repository: bool) -> Self {
        ProjectSpec {
            image: project.image.key(),
            repository: project.image.repository(),
            desired_tag: project.image.tag().to_string(),
            git_url: project.git_url.clone(),
            git_branch: project.git_branch.clone(),
            git_path: project.git_path.as_str().to_string(),
            target_file: project.target_file.as_str().to_string(),
            build_context: project.build_context.as_str().to_string(),
            depends_on: project.depends_on.iter().map(|p| p.image.key()).collect(),
            notify_email: project.notify_email.clone(),
            notify_on: match project.notify_on {
                NotifyOn::Failure => "failure",
                NotifyOn::Always => "always",
                NotifyOn::Never => "never",
            }
            .to_string(),
            prebuild_script: project.prebuild.as_ref().map(|p| p.script.as_str().to_string()),
            prebuild_context: project.prebuild.as_ref().map(|p| p.context.as_str().to_string()),
            build_args: project.build_args.clone(),
            build_target: project.build_target.clone(),
            build_secrets: project.build_secrets.clone(),
            test_script: project.test.script.as_ref().map(|s| s.as_str().to_string()),
            test_skip: project.test.skip.unwrap_or(false),
            test_timeout_s: project.test.timeout.map(|t| t.as_secs()),
            start_grace_ms: project.test.start_grace.map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
            promotion: match project.promotion {
                Promotion::Auto => "auto",
                Promotion::Manual => "manual",
            }
            .to_string(),
            schedule: project.schedule.clone(),
            shared_repository,
            build_network: project.build_network,
            retention: SpecRetention {
                keep_candidates: project.retention.keep_candidates,
                keep_days: project.retention.keep_days,
                rollback_window: project.retention.rollback_window,
            },
        }
    }

    /// The spec stored with `project` (its `entry`).
    pub fn of(project: &slipway_store::Project) -> Result<ProjectSpec, serde_json::Error> {
        ProjectSpec::deserialize(&project.entry)
    }

    /// The repository it is delivered to in `registry`: `REGISTRY/app/job`.
    pub fn repository_in(&self, registry: &str) -> String {
        format!("{registry}/{}", self.repository)
    }

    pub fn manual_promotion(&self) -> bool {
        self.promotion == "manual"
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// The store's record of `project` (whose spec this is), from the index entry at `origin`.
    pub fn record(&self, project: &Project, origin: &Origin) -> NewProject {
        NewProject {
            image: self.image.clone(),
            app_id: project.image.namespace().to_string(),
            job_id: project.image.name().to_string(),
            desired_tag: self.desired_tag.clone(),
            git_url: self.git_url.clone(),
            git_branch: self.git_branch.clone(),
            git_path: self.git_path.clone(),
            target_file: self.target_file.clone(),
            build_context: self.build_context.clone(),
            depends_on: self.depends_on.clone(),
            notify_email: Some(self.notify_email.clone()).filter(|e| !e.is_empty()),
            entry: self.to_json(),
            index_file: origin.file.display().to_string(),
            index_line: i32::try_from(origin.line).unwrap_or(i32::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json() {
        let text = "Projects:
  - id: 1
    app-id: demo
    job-id: web
    git-url: git://127.0.0.1/web
    git-branch: main
    git-path: app
    target-file: Dockerfile
    desired-tag: '3.10'
    notify-email: a@example.com
    depends-on: [demo/base:latest]
    promotion: manual
    test-script: tests/run.sh
    build-args: {A: '1'}
    keep-candidates: 5
    keep-days: 30
";
        let index = slipway_index::Index::from_texts([("index.d/demo.yaml".into(), text.to_string())]);
        let project = index.projects().next().expect("a project");
        let spec = ProjectSpec::new(project, false);
        assert_eq!(spec.image, "demo/web:3.10");
        assert_eq!(spec.target_file, "app/Dockerfile");
        assert_eq!(spec.build_context, "app");
        assert_eq!(spec.test_script.as_deref(), Some("app/tests/run.sh"));
        assert!(spec.manual_promotion());
        assert_eq!(spec.notify_on, "failure");
        assert_eq!(spec.retention.keep_candidates, Some(5));
        assert_eq!((spec.retention.keep_days, spec.retention.rollback_window), (Some(30), None));
        let back: ProjectSpec = serde_json::from_value(spec.to_json()).expect("json");
        assert_eq!(back, spec);
        assert!(spec.to_json().get("build_network").is_none(), "an unset build-network is not stored");
    }
}
