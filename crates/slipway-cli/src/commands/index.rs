//! `slipway index check|show|graph`: the index as users and CI see it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;
use serde_json::{Map, Value, json};
use slipway_index::{CheckReport, DependencyGraph, Diagnostic, Index, Written};

use crate::config::Config;

#[derive(Subcommand)]
pub enum IndexCommand {
    /// Validate the index: exit 0 without errors (warnings allowed), 1 with errors, 2 on usage or I/O errors.
    Check(CheckArgs),
    /// List the valid projects with every field as written.
    Show(ShowArgs),
    /// The build plan: waves of images that can build in parallel, or what a change to one image reaches.
    Graph(GraphArgs),
}

#[derive(Args)]
pub struct CheckArgs {
    /// Index directory or file (default: the configured index).
    path: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Check only these files' entries and the graph around them (e.g. the files a pull request changed).
    #[arg(long = "changed", value_name = "FILE")]
    changed: Vec<PathBuf>,
}

#[derive(Args)]
pub struct ShowArgs {
    path: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Args)]
pub struct GraphArgs {
    path: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = GraphFormat::Text)]
    format: GraphFormat,
    /// Only the images below IMAGE (`namespace/name:tag`), in build order.
    #[arg(long, value_name = "IMAGE")]
    descendants: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum GraphFormat {
    Text,
    Json,
    Dot,
}

/// Runs an index command, writing its answer to `out`.
pub fn run(command: IndexCommand, config: &Config, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    match command {
        IndexCommand::Check(args) => check(&args, config, out),
        IndexCommand::Show(args) => show(&args, config, out),
        IndexCommand::Graph(args) => graph(&args, config, out),
    }
}

pub(crate) fn load(path: Option<&Path>, config: &Config) -> anyhow::Result<(PathBuf, Index)> {
    let path = path.map_or_else(|| config.index.path.clone(), Path::to_path_buf);
    let index = Index::load(&path).with_context(|| format!("cannot load the index at {}", path.display()))?;
    Ok((path, index))
}

fn check(args: &CheckArgs, config: &Config, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let (path, index) = load(args.path.as_deref(), config)?;
    let report =
        if args.changed.is_empty() { CheckReport::all(&index) } else { CheckReport::changed(&index, &args.changed) };
    match args.format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
        Format::Text => {
            for diagnostic in report.errors.iter().chain(&report.warnings) {
                writeln!(out, "{diagnostic}")?;
            }
            writeln!(
                out,
                "{}: {} file{}, {} project{}, {} valid, {} error{}, {} warning{}",
                path.display(),
                report.files,
                plural(report.files),
                report.projects,
                plural(report.projects),
                report.valid,
                report.errors.len(),
                plural(report.errors.len()),
                report.warnings.len(),
                plural(report.warnings.len()),
            )?;
        }
    }
    Ok(if report.is_ok() { ExitCode::SUCCESS } else { ExitCode::from(crate::EXIT_INVALID) })
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn show(args: &ShowArgs, config: &Config, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let (_, index) = load(args.path.as_deref(), config)?;
    let projects: Vec<Value> = index.valid_entries().filter_map(project_json).collect();
    match args.format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&json!({ "projects": projects }))?)?,
        Format::Text => {
            for entry in index.valid_entries() {
                let Some(project) = &entry.project else { continue };
                let (file, line) = (entry.origin.file.display(), entry.origin.line);
                writeln!(
                    out,
                    "{}  {}#{}:{}  ({file}:{line})",
                    project.image, project.git_url, project.git_branch, project.git_path
                )?;
            }
        }
    }
    report_errors_on_stderr(&index);
    Ok(ExitCode::SUCCESS)
}

/// One project for `index show --format json`: the image, where it was written, every field as written
/// (defaults filled in for the fields cccp defaulted), and its parents.
fn project_json(entry: &slipway_index::Entry) -> Option<Value> {
    let project = entry.project.as_ref()?;
    let mut object = Map::new();
    object.insert("image".into(), json!(project.image.to_string()));
    object.insert("file".into(), json!(entry.origin.file));
    object.insert("line".into(), json!(entry.origin.line));
    for (key, value) in &entry.written {
        object.insert(key.clone(), serde_json::to_value(value).ok()?);
    }
    for (key, default) in [("desired-tag", "latest"), ("build-context", "./")] {
        let written = object.get(key).is_some_and(|v| !v.is_null());
        if !written {
            object.insert(key.into(), serde_json::to_value(Written::Text(default.into())).ok()?);
        }
    }
    let parents: Vec<String> = project.depends_on.iter().map(|p| p.image.to_string()).collect();
    object.insert("parents".into(), json!(parents));
    Some(Value::Object(object))
}

