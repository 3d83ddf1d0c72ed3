//! What a Dockerfile reaches for beyond its build context, read before the build runs: the images it builds on
//! (`FROM`, `COPY --from=IMAGE`, `RUN --mount=…,from=IMAGE`) and the URLs `ADD` downloads. The worker refuses,
//! from these, what a project may not use, naming the line.
//!
//! Variables are expanded the way the build would (`$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME:+word}`; an
//! unknown one is empty), from `ARG` defaults and `ENV` values anywhere in the file, the build arguments over
//! them, and the platform arguments BuildKit predefines; so `ARG BASE=host/other/image` then `FROM $BASE` is
//! seen for what it is. Stage names and numbers are not images.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use crate::lint::{Instruction, instructions, is_url, parse_from, without_flags, words};

/// How an instruction names an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    From,
    CopyFrom,
    MountFrom,
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Via::From => "FROM",
            Via::CopyFrom => "COPY --from",
            Via::MountFrom => "RUN --mount from",
        })
    }
}

/// One image the build would read: the line its instruction starts on (1-based), and the image as the
/// build would see it (variables expanded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUse {
    pub line: usize,
    pub via: Via,
    pub image: String,
}

/// One `ADD` source the daemon would download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddUrl {
    pub line: usize,
    pub url: String,
}

/// Every image `dockerfile` names outside its own stages, in order, `scratch` left out.
pub fn image_uses(dockerfile: &str, build_args: &BTreeMap<String, String>) -> Vec<ImageUse> {
    let all = instructions(dockerfile);
    let vars = variables(&all, build_args);
    // `COPY --from` and mounts may name any stage; a FROM only an earlier one.
    let stages = stage_names(&all);
    let mut earlier: HashSet<String> = HashSet::new();
    let mut uses = Vec::new();
    for ins in &all {
        let mut push = |via, name: &str, known: &HashSet<String>| {
            let image = expand(name, &vars);
            let lower = image.to_ascii_lowercase();
            let numbered = via != Via::From && image.bytes().all(|b| b.is_ascii_digit());
            if !image.is_empty() && lower != "scratch" && !known.contains(&lower) && !numbered {
                uses.push(ImageUse { line: ins.line, via, image });
            }
        };
        match ins.keyword.as_str() {
            "FROM" => {
                let (image, alias) = parse_from(&ins.args);
                if let Some(image) = image {
                    push(Via::From, image, &earlier);
                }
                earlier.extend(alias.map(str::to_ascii_lowercase));
            }
            "COPY" => {
                for value in flag_values(&ins.args, "from") {
                    push(Via::CopyFrom, &value, &stages);
                }
            }
            "RUN" => {
                for mount in flag_values(&ins.args, "mount") {
                    for option in mount.split(',') {
                        if let Some((key, value)) = option.split_once('=')
                            && key.trim().eq_ignore_ascii_case("from")
                        {
                            push(Via::MountFrom, value.trim(), &stages);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    uses
}

/// Every URL an `ADD` would download, in order.
pub fn add_urls(dockerfile: &str, build_args: &BTreeMap<String, String>) -> Vec<AddUrl> {
    let all = instructions(dockerfile);
    let vars = variables(&all, build_args);
    let mut urls = Vec::new();
    for ins in all.iter().filter(|ins| ins.keyword == "ADD") {
        let sources = words(without_flags(&ins.args));
        // The last word is the destination.
        for source in sources.iter().rev().skip(1).rev() {
            let expanded = expand(source, &vars);
            if is_url(source) || is_url(&expanded) {
                urls.push(AddUrl { line: ins.line, url: expanded });
            }
        }
    }
    urls
}

/// The values of `--NAME=value` options before an instruction's arguments.
fn flag_values(args: &str, name: &str) -> Vec<String> {
    let mut values = Vec::new();
    for word in args.split_whitespace() {
        let Some(flag) = word.strip_prefix("--") else { break };
        if let Some((key, value)) = flag.split_once('=')
            && key.eq_ignore_ascii_case(name)
        {
            values.push(value.trim_matches('"').to_string());
        }
    }
    values
}

/// Stage names (`FROM … AS name`), lower-cased.
fn stage_names(all: &[Instruction]) -> HashSet<String> {
    all.iter()
        .filter(|ins| ins.keyword == "FROM")
        .filter_map(|ins| parse_from(&ins.args).1.map(str::to_ascii_lowercase))
        .collect()
}

/// What a variable may stand for: `ARG` defaults and `ENV` values, the build arguments over them, and the
/// platform BuildKit predefines.
fn variables(all: &[Instruction], build_args: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    for (key, value) in [
        ("TARGETPLATFORM", format!("linux/{arch}")),
        ("BUILDPLATFORM", format!("linux/{arch}")),
        ("TARGETOS", "linux".to_string()),
        ("BUILDOS", "linux".to_string()),
        ("TARGETARCH", arch.to_string()),
        ("BUILDARCH", arch.to_string()),
    ] {
        vars.insert(key.to_string(), value);
    }
    for ins in all {
        match ins.keyword.as_str() {
            "ARG" => {
                for word in ins.args.split_whitespace() {
                    if let Some((name, value)) = word.split_once('=') {
                        vars.entry(name.to_string()).or_insert_with(|| value.trim_matches('"').to_string());
                    }
                }
            }
            "ENV" => match ins.args.split_once(char::is_whitespace) {
                Some((name, value)) if !name.contains('=') => {
                    vars.entry(name.to_string()).or_insert_with(|| value.trim().trim_matches('"').to_string());
                }
                _ => {
                    for word in ins.args.split_whitespace() {
                        if let Some((name, value)) = word.split_once('=') {
                            vars.entry(name.to_string()).or_insert_with(|| value.trim_matches('"').to_string());
                        }
                    }
                }
            },
            _ => {}
        }
    }
    for (name, value) in build_args {
        vars.insert(name.clone(), value.clone());
    }
    vars
}

/// `text` with `$NAME`, `${NAME}`, `${NAME:-word}` and `${NAME:+word}` replaced; unknown names are empty.
fn expand(text: &str, vars: &BTreeMap<String, String>) -> String {
    let value = |name: &str| vars.get(name).cloned().unwrap_or_default();
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(braced) = after.strip_prefix('{') {
            let Some(close) = braced.find('}') else {
                out.push_str(&rest[at..]);
                return out;
            };
            let inner = &braced[..close];
            let expanded = match (inner.split_once(":-"), inner.split_once(":+")) {
                (Some((name, word)), _) => Some(value(name)).filter(|v| !v.is_empty()).unwrap_or_else(|| word.into()),
                (_, Some((name, word))) if !value(name).is_empty() => word.to_string(),
                (_, Some(_)) => String::new(),
                _ => value(inner),
            };
            out.push_str(&expanded);
            rest = &braced[close + 1..];
        } else {
            let len = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
            if len == 0 {
                out.push('$');
            } else {
                out.push_str(&value(&after[..len]));
            }
            rest = &after[len..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
#[path = "reach_tests.rs"]
mod tests;
