//! The build plan of a run: which index projects build, in which order, and which build waits for which.

use std::collections::HashMap;

use slipway_index::{Entry, Index};

/// One build of a run. `parents` index into [`BuildPlan::builds`] and always come earlier.
#[derive(Debug, Clone)]
pub struct PlannedBuild<'a> {
    pub entry: &'a Entry,
    pub parents: Vec<usize>,
    /// Another project of the index delivers to the same repository (see [`crate::tags`]).
    pub shared_repository: bool,
}

#[derive(Debug, Clone)]
pub struct BuildPlan<'a> {
    /// In build order: parents before children, by wave then name.
    pub builds: Vec<PlannedBuild<'a>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("`{image}` is not a valid project of the index{}", hint.as_ref().map(|h| format!("; did you mean `{h}`?")).unwrap_or_default())]
    UnknownImage { image: String, hint: Option<String> },
}

/// Plans the builds of `index`'s valid projects, or of `only` (keys `app/job:tag`) when it is not empty. A
/// build waits for the builds of its parents that are in the same plan; projects caught in a dependency
/// cycle are invalid entries already and never planned.
pub fn plan_builds<'a>(index: &'a Index, only: &[String]) -> Result<BuildPlan<'a>, PlanError> {
    let entries: Vec<&Entry> = index.valid_entries().collect();
    let graph = index.graph();
    let key = |node: usize| graph.name(node).to_string();
    let selected: Vec<bool> = if only.is_empty() {
        vec![true; entries.len()]
    } else {
        let mut selected = vec![false; entries.len()];
        for image in only {
            match graph.node(image).filter(|n| *n < entries.len()) {
                Some(node) => selected[node] = true,
                None => return Err(PlanError::UnknownImage { image: image.clone(), hint: closest(image, &entries) }),
            }
        }
        selected
    };

    let mut repositories: HashMap<String, usize> = HashMap::new();
    for entry in &entries {
        if let Some(project) = &entry.project {
            *repositories.entry(project.image.repository()).or_default() += 1;
        }
    }

    let mut position: HashMap<usize, usize> = HashMap::new();
    let mut builds = Vec::new();
    for node in graph.waves().into_iter().flatten().filter(|n| selected[*n]) {
        let entry = entries[node];
        let parents = graph.parents(node).iter().filter_map(|p| position.get(p).copied()).collect();
        let repository = entry.project.as_ref().map(|p| p.image.repository()).unwrap_or_else(|| key(node));
        let shared_repository = repositories.get(&repository).copied().unwrap_or(0) > 1;
        position.insert(node, builds.len());
        builds.push(PlannedBuild { entry, parents, shared_repository });
    }
    Ok(BuildPlan { builds })
}

/// The project key nearest to `image`, when it is close enough to be a typo.
fn closest(image: &str, entries: &[&Entry]) -> Option<String> {
    let keys: Vec<String> = entries.iter().filter_map(|e| e.project.as_ref().map(|p| p.image.key())).collect();
    let candidates: Vec<&str> = keys.iter().map(String::as_str).collect();
    slipway_index::did_you_mean(image, &candidates).map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = "Projects:
  - id: 1
    app-id: demo
    job-id: web
    git-url: git://127.0.0.1/web
    git-branch: main
    git-path: /
    target-file: Dockerfile
    desired-tag: latest
    notify-email: a@example.com
    depends-on: demo/base:latest
  - id: 2
    app-id: demo
    job-id: base
    git-url: git://127.0.0.1/base
    git-branch: main
    git-path: /
    target-file: Dockerfile
    desired-tag: latest
    notify-email: a@example.com
    depends-on: null
  - id: 3
    app-id: demo
    job-id: base
    git-url: git://127.0.0.1/base
    git-branch: main
    git-path: /
    target-file: Dockerfile
    desired-tag: '7'
    notify-email: a@example.com
    depends-on: centos/centos:7
";

    fn index() -> Index {
        Index::from_texts([("index.d/demo.yaml".into(), INDEX.to_string())])
    }

    fn keys(plan: &BuildPlan<'_>) -> Vec<String> {
        plan.builds.iter().map(|b| b.entry.project.as_ref().map(|p| p.image.key()).unwrap_or_default()).collect()
    }

    #[test]
    fn parents_come_first_and_are_linked() {
        let index = index();
        assert_eq!(index.errors().count(), 0, "{:?}", index.errors().collect::<Vec<_>>());
        let plan = plan_builds(&index, &[]).expect("plan");
        assert_eq!(keys(&plan), ["demo/base:7", "demo/base:latest", "demo/web:latest"]);
        assert_eq!(plan.builds[2].parents, [1]);
        assert!(plan.builds[0].parents.is_empty(), "an external parent is not waited for");
        assert!(plan.builds[0].shared_repository && plan.builds[1].shared_repository);
        assert!(!plan.builds[2].shared_repository);
    }

    #[test]
    fn only_selects_and_drops_unselected_parents() {
        let index = index();
        let plan = plan_builds(&index, &["demo/web:latest".into()]).expect("plan");
        assert_eq!(keys(&plan), ["demo/web:latest"]);
        assert!(plan.builds[0].parents.is_empty());
    }

    #[test]
    fn unknown_image_suggests_the_nearest() {
        let index = index();
        let err = plan_builds(&index, &["demo/wbe:latest".into()]).expect_err("unknown");
        assert_eq!(
            err,
            PlanError::UnknownImage { image: "demo/wbe:latest".into(), hint: Some("demo/web:latest".into()) }
        );
        assert_eq!(
            err.to_string(),
            "`demo/wbe:latest` is not a valid project of the index; did you mean `demo/web:latest`?"
        );
        let far = plan_builds(&index, &["x/y:z".into()]).expect_err("unknown");
        assert_eq!(far.to_string(), "`x/y:z` is not a valid project of the index");
    }
}
