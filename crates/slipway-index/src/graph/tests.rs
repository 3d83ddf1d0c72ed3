use super::*;
use crate::paths::RepoPath;
use crate::project::{NotifyOn, Parent, Project, Promotion, TestSettings};
use crate::reference::ImageRef;
use crate::yaml::Pos;

fn project(name: &str, parents: &[&str]) -> Project {
    let image: ImageRef = format!("{name}:latest").parse().expect("image");
    Project {
        image,
        id: None,
        git_url: "https://example.org/r".into(),
        git_branch: "main".into(),
        git_path: RepoPath::root(),
        target_file: RepoPath::root().join("Dockerfile").expect("path"),
        build_context: RepoPath::root(),
        notify_email: "a@b.org".into(),
        depends_on: parents
            .iter()
            .map(|p| Parent { image: format!("{p}:latest").parse().expect("parent"), pos: Pos::default() })
            .collect(),
        prebuild: None,
        schedule: None,
        notify_on: NotifyOn::Failure,
        build_args: Default::default(),
        build_network: None,
        test: TestSettings::default(),
        promotion: Promotion::Auto,
        registry: None,
        retention: Default::default(),
    }
}

fn names(graph: &DependencyGraph, nodes: &[usize]) -> Vec<String> {
    nodes.iter().map(|n| graph.name(*n).trim_end_matches(":latest").to_string()).collect()
}

#[test]
fn waves_put_each_image_after_all_its_index_parents() {
    let projects = [
        project("a/app", &["a/mid", "a/base"]),
        project("a/mid", &["a/base"]),
        project("a/base", &["ext/os"]),
        project("a/other", &[]),
    ];
    let graph = DependencyGraph::new(&projects);
    let waves: Vec<Vec<String>> = graph.waves().iter().map(|w| names(&graph, w)).collect();
    assert_eq!(waves, vec![vec!["a/base", "a/other"], vec!["a/mid"], vec!["a/app"]]);
    assert!(!graph.is_project(graph.node("ext/os:latest").expect("external node")));
}

#[test]
fn descendants_come_in_build_order_external_parents_included() {
    let projects = [
        project("a/leaf", &["a/mid"]),
        project("a/mid", &["a/base"]),
        project("a/base", &["ext/os"]),
        project("b/x", &[]),
    ];
    let graph = DependencyGraph::new(&projects);
    let from_external = graph.descendants(graph.node("ext/os:latest").expect("node"));
    assert_eq!(names(&graph, &from_external), ["a/base", "a/mid", "a/leaf"]);
    assert!(graph.descendants(graph.node("b/x:latest").expect("node")).is_empty());
}

#[test]
fn cycles_name_every_member_and_self_loops_count() {
    let projects = [
        project("a/one", &["a/three"]),
        project("a/two", &["a/one"]),
        project("a/three", &["a/two"]),
        project("a/self", &["a/self"]),
        project("a/fine", &["a/one"]),
    ];
    let graph = DependencyGraph::new(&projects);
    let cycles = graph.cycles();
    assert_eq!(cycles.members.iter().map(|m| m.node).collect::<Vec<_>>(), [0, 1, 2, 3]);
    // "depends on" order: two depends on one, which depends on three, which depends on two.
    let from_two: Vec<usize> = cycles.walk(cycles.members[1], 10).collect();
    assert_eq!(names(&graph, &from_two), ["a/two", "a/one", "a/three"]);
    let self_loop: Vec<usize> = cycles.walk(cycles.members[3], 10).collect();
    assert_eq!(names(&graph, &self_loop), ["a/self"]);
    // Nothing on a cycle can be placed in a wave, nor anything waiting on one.
    assert!(graph.waves().is_empty());
}

#[test]
fn a_long_chain_does_not_exhaust_the_stack_or_the_clock() {
    let names: Vec<String> = (0..20_000).map(|i| format!("chain/n{i}")).collect();
    let mut projects: Vec<Project> =
        names.iter().enumerate().map(|(i, n)| project(n, &[names[(i + 1) % names.len()].as_str()])).collect();
    let graph = DependencyGraph::new(&projects);
    let cycles = graph.cycles();
    assert_eq!((cycles.cycles.len(), cycles.members.len()), (1, 20_000));
    assert_eq!(cycles.walk(cycles.members[5], 3).collect::<Vec<_>>(), [5, 6, 7]);
    projects[19_999].depends_on.clear();
    let graph = DependencyGraph::new(&projects);
    assert!(graph.cycles().members.is_empty());
    assert_eq!(graph.waves().len(), 20_000);
}
