//! External base images: a `FROM` outside the index (a parent inside it cascades when it is delivered) is
//! looked up now and then, and a digest other than the one a project was built on rebuilds the project
//! (cause "base image IMAGE changed to DIGEST"). Each base is looked up once per round however many projects
//! use it, and a new digest asks for one rebuild: a rebuild that fails is not asked for again until the base
//! changes once more.

use std::collections::BTreeMap;
use std::future::Future;

use slipway_store::{Requested, Store, StoreError};

use crate::cascade::ProjectGraph;
use crate::triggers::{Trigger, request_in};

/// What one round found.
#[derive(Debug, Default)]
pub struct BaseImageReport {
    /// Bases looked up.
    pub checked: usize,
    pub requested: Vec<Requested>,
    /// Bases that could not be looked up, with why (their projects are looked at again next round).
    pub failures: Vec<(String, String)>,
}

/// Looks up every recorded base with `current` (its digest now; `None` when it cannot be found) and asks
/// for the rebuilds a change calls for.
pub async fn check_base_images<F, Fut>(store: &Store, current: F) -> Result<BaseImageReport, StoreError>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<Option<String>, String>>,
{
    let mut by_image: BTreeMap<String, Vec<slipway_store::BaseImage>> = BTreeMap::new();
    for base in store.base_images().await? {
        by_image.entry(base.image.clone()).or_default().push(base);
    }
    let mut report = BaseImageReport::default();
    let mut graph = None;
    for (image, users) in by_image {
        report.checked += 1;
        let digest = match current(image.clone()).await {
            Ok(Some(digest)) => digest,
            Ok(None) => {
                report.failures.push((image, "not found".to_string()));
                continue;
            }
            Err(err) => {
                report.failures.push((image, err));
                continue;
            }
        };
        for base in users {
            if base.built_digest == digest || base.asked_digest.as_deref() == Some(digest.as_str()) {
                continue;
            }
            if graph.is_none() {
                graph = Some(ProjectGraph::new(store.project_graph().await?));
            }
            let Some(graph) = &graph else { continue };
            let trigger = Trigger::BaseImageChanged { image: image.clone(), digest: digest.clone() };
            report.requested.push(request_in(store, graph, base.project_id, &trigger, Vec::new()).await?);
            store.set_base_image_asked(base.project_id, &image, &digest).await?;
        }
    }
    Ok(report)
}
