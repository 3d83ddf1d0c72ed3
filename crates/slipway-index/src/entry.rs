//! One `Projects:` entry: every field read as the string it was written as, checked, and turned into a
//! [`Project`] when nothing is wrong with it.

use std::collections::BTreeMap;

use crate::checks;
use crate::diagnostic::{Code, Diagnostic};
use crate::mapping::MappingReader;
use crate::paths::{PathError, RepoPath};
use crate::project::{
    BuildNetwork, NotifyOn, Origin, Parent, Prebuild, Project, Promotion, Retention, TestSettings, Written,
};
use crate::reference::{ImageRef, check_component, check_tag};
use crate::source::SourceFile;
use crate::yaml::{Node, NodeKind};

/// The keys an index entry may have: cccp's, then Slipway's extensions.
pub const INDEX_FIELDS: &[&str] = &[
    "id",
    "app-id",
    "job-id",
    "git-url",
    "git-branch",
    "git-path",
    "target-file",
    "desired-tag",
    "notify-email",
    "build-context",
    "depends-on",
    "prebuild-script",
    "prebuild-context",
    "schedule",
    "notify-on",
    "build-args",
    "build-target",
    "build-secrets",
    "test-script",
    "test-skip",
    "test-timeout",
    "start-grace",
    "promotion",
    "registry",
    "build-network",
    "keep-candidates",
    "keep-days",
    "rollback-window",
];

/// An entry as read: where it is, what it says, and the project when it has no errors.
#[derive(Debug, Clone)]
pub struct Entry {
    pub origin: Origin,
    pub written: Vec<(String, Written)>,
    /// `app-id/job-id:desired-tag` when those three are valid, even if other fields are not.
    pub image: Option<ImageRef>,
    /// The `id` field and where it is, for the reused-id warning.
    pub id: Option<(String, Node)>,
    pub project: Option<Project>,
}

