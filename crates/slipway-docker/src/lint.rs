//! Advisory Dockerfile checks, without Docker: the lint stage reports them and the build goes on.
//!
//! The parser follows the classic builder: instructions are case-insensitive, a line ending in the escape
//! character (`\`, or the one set by a `# escape=` directive) continues on the next, and comment lines are
//! dropped, also inside a continued instruction.
//!
//! Codes (stable; the UI and the index docs refer to them): `unpinned-base` (FROM without a tag or with
//! `:latest`), `maintainer-deprecated`, `add-url`, `no-user` (the final stage runs as root), `user-root` (it
//! switches back to root), `package-cache` (yum/dnf/microdnf, apt-get or apk caches left in the layer),
//! `apt-upgrade`.

use std::collections::HashSet;

/// One warning: the line the instruction starts on (1-based), a stable kebab-case code, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintWarning {
    pub line: usize,
    pub code: &'static str,
    pub message: String,
}

/// One logical instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Instruction {
    pub line: usize,
    /// Upper-cased.
    pub keyword: String,
    pub args: String,
}

/// Lints a Dockerfile's text. Never fails: what it cannot understand it leaves alone.
pub fn lint(dockerfile: &str) -> Vec<LintWarning> {
    let mut warnings = Vec::new();
    let mut stages: HashSet<String> = HashSet::new();
    // The final stage's FROM line and the last USER set in it.
    let mut final_from: Option<usize> = None;
    let mut user: Option<(usize, String)> = None;
    for ins in instructions(dockerfile) {
        let mut warn = |code, message: String| warnings.push(LintWarning { line: ins.line, code, message });
        match ins.keyword.as_str() {
            "FROM" => {
                let (image, alias) = parse_from(&ins.args);
                if let Some(message) = image.and_then(|image| unpinned(image, &stages)) {
                    warn("unpinned-base", message);
                }
                if let Some(alias) = alias {
                    stages.insert(alias.to_ascii_lowercase());
                }
                final_from = Some(ins.line);
                user = None;
            }
            "MAINTAINER" => warn(
                "maintainer-deprecated",
                "MAINTAINER is deprecated; use LABEL maintainer=\"name <email>\" instead".to_string(),
            ),
            "ADD" => {
                if let Some(url) = words(without_flags(&ins.args)).iter().rev().skip(1).find(|w| is_url(w)) {
                    warn(
                        "add-url",
                        format!(
                            "ADD {url} downloads without verifying it; use RUN curl or wget with a checksum check, \
                             or COPY a file from the repository"
                        ),
                    );
                }
            }
            "USER" => user = Some((ins.line, ins.args.trim().to_string())),
            "RUN" => run_checks(&words(&ins.args).join(" "), &mut warn),
            _ => {}
        }
    }
    if let Some(line) = final_from {
        match &user {
            None => warnings.push(LintWarning {
                line,
                code: "no-user",
                message: "the final stage sets no USER, so the container runs as root; add USER with a non-root \
                          user after installing packages"
                    .to_string(),
            }),
            Some((line, name)) if is_root(name) => warnings.push(LintWarning {
                line: *line,
                code: "user-root",
                message: format!("the final stage runs as `{name}` (root); switch to a non-root user at the end"),
            }),
            Some(_) => {}
        }
    }
    warnings.sort_by_key(|w| w.line);
    warnings
}

/// Splits the text into logical instructions.
pub(crate) fn instructions(text: &str) -> Vec<Instruction> {
    let escape = escape_char(text);
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (index, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        // Like the classic builder, blank lines do not end a continued instruction either.
        if trimmed.starts_with('#') || trimmed.is_empty() {
            continue;
        }
        let (body, continues) = match trimmed.strip_suffix(escape) {
            Some(body) => (body, true),
            None => (trimmed, false),
        };
        let (_, joined) = current.get_or_insert_with(|| (index + 1, String::new()));
        if !joined.is_empty() && !body.is_empty() {
            joined.push(' ');
        }
        joined.push_str(body.trim());
        if !continues {
            out.extend(current.take().and_then(|(line, text)| split_instruction(line, &text)));
        }
    }
    out.extend(current.take().and_then(|(line, text)| split_instruction(line, &text)));
    out
}

fn split_instruction(line: usize, text: &str) -> Option<Instruction> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let (keyword, args) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    Some(Instruction { line, keyword: keyword.to_ascii_uppercase(), args: args.trim().to_string() })
}

/// A `# syntax=IMAGE` parser directive: BuildKit runs that image as the Dockerfile's frontend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxDirective {
    /// 1-based.
    pub line: usize,
    pub image: String,
}

/// The Dockerfile's `# syntax=` directive, if it has one (directives come before anything else).
pub fn syntax_directive(text: &str) -> Option<SyntaxDirective> {
    for (index, line) in text.lines().enumerate() {
        let directive = line.trim().strip_prefix('#')?;
        let (key, value) = directive.split_once('=')?;
        if key.trim().eq_ignore_ascii_case("syntax") {
            return Some(SyntaxDirective { line: index + 1, image: value.trim().to_string() });
        }
    }
    None
}

/// The escape character from a leading `# escape=` parser directive, `\` by default.
pub(crate) fn escape_char(text: &str) -> char {
    for line in text.lines() {
        let Some(directive) = line.trim().strip_prefix('#') else { break };
        let Some((key, value)) = directive.split_once('=') else { break };
        if key.trim().eq_ignore_ascii_case("escape") {
            return if value.trim() == "`" { '`' } else { '\\' };
        }
    }
    '\\'
}

