//! The depends-on graph: which images can build in parallel (waves), what a change reaches (descendants),
//! and the cycles that make an index unbuildable.
//!
//! Nodes `0..projects` are the index's projects in the order given; parents outside the index (external base
//! images) get nodes after them, so their descendants can be asked for too. Every walk is iterative: a chain
//! of ten thousand images must not exhaust the stack.

use std::collections::{HashMap, VecDeque};

use crate::project::Project;

/// The cycles of a graph and the nodes on them; see [`DependencyGraph::cycles`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cycles {
    pub cycles: Vec<Vec<usize>>,
    /// Every node on a cycle, in ascending order.
    pub members: Vec<CycleMember>,
}

/// A node on a cycle: `cycles[cycle][offset] == node`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CycleMember {
    pub node: usize,
    pub cycle: usize,
    pub offset: usize,
}

impl Cycles {
    /// The cycle through `member`, starting at it, at most `limit` nodes long.
    pub fn walk(&self, member: CycleMember, limit: usize) -> impl Iterator<Item = usize> + '_ {
        let cycle = &self.cycles[member.cycle];
        (0..cycle.len().min(limit)).map(move |i| cycle[(member.offset + i) % cycle.len()])
    }

    pub fn len_of(&self, member: &CycleMember) -> usize {
        self.cycles[member.cycle].len()
    }
}

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

    /// The cycles of the graph, in "depends on" order (`[a, b]` means a depends on b, which depends on a),
    /// and every node on a cycle with one cycle through it. Each cycle is a shortest one through the first
    /// node not yet covered, so a ring of ten thousand images costs one search, not ten thousand.
    pub fn cycles(&self) -> Cycles {
        let mut found = Cycles::default();
        let mut covered = vec![false; self.names.len()];
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
                if covered[member] {
                    continue;
                }
                let cycle = self.shortest_cycle(member, &in_component);
                for (offset, &node) in cycle.iter().enumerate() {
                    if !covered[node] {
                        covered[node] = true;
                        found.members.push(CycleMember { node, cycle: found.cycles.len(), offset });
                    }
                }
                found.cycles.push(cycle);
            }
        }
        found.members.sort_by_key(|m| m.node);
        found
    }

    /// Breadth-first over parents from `start` back to itself, staying inside its component.
    fn shortest_cycle(&self, start: usize, in_component: &[bool]) -> Vec<usize> {
        let mut came_from = vec![usize::MAX; self.names.len()];
        let mut queue = VecDeque::from([start]);
        while let Some(current) = queue.pop_front() {
            for &parent in &self.parents[current] {
                if parent == start {
                    let mut path = vec![current];
                    while let Some(&last) = path.last()
                        && last != start
                    {
                        path.push(came_from[last]);
                    }
                    path.reverse();
                    return path;
                }
                if in_component[parent] && came_from[parent] == usize::MAX {
                    came_from[parent] = current;
                    queue.push_back(parent);
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