pub fn read_entry(file: &SourceFile, node: &Node, app_id_expected: &str) -> (Entry, Vec<Diagnostic>) {
    let mut r = MappingReader::new(file, node, INDEX_FIELDS, &[]);
    let origin = Origin { file: file.path().to_path_buf(), line: node.pos.line, column: node.pos.column };

    let id = r.text("id").map(|(id, node)| (id.to_string(), node.clone()));
    if let Some((value, node)) = &id
        && !value.bytes().all(|b| b.is_ascii_digit())
    {
        r.error(Code::InvalidId, node, format!("`id` must be a whole number, found `{value}`"));
    }

    let app_id = r.required_text("app-id").and_then(|(app, node)| {
        let valid = name_field(&mut r, "app-id", app, node);
        if valid && app != app_id_expected {
            let message = format!("`app-id` is `{app}` but the file is named `{app_id_expected}`");
            let hint = format!(
                "an index file holds one app-id; rename the file to `{app}.yaml` or set `app-id: {app_id_expected}`"
            );
            r.push(file.error_at(Code::AppIdMismatch, node, message).with_hint(hint));
        }
        valid.then_some(app)
    });
    let job_id = r
        .required_text("job-id")
        .and_then(|(job, node)| name_field(&mut r, "job-id", job, node).then_some((job, node)));
    let desired_tag = match r.text("desired-tag") {
        Some((tag, node)) => check_tag(tag)
            .map_err(|e| r.error(Code::InvalidTag, node, format!("`desired-tag`: {e}")))
            .ok()
            .map(|()| tag),
        None if r.value("desired-tag").is_some() => None,
        None => Some("latest"),
    };
    let image = match (app_id, job_id, desired_tag) {
        (Some(app), Some((job, node)), Some(tag)) => match ImageRef::new(app, job, tag) {
            Ok(image) => Some(image),
            Err(err) => {
                r.error(Code::InvalidName, node, format!("`job-id`: {err}"));
                None
            }
        },
        _ => None,
    };

    let git_url = r.required_text("git-url").and_then(|(url, node)| {
        checked(&mut r, Code::InvalidGitUrl, node, "git-url", checks::git_url(url)).then_some(url)
    });
    let git_branch = r.required_text("git-branch").and_then(|(branch, node)| {
        checked(&mut r, Code::InvalidBranch, node, "git-branch", checks::branch(branch)).then_some(branch)
    });
    let git_path = r
        .required_text("git-path")
        .and_then(|(path, node)| repo_path(&mut r, "git-path", &RepoPath::root(), path, node));
    let target_file = r.required_text("target-file");
    let notify_email = r.required_text("notify-email").and_then(|(email, node)| {
        checked(&mut r, Code::InvalidEmail, node, "notify-email", checks::email(email)).then_some(email)
    });
    let build_context = r.text("build-context");
    let depends_on = read_depends_on(&mut r);
    let (target_file, build_context, prebuild, test) = match &git_path {
        Some(git_path) => {
            let target = target_file.and_then(|(path, node)| target_path(&mut r, git_path, path, node));
            let context = match build_context {
                Some((path, node)) => repo_path(&mut r, "build-context", git_path, path, node),
                None if r.value("build-context").is_some() => None,
                None => Some(git_path.clone()),
            };
            let prebuild = read_prebuild(&mut r);
            let test = read_test_settings(&mut r, git_path);
            (target, context, prebuild, test)
        }
        None => (None, None, None, None),
    };
    let schedule = r.text("schedule").and_then(|(cron, node)| {
        checked(&mut r, Code::InvalidCron, node, "schedule", checks::cron(cron)).then(|| cron.to_string())
    });
    let notify_on = read_enum(
        &mut r,
        "notify-on",
        &[("failure", NotifyOn::Failure), ("always", NotifyOn::Always), ("never", NotifyOn::Never)],
    );
    let promotion = read_enum(&mut r, "promotion", &[("auto", Promotion::Auto), ("manual", Promotion::Manual)]);
    let build_network = read_choice(
        &mut r,
        "build-network",
        &[("none", BuildNetwork::None), ("default", BuildNetwork::Default), ("host", BuildNetwork::Host)],
    );
    let build_args = read_build_args(&mut r);
    let build_target = r.text("build-target").and_then(|(stage, node)| {
        checked(&mut r, Code::InvalidValue, node, "build-target", checks::stage_name(stage)).then(|| stage.to_string())
    });
    let build_secrets = read_build_secrets(&mut r);
    let retention = Retention {
        keep_candidates: read_count(&mut r, "keep-candidates", 1..=1000),
        keep_days: read_count(&mut r, "keep-days", 1..=3650),
        rollback_window: read_count(&mut r, "rollback-window", 1..=1000),
    };
    let registry = r.text("registry").and_then(|(name, node)| {
        checked(&mut r, Code::InvalidValue, node, "registry", checks::registry_name(name)).then(|| name.to_string())
    });

    let project = match (
        image.clone(),
        git_url,
        git_branch,
        git_path,
        target_file,
        notify_email,
        build_context,
        prebuild,
        test,
    ) {
        (
            Some(image),
            Some(git_url),
            Some(git_branch),
            Some(git_path),
            Some(target_file),
            Some(notify_email),
            Some(build_context),
            Some(prebuild),
            Some(test),
        ) if !r.has_errors() => Some(Project {
            image,
            id: id.as_ref().map(|(id, _)| id.clone()),
            git_url: git_url.to_string(),
            git_branch: git_branch.to_string(),
            git_path,
            target_file,
            build_context,
            notify_email: notify_email.to_string(),
            depends_on,
            prebuild,
            schedule,
            notify_on,
            build_args,
            build_target,
            build_secrets,
            test,
            promotion,
            registry,
            build_network,
            retention,
        }),
        _ => None,
    };
    let entry = Entry { origin, written: r.written(), image, id, project };
    (entry, r.diagnostics)
}

/// Records the outcome of a value check as a diagnostic; true when the value is fine.
fn checked(r: &mut MappingReader<'_>, code: Code, node: &Node, field: &str, outcome: Result<(), String>) -> bool {
    match outcome {
        Ok(()) => true,
        Err(why) => {
            r.error(code, node, format!("`{field}`: {why}"));
            false
        }
    }
}

fn name_field(r: &mut MappingReader<'_>, field: &str, value: &str, node: &Node) -> bool {
    let outcome = check_component(value).map_err(|e| e.to_string());
    checked(r, Code::InvalidName, node, field, outcome)
}

/// Resolves a path field against `base`, reporting a path that leaves the repository.
pub(crate) fn repo_path(
    r: &mut MappingReader<'_>,
    field: &str,
    base: &RepoPath,
    value: &str,
    node: &Node,
) -> Option<RepoPath> {
    match base.join(value) {
        Ok(path) => Some(path),
        Err(err @ PathError::Escapes { .. }) => {
            let hint = "paths are relative to the repository; they may not climb above its root";
            r.push(r.file().error_at(Code::PathEscapesRepo, node, format!("`{field}`: {err}")).with_hint(hint));
            None
        }
        Err(err) => {
            r.error(Code::InvalidPath, node, format!("`{field}`: {err}"));
            None
        }
    }
}

