//! When a project delivers a new digest, every project built on it rebuilds, wave by wave down the graph: the
//! whole cascade is queued at once, each build waiting for the builds of its parents in the cascade, so a
//! child is built once, after all of its rebuilt parents, and a parent that fails skips the builds waiting on
//! it ("parent … failed") until its next success cascades again. A descendant already queued for another
//! reason joins the cascade: the cause is added and it waits for its parents' builds, rather than building
//! twice.

use std::collections::HashMap;

use slipway_store::{ProjectNode, Requested, Store, StoreError};

use crate::triggers::{Trigger, request_in};

/// The projects and their `depends-on` edges, by position.
#[derive(Debug, Clone)]
pub struct ProjectGraph {
    nodes: Vec<ProjectNode>,
    children: Vec<Vec<usize>>,
    parents: Vec<Vec<usize>>,
    by_image: HashMap<String, usize>,
    by_id: HashMap<i64, usize>,
}

impl ProjectGraph {
    /// Parents outside the graph (external base images, inactive projects) are left out.
    pub fn new(nodes: Vec<ProjectNode>) -> ProjectGraph {
        let by_image: HashMap<String, usize> = nodes.iter().enumerate().map(|(i, n)| (n.image.clone(), i)).collect();
        let by_id: HashMap<i64, usize> = nodes.iter().enumerate().map(|(i, n)| (n.id, i)).collect();
        let mut children = vec![Vec::new(); nodes.len()];
        let mut parents = vec![Vec::new(); nodes.len()];
        for (child, node) in nodes.iter().enumerate() {
            for parent in node.parents.iter().filter_map(|p| by_image.get(p)) {
                if *parent != child && !parents[child].contains(parent) {
                    parents[child].push(*parent);
                    children[*parent].push(child);
                }
            }
        }
        ProjectGraph { nodes, children, parents, by_image, by_id }
    }

    pub fn node(&self, image: &str) -> Option<usize> {
        self.by_image.get(image).copied()
    }

    pub fn node_of_project(&self, id: i64) -> Option<usize> {
        self.by_id.get(&id).copied()
    }

