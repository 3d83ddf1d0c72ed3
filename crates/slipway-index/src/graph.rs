//! The depends-on graph: which images can build in parallel (waves), what a change reaches (descendants),
//! and the cycles that make an index unbuildable.
//!
//! Nodes `0..projects` are the index's projects in the order given; parents outside the index (external base
//! images) get nodes after them, so their descendants can be asked for too. Every walk is iterative: a chain
//! of ten thousand images must not exhaust the stack.

use std::collections::{HashMap, VecDeque};

use crate::project::Project;

#[derive(Debug, Clone, Default)]
pub struct DependencyGraph {
    /// `namespace/name:tag` for index projects; the full reference for external parents with a registry.
    names: Vec<String>,
    lookup: HashMap<String, usize>,
    projects: usize,
    children: Vec<Vec<usize>>,
    parents: Vec<Vec<usize>>,
}

/// How a parent reference is looked up in the graph: index projects are known without a registry.
pub fn parent_key(parent: &crate::reference::ImageRef) -> String {
    match parent.registry() {
        None => parent.key(),
        Some(_) => parent.to_string(),
    }
}

impl DependencyGraph {
    pub fn new<'a>(projects: impl IntoIterator<Item = &'a Project>) -> Self {
        let projects: Vec<&Project> = projects.into_iter().collect();
        let mut graph = DependencyGraph { projects: projects.len(), ..Default::default() };
        for project in &projects {
            graph.add_node(project.image.key());
        }
        for (child, project) in projects.iter().enumerate() {
            for parent in &project.depends_on {
                let parent = graph.add_node(parent_key(&parent.image));
                if !graph.children[parent].contains(&child) {
                    graph.children[parent].push(child);
                    graph.parents[child].push(parent);
                }
            }
        }
        graph
    }

    /// The node of a name; a duplicate name keeps its first node.
    fn add_node(&mut self, name: String) -> usize {
        if let Some(&node) = self.lookup.get(&name) {
            return node;
        }
        let node = self.names.len();
        self.lookup.insert(name.clone(), node);
        self.names.push(name);
        self.children.push(Vec::new());
        self.parents.push(Vec::new());
        node
    }

    pub fn node(&self, name: &str) -> Option<usize> {
        self.lookup.get(name).copied()
    }

    pub fn name(&self, node: usize) -> &str {
        &self.names[node]
    }

    /// Number of nodes: the projects, then the external parents.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn is_project(&self, node: usize) -> bool {
        node < self.projects
    }

    pub fn children(&self, node: usize) -> &[usize] {
        &self.children[node]
    }

    pub fn parents(&self, node: usize) -> &[usize] {
        &self.parents[node]
    }

    /// Kahn layering over the index's projects: wave `n` holds the projects whose index parents are all in
    /// earlier waves, so each wave can build in parallel. Names are sorted within a wave.
    pub fn waves(&self) -> Vec<Vec<usize>> {
        let mut pending: Vec<usize> =
            (0..self.projects).map(|n| self.parents[n].iter().filter(|p| self.is_project(**p)).count()).collect();
        let mut wave: Vec<usize> = (0..self.projects).filter(|n| pending[*n] == 0).collect();
        let mut waves = Vec::new();
        while !wave.is_empty() {
            wave.sort_by(|a, b| self.names[*a].cmp(&self.names[*b]));
            let mut next = Vec::new();
            for &node in &wave {
                for &child in &self.children[node] {
                    pending[child] -= 1;
                    if pending[child] == 0 {
                        next.push(child);
                    }
                }
            }
            waves.push(std::mem::replace(&mut wave, next));
        }
        waves
    }

    /// Every project below `node`, in build order (by wave, then name). Projects caught in a cycle have no
    /// wave and come last.
    pub fn descendants(&self, node: usize) -> Vec<usize> {
        let mut seen = vec![false; self.names.len()];
        let mut queue = VecDeque::from([node]);
        seen[node] = true;
        let mut found = Vec::new();
        while let Some(current) = queue.pop_front() {
            for &child in &self.children[current] {
                if !seen[child] {
                    seen[child] = true;
                    found.push(child);
                    queue.push_back(child);
                }
            }
        }
        let mut wave_of = vec![usize::MAX; self.names.len()];
        for (n, wave) in self.waves().iter().enumerate() {
            for &member in wave {
                wave_of[member] = n;
            }
        }
        found.sort_by(|a, b| wave_of[*a].cmp(&wave_of[*b]).then_with(|| self.names[*a].cmp(&self.names[*b])));
        found
    }

    /// For every node that lies on a cycle, the shortest cycle through it, as the list of nodes starting
    /// with it (a self-loop is `[node]`). Nodes are returned in ascending order.
    pub fn cycles(&self) -> Vec<Vec<usize>> {
        let mut cycles = Vec::new();
        for component in self.strongly_connected() {
            let self_loop = component.len() == 1 && self.children[component[0]].contains(&component[0]);
            if component.len() == 1 && !self_loop {
                continue;
            }
            let mut in_component = vec![false; self.names.len()];
            for &member in &component {
                in_component[member] = true;
            }
            for &member in &component {
                cycles.push(self.shortest_cycle(member, &in_component));
            }
        }
        cycles.sort_by_key(|cycle| cycle[0]);
        cycles
    }

    fn shortest_cycle(&self, start: usize, in_component: &[bool]) -> Vec<usize> {
        let mut came_from = vec![usize::MAX; self.names.len()];
        let mut queue = VecDeque::from([start]);
        while let Some(current) = queue.pop_front() {
            for &child in &self.children[current] {
                if child == start {
                    let mut path = vec![current];
                    while *path.last().unwrap_or(&start) != start {
                        let previous = came_from[*path.last().unwrap_or(&start)];
                        path.push(previous);
                    }
                    path.reverse();
                    return path;
                }
                if in_component[child] && came_from[child] == usize::MAX {
                    came_from[child] = current;
                    queue.push_back(child);
                }
            }
        }
        vec![start]
    }

    /// Tarjan's algorithm with an explicit call stack.
    fn strongly_connected(&self) -> Vec<Vec<usize>> {
        const UNSEEN: usize = usize::MAX;
        let n = self.names.len();
        let (mut index, mut low, mut on_stack) = (vec![UNSEEN; n], vec![0; n], vec![false; n]);
        let (mut stack, mut calls, mut components) = (Vec::new(), Vec::<(usize, usize)>::new(), Vec::new());
        let mut counter = 0;
        for root in 0..n {
            if index[root] != UNSEEN {
                continue;
            }
            index[root] = counter;
            low[root] = counter;
            counter += 1;
            stack.push(root);
            on_stack[root] = true;
            calls.push((root, 0));
            while let Some((node, next_child)) = calls.last_mut() {
                let node = *node;
                if let Some(&child) = self.children[node].get(*next_child) {
                    *next_child += 1;
                    if index[child] == UNSEEN {
                        index[child] = counter;
                        low[child] = counter;
                        counter += 1;
                        stack.push(child);
                        on_stack[child] = true;
                        calls.push((child, 0));
                    } else if on_stack[child] {
                        low[node] = low[node].min(index[child]);
                    }
                    continue;
                }
                calls.pop();
                if let Some((caller, _)) = calls.last() {
                    low[*caller] = low[*caller].min(low[node]);
                }
                if low[node] == index[node] {
                    let mut component = Vec::new();
                    while let Some(member) = stack.pop() {
                        on_stack[member] = false;
                        component.push(member);
                        if member == node {
                            break;
                        }
                    }
                    component.sort_unstable();
                    components.push(component);
                }
            }
        }
        components
    }
}

#[cfg(test)]
mod tests;