fn target_path(r: &mut MappingReader<'_>, git_path: &RepoPath, value: &str, node: &Node) -> Option<RepoPath> {
    let path = repo_path(r, "target-file", git_path, value, node)?;
    if path.is_root() || value.ends_with('/') || path == *git_path {
        r.error(Code::InvalidPath, node, format!("`target-file`: `{value}` names a directory, not a Dockerfile"));
        return None;
    }
    Some(path)
}

fn read_depends_on(r: &mut MappingReader<'_>) -> Vec<Parent> {
    let Some(node) = r.value("depends-on") else { return Vec::new() };
    let items: Vec<&Node> = match &node.kind {
        NodeKind::Scalar(text) if text == "null" => Vec::new(),
        NodeKind::Scalar(_) => vec![node],
        NodeKind::Seq(items) => items.iter().collect(),
        _ => {
            r.error(Code::WrongType, node, "`depends-on` must be null, one `namespace/name:tag`, or a list of them");
            return Vec::new();
        }
    };
    let mut parents = Vec::new();
    for item in items {
        let Some(text) = item.as_scalar() else {
            let found = item.type_name();
            r.error(Code::WrongType, item, format!("each `depends-on` item must be a string, found {found}"));
            continue;
        };
        match text.parse::<ImageRef>() {
            Ok(image) => parents.push(Parent { image, pos: item.pos }),
            Err(err) => {
                let hint = "write the parent as `namespace/name:tag`, e.g. `centos/centos:7`";
                r.push(r.file().error_at(Code::InvalidDependsOn, item, format!("`depends-on`: {err}")).with_hint(hint));
            }
        }
    }
    parents
}

/// `build-secrets`: one name or a list of names, each valued in Slipway's configuration (never in the index).
fn read_build_secrets(r: &mut MappingReader<'_>) -> Vec<String> {
    let Some(node) = r.value("build-secrets") else { return Vec::new() };
    let items: Vec<&Node> = match &node.kind {
        NodeKind::Null => Vec::new(),
        NodeKind::Scalar(_) => vec![node],
        NodeKind::Seq(items) => items.iter().collect(),
        _ => {
            r.error(Code::WrongType, node, "`build-secrets` must be one secret name or a list of them");
            return Vec::new();
        }
    };
    let mut names = Vec::new();
    for item in items {
        match item.as_scalar().map(|name| (name, checks::build_arg_name(name))) {
            Some((name, Ok(()))) => names.push(name.to_string()),
            Some((_, Err(why))) => r.error(Code::InvalidValue, item, format!("`build-secrets`: {why}")),
            None => r.error(Code::WrongType, item, "each `build-secrets` item must be a secret name"),
        }
    }
    names
}

/// `Some(None)` when there is no prebuild, `None` when the prebuild fields are wrong.
fn read_prebuild(r: &mut MappingReader<'_>) -> Option<Option<Prebuild>> {
    let script = r.text("prebuild-script");
    let context = r.text("prebuild-context");
    match (script, context) {
        (Some((script, script_node)), Some((context, context_node))) => {
            let context = repo_path(r, "prebuild-context", &RepoPath::root(), context, context_node)?;
            let script = repo_path(r, "prebuild-script", &context, script, script_node)?;
            Some(Some(Prebuild { script, context }))
        }
        _ if r.value("prebuild-script").is_none() && r.value("prebuild-context").is_none() => Some(None),
        (Some((_, node)), None) if r.value("prebuild-context").is_none() => incomplete_prebuild(r, node),
        (None, Some((_, node))) if r.value("prebuild-script").is_none() => incomplete_prebuild(r, node),
        // A field that is there but wrong has been reported already.
        _ => None,
    }
}

fn incomplete_prebuild(r: &mut MappingReader<'_>, node: &Node) -> Option<Option<Prebuild>> {
    let message = "`prebuild-script` and `prebuild-context` go together; set both or neither";
    let hint = "prebuild-context is the directory (from the repository root) the script runs in";
    r.push(r.file().error_at(Code::IncompletePrebuild, node, message).with_hint(hint));
    None
}