/// The arguments as words; a JSON array (exec form) gives its elements.
pub(crate) fn words(args: &str) -> Vec<String> {
    if args.starts_with('[')
        && let Ok(items) = serde_json::from_str::<Vec<String>>(args)
    {
        return items;
    }
    args.split_whitespace().map(str::to_string).collect()
}

/// The arguments after leading `--flag=value` options (`ADD --chown=…`).
pub(crate) fn without_flags(mut args: &str) -> &str {
    while args.starts_with("--") {
        args = args.split_once(char::is_whitespace).map_or("", |(_, rest)| rest.trim_start());
    }
    args
}

/// The images a Dockerfile builds `FROM`, in order and once each: not `scratch`, not an earlier stage, and not
/// one named through an `ARG` (what it means is only known to the build).
pub fn base_images(dockerfile: &str) -> Vec<String> {
    let mut stages: HashSet<String> = HashSet::new();
    let mut images: Vec<String> = Vec::new();
    for ins in instructions(dockerfile).into_iter().filter(|ins| ins.keyword == "FROM") {
        let (image, alias) = parse_from(&ins.args);
        if let Some(image) = image {
            let lower = image.to_ascii_lowercase();
            if lower != "scratch"
                && !stages.contains(&lower)
                && !image.contains('$')
                && !images.iter().any(|i| i == image)
            {
                images.push(image.to_string());
            }
        }
        if let Some(alias) = alias {
            stages.insert(alias.to_ascii_lowercase());
        }
    }
    images
}

/// `FROM [--platform=…] image [AS name]` → (image, alias).
pub(crate) fn parse_from(args: &str) -> (Option<&str>, Option<&str>) {
    let mut parts = args.split_whitespace().filter(|w| !w.starts_with("--"));
    let image = parts.next();
    let alias = match (parts.next(), parts.next()) {
        (Some(kw), Some(name)) if kw.eq_ignore_ascii_case("as") => Some(name),
        _ => None,
    };
    (image, alias)
}

/// Why `FROM image` is not pinned, if it is not.
fn unpinned(image: &str, stages: &HashSet<String>) -> Option<String> {
    let lower = image.to_ascii_lowercase();
    if lower == "scratch" || stages.contains(&lower) || image.contains('$') || image.contains('@') {
        return None;
    }
    let name = image.rsplit('/').next().unwrap_or(image);
    match name.split_once(':') {
        None => Some(format!("FROM {image} has no tag, so it means :latest and changes under you; pin a version tag")),
        Some((_, "latest")) => Some(format!("FROM {image} uses :latest, which changes under you; pin a version tag")),
        Some(_) => None,
    }
}

pub(crate) fn is_url(word: &str) -> bool {
    let lower = word.to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

fn is_root(user: &str) -> bool {
    let name = user.split(':').next().unwrap_or(user).trim();
    name == "root" || name == "0"
}

/// Package-manager habits in one RUN. `command` is the RUN text with whitespace collapsed.
fn run_checks(command: &str, warn: &mut impl FnMut(&'static str, String)) {
    let mut apt_install = false;
    let mut yum_install: Option<&str> = None;
    let mut apk_without_no_cache = false;
    for simple in command.split(['&', ';', '|', '\n']) {
        let tokens: Vec<&str> = simple.split_whitespace().filter(|t| !t.contains('=') || t.starts_with('-')).collect();
        let Some(program_at) = tokens.iter().position(|t| *t != "sudo" && *t != "env") else { continue };
        let program = tokens[program_at].rsplit('/').next().unwrap_or_default();
        let rest = &tokens[program_at + 1..];
        let sub = rest.iter().find(|t| !t.starts_with('-')).copied().unwrap_or_default();
        match (program, sub) {
            ("apt-get" | "apt", "upgrade" | "dist-upgrade" | "full-upgrade") => warn(
                "apt-upgrade",
                format!(
                    "`{program} {sub}` makes the image depend on the day it was built; update the base image \
                     instead, or install pinned package versions"
                ),
            ),
            ("apt-get" | "apt", "install") => apt_install = true,
            ("yum" | "dnf" | "microdnf", "install") => yum_install = Some(program),
            ("apk", "add") => apk_without_no_cache |= !rest.contains(&"--no-cache"),
            _ => {}
        }
    }
    if apt_install && !command.contains("/var/lib/apt/lists") {
        warn(
            "package-cache",
            "apt-get install leaves the package lists in the image; end the same RUN with \
             `&& rm -rf /var/lib/apt/lists/*`"
                .to_string(),
        );
    }
    if let Some(manager) = yum_install
        && !command.contains("clean all")
        && !command.contains("/var/cache/yum")
        && !command.contains("/var/cache/dnf")
    {
        warn(
            "package-cache",
            format!("{manager} install leaves its cache in the image; end the same RUN with `&& {manager} clean all`"),
        );
    }
    if apk_without_no_cache && !command.contains("/var/cache/apk") {
        warn("package-cache", "apk add keeps its index in the image; use `apk add --no-cache`".to_string());
    }
}

#[cfg(test)]
#[path = "lint_tests.rs"]
mod tests;