fn graph(args: &GraphArgs, config: &Config, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let (path, index) = load(args.path.as_deref(), config)?;
    let graph = index.graph();
    let names = |nodes: &[usize]| nodes.iter().map(|n| graph.name(*n).to_string()).collect::<Vec<_>>();
    if let Some(image) = &args.descendants {
        let Some(node) = graph.node(image) else {
            eprintln!("slipway: error: `{image}` is neither a valid project of the index nor a parent of one");
            return Ok(ExitCode::from(crate::EXIT_INVALID));
        };
        let descendants = names(&graph.descendants(node));
        match args.format {
            GraphFormat::Json => {
                writeln!(out, "{}", serde_json::to_string_pretty(&json!({ "descendants": descendants }))?)?
            }
            GraphFormat::Text => {
                for name in &descendants {
                    writeln!(out, "{name}")?;
                }
            }
            GraphFormat::Dot => write!(out, "{}", dot(graph, Some(node)))?,
        }
    } else {
        let waves: Vec<Vec<String>> = graph.waves().iter().map(|wave| names(wave)).collect();
        match args.format {
            GraphFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&json!({ "waves": waves }))?)?,
            GraphFormat::Dot => write!(out, "{}", dot(graph, None))?,
            GraphFormat::Text => print_plan(out, &path, &index, &waves, &config.registry.address)?,
        }
    }
    report_errors_on_stderr(&index);
    Ok(ExitCode::SUCCESS)
}

fn print_plan(
    out: &mut dyn Write,
    path: &Path,
    index: &Index,
    waves: &[Vec<String>],
    registry: &str,
) -> std::io::Result<()> {
    let projects: usize = waves.iter().map(Vec::len).sum();
    writeln!(
        out,
        "build plan for {}: {projects} image{} in {} wave{}",
        path.display(),
        plural(projects),
        waves.len(),
        plural(waves.len())
    )?;
    let by_name: std::collections::HashMap<String, &slipway_index::Project> =
        index.projects().map(|p| (p.image.key(), p)).collect();
    for (n, wave) in waves.iter().enumerate() {
        writeln!(out, "wave {} ({} in parallel):", n + 1, wave.len())?;
        for name in wave {
            let Some(project) = by_name.get(name) else { continue };
            let parents: Vec<String> = project.depends_on.iter().map(|p| p.image.to_string()).collect();
            let from = if parents.is_empty() { String::new() } else { format!("  after {}", parents.join(", ")) };
            writeln!(
                out,
                "  {registry}/{}:{}  from {}#{}{from}",
                project.image.repository(),
                project.image.tag(),
                project.git_url,
                project.git_branch
            )?;
        }
    }
    Ok(())
}

/// Graphviz: every valid project, its index and external parents; `focus` limits it to one image's subtree.
fn dot(graph: &DependencyGraph, focus: Option<usize>) -> String {
    #[derive(Serialize)]
    struct Quoted<'a>(&'a str);
    let quote = |name: &str| serde_json::to_string(&Quoted(name)).unwrap_or_default();
    let mut nodes: Vec<usize> = match focus {
        Some(node) => std::iter::once(node).chain(graph.descendants(node)).collect(),
        None => (0..graph.len()).collect(),
    };
    nodes.sort_unstable();
    let mut out = String::from("digraph index {\n  rankdir=LR;\n  node [shape=box];\n");
    for &node in &nodes {
        let style = if graph.is_project(node) { "" } else { " [style=dashed]" };
        out.push_str(&format!("  {}{style};\n", quote(graph.name(node))));
    }
    for &node in &nodes {
        for &child in graph.children(node) {
            if nodes.binary_search(&child).is_ok() {
                out.push_str(&format!("  {} -> {};\n", quote(graph.name(node)), quote(graph.name(child))));
            }
        }
    }
    out.push_str("}\n");
    out
}

/// `show` and `graph` leave invalid entries out; say so on stderr so the output stays clean.
pub(crate) fn report_errors_on_stderr(index: &Index) {
    let errors: Vec<&Diagnostic> = index.errors().collect();
    if !errors.is_empty() {
        eprintln!(
            "slipway: {} error(s) in the index left some entries out; run `slipway index check` for details",
            errors.len()
        );
    }
}