    pub fn project(&self, node: usize) -> &ProjectNode {
        &self.nodes[node]
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The descendants of `root` in waves: every project comes after all of its parents that are in the
    /// cascade (the longest path from `root` decides its wave); within a wave, by image. A cycle (which the
    /// index refuses) leaves its members out rather than looping.
    pub fn cascade(&self, root: usize) -> Vec<Vec<usize>> {
        // The descendants, found once.
        let mut inside = vec![false; self.nodes.len()];
        let mut stack = vec![root];
        while let Some(node) = stack.pop() {
            for &child in &self.children[node] {
                if !inside[child] && child != root {
                    inside[child] = true;
                    stack.push(child);
                }
            }
        }
        // Kahn's layering over the descendants: a node is ready once its parents inside are placed.
        let mut waiting: Vec<usize> =
            (0..self.nodes.len()).map(|n| self.parents[n].iter().filter(|p| inside[**p]).count()).collect();
        let mut wave: Vec<usize> = self.children[root].iter().copied().filter(|c| waiting[*c] == 0).collect();
        let mut waves = Vec::new();
        while !wave.is_empty() {
            wave.sort_by(|a, b| self.nodes[*a].image.cmp(&self.nodes[*b].image));
            wave.dedup();
            let mut next = Vec::new();
            for &node in &wave {
                for &child in &self.children[node] {
                    if inside[child] {
                        waiting[child] -= 1;
                        if waiting[child] == 0 {
                            next.push(child);
                        }
                    }
                }
            }
            waves.push(wave);
            wave = next;
        }
        waves
    }

    /// Every project `node` builds on, directly or not.
    pub fn ancestors(&self, node: usize) -> Vec<usize> {
        let mut seen = vec![false; self.nodes.len()];
        let mut stack = vec![node];
        let mut found = Vec::new();
        while let Some(at) = stack.pop() {
            for &parent in &self.parents[at] {
                if !seen[parent] && parent != node {
                    seen[parent] = true;
                    found.push(parent);
                    stack.push(parent);
                }
            }
        }
        found
    }

    /// The parents of `node` that are `root` or in its cascade.
    fn parents_in<'a>(&'a self, node: usize, planned: &'a HashMap<usize, i64>) -> impl Iterator<Item = usize> + 'a {
        self.parents[node].iter().copied().filter(|p| planned.contains_key(p))
    }
}

/// Queues the cascade of build `build_id` of `image`, which delivered `digest`: one build (or a merge into a
/// queued one) per descendant, in waves. Returns what was requested, wave by wave.
pub async fn queue_cascade(
    store: &Store,
    image: &str,
    build_id: i64,
    digest: &str,
) -> Result<Vec<Requested>, StoreError> {
    let graph = ProjectGraph::new(store.project_graph().await?);
    let Some(root) = graph.node(image) else { return Ok(Vec::new()) };
    // Node → the build it waits on in this cascade.
    let mut planned: HashMap<usize, i64> = HashMap::from([(root, build_id)]);
    let mut requested = Vec::new();
    for wave in graph.cascade(root) {
        for node in wave {
            let parents: Vec<usize> = graph.parents_in(node, &planned).collect();
            let through =
                if parents.contains(&root) { None } else { parents.first().map(|p| graph.project(*p).image.clone()) };
            let trigger = Trigger::ParentDelivered { parent: image.to_string(), digest: digest.to_string(), through };
            let builds = parents.iter().map(|p| planned[p]).collect();
            let done = request_in(store, &graph, graph.project(node).id, &trigger, builds).await?;
            planned.insert(node, done.build.id);
            requested.push(done);
        }
    }
    Ok(requested)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &[&str])]) -> ProjectGraph {
        ProjectGraph::new(
            edges
                .iter()
                .enumerate()
                .map(|(i, (image, parents))| ProjectNode {
                    id: i as i64 + 1,
                    image: (*image).to_string(),
                    parents: parents.iter().map(|p| (*p).to_string()).collect(),
                })
                .collect(),
        )
    }

    fn names(g: &ProjectGraph, waves: &[Vec<usize>]) -> Vec<Vec<String>> {
        waves.iter().map(|w| w.iter().map(|n| g.project(*n).image.clone()).collect()).collect()
    }

    #[test]
    fn a_child_waits_for_every_rebuilt_parent() {
        // base → mid → leaf, and base → leaf directly: leaf comes after mid, once.
        let g = graph(&[
            ("base", &["centos:7"]),
            ("mid", &["base"]),
            ("leaf", &["base", "mid"]),
            ("other", &["mid"]),
            ("alone", &[]),
        ]);
        let waves = g.cascade(g.node("base").unwrap());
        assert_eq!(names(&g, &waves), [vec!["mid"], vec!["leaf", "other"]]);
        assert!(g.cascade(g.node("alone").unwrap()).is_empty());
        assert_eq!(names(&g, &g.cascade(g.node("mid").unwrap())), [vec!["leaf", "other"]]);
    }

    #[test]
    fn a_cycle_is_left_out_rather_than_looping() {
        let g = graph(&[("root", &[]), ("a", &["root", "b"]), ("b", &["a"]), ("c", &["root"])]);
        assert_eq!(names(&g, &g.cascade(g.node("root").unwrap())), [vec!["c"]]);
    }

    #[test]
    fn wide_graphs_keep_one_entry_per_project() {
        let mut edges: Vec<(String, Vec<String>)> = vec![("base".into(), vec![])];
        for i in 0..50 {
            edges.push((format!("p{i:02}"), vec!["base".into()]));
            edges.push((format!("q{i:02}"), vec!["base".into(), format!("p{i:02}")]));
        }
        let g = ProjectGraph::new(
            edges
                .iter()
                .enumerate()
                .map(|(i, (image, parents))| ProjectNode {
                    id: i as i64,
                    image: image.clone(),
                    parents: parents.clone(),
                })
                .collect(),
        );
        let waves = g.cascade(0);
        assert_eq!(waves.iter().map(Vec::len).collect::<Vec<_>>(), [50, 50]);
    }
}