/// `test-script`, `test-skip` and `test-timeout`, shared by the index and the per-repo file.
/// `None` when one of them is wrong.
pub(crate) fn read_test_settings(r: &mut MappingReader<'_>, git_path: &RepoPath) -> Option<TestSettings> {
    let mut ok = true;
    let script = match r.text("test-script") {
        Some((path, node)) => {
            let resolved = repo_path(r, "test-script", git_path, path, node);
            ok &= resolved.is_some();
            resolved
        }
        None => None,
    };
    let skip = match r.text("test-skip") {
        Some((value, node)) => match value.to_ascii_lowercase().as_str() {
            "true" | "yes" => Some(true),
            "false" | "no" => Some(false),
            _ => {
                r.error(Code::InvalidValue, node, format!("`test-skip` must be `true` or `false`, found `{value}`"));
                ok = false;
                None
            }
        },
        None => None,
    };
    let timeout = match r.text("test-timeout") {
        Some((value, node)) => match checks::duration(value) {
            Ok(duration) => Some(duration),
            Err(why) => {
                r.error(Code::InvalidDuration, node, format!("`test-timeout`: {why}"));
                ok = false;
                None
            }
        },
        None => None,
    };
    let start_grace = match r.text("start-grace") {
        Some((value, node)) => match checks::duration(value) {
            Ok(duration) if duration <= std::time::Duration::from_secs(600) => Some(duration),
            Ok(_) => {
                r.error(Code::InvalidDuration, node, "`start-grace` must be at most 10m".to_string());
                ok = false;
                None
            }
            Err(why) => {
                r.error(Code::InvalidDuration, node, format!("`start-grace`: {why}"));
                ok = false;
                None
            }
        },
        None => None,
    };
    ok.then_some(TestSettings { script, skip, timeout, start_grace })
}

/// A whole number in `range`, or an error naming the field and the range.
fn read_count(r: &mut MappingReader<'_>, field: &str, range: std::ops::RangeInclusive<u32>) -> Option<u32> {
    let (value, node) = r.text(field)?;
    match value.trim().parse::<u32>() {
        Ok(n) if range.contains(&n) => Some(n),
        _ => {
            let (low, high) = (range.start(), range.end());
            r.error(
                Code::InvalidValue,
                node,
                format!("`{field}` must be a whole number from {low} to {high}, found `{value}`"),
            );
            None
        }
    }
}

fn read_enum<T: Copy + Default>(r: &mut MappingReader<'_>, field: &str, choices: &[(&str, T)]) -> T {
    read_choice(r, field, choices).unwrap_or_default()
}

/// One of `choices`, or none when the field is absent (or wrong, which is reported).
fn read_choice<T: Copy>(r: &mut MappingReader<'_>, field: &str, choices: &[(&str, T)]) -> Option<T> {
    let (value, node) = r.text(field)?;
    if let Some((_, choice)) = choices.iter().find(|(name, _)| *name == value) {
        return Some(*choice);
    }
    let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
    let mut diagnostic = r.file().error_at(
        Code::InvalidValue,
        node,
        format!("`{field}` is `{value}`; it must be one of: {}", names.join(", ")),
    );
    if let Some(suggestion) = checks::did_you_mean(value, &names) {
        diagnostic = diagnostic.with_hint(format!("did you mean `{suggestion}`?"));
    }
    r.push(diagnostic);
    None
}

fn read_build_args(r: &mut MappingReader<'_>) -> BTreeMap<String, String> {
    let mut args = BTreeMap::new();
    let Some(node) = r.value("build-args") else { return args };
    let NodeKind::Map(pairs) = &node.kind else {
        let found = node.type_name();
        r.error(Code::WrongType, node, format!("`build-args` must be a mapping of NAME: value, found {found}"));
        return args;
    };
    for (key, value) in pairs {
        let Some(name) = key.as_scalar() else {
            r.error(Code::WrongType, key, "a build argument name must be a string");
            continue;
        };
        if let Err(why) = checks::build_arg_name(name) {
            r.error(Code::InvalidBuildArg, key, format!("`build-args`: {why}"));
            continue;
        }
        match &value.kind {
            NodeKind::Scalar(text) => {
                args.insert(name.to_string(), text.clone());
            }
            NodeKind::Null => {
                args.insert(name.to_string(), String::new());
            }
            _ => {
                let found = value.type_name();
                r.error(Code::WrongType, value, format!("build argument `{name}` must be a string, found {found}"));
            }
        }
    }
    args
}

#[cfg(test)]
mod tests;
