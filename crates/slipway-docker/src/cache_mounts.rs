//! `RUN --mount=type=cache` per project. BuildKit keys a cache mount by its `id` (by default its target path)
//! across every build on the daemon, so one project could read or poison another's `/root/.cache`. Slipway
//! gives each mount an id inside the project's own scope, on the same line, so line numbers in errors stay
//! true; the project's own ids still tell its caches apart.

/// The Dockerfile with each cache mount's id put under `scope`, or `None` if it has no cache mount.
pub fn scope_cache_mounts(text: &str, scope: &str) -> Option<String> {
    let escape = crate::lint::escape_char(text);
    let mut changed = false;
    let mut out = String::with_capacity(text.len() + 64);
    // Inside a RUN instruction's leading `--flag`s, possibly continued over several lines.
    let mut in_flags = false;
    let mut continued = false;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        let is_comment = trimmed.starts_with('#') || trimmed.is_empty();
        let mut rest_start = 0;
        if !continued && !is_comment {
            let indent = line.len() - line.trim_start().len();
            let keyword_end = line[indent..].find(char::is_whitespace).map_or(line.len(), |n| indent + n);
            in_flags = line[indent..keyword_end].eq_ignore_ascii_case("RUN");
            rest_start = keyword_end;
        }
        if in_flags && !is_comment {
            let (rewritten, flags_end) = rewrite_flags(&line[rest_start..], scope);
            changed |= rewritten.is_some();
            out.push_str(&line[..rest_start]);
            out.push_str(rewritten.as_deref().unwrap_or(&line[rest_start..]));
            in_flags = !flags_end;
        } else {
            out.push_str(line);
        }
        if !is_comment {
            continued = trimmed.ends_with(escape);
            if !continued {
                in_flags = false;
            }
        }
    }
    changed.then_some(out)
}

/// Rewrites the `--mount=` flags at the start of `args`; also says whether the flags ended on this line.
fn rewrite_flags(args: &str, scope: &str) -> (Option<String>, bool) {
    let mut out = String::with_capacity(args.len());
    let mut changed = false;
    let mut rest = args;
    loop {
        let spaces = rest.len() - rest.trim_start().len();
        out.push_str(&rest[..spaces]);
        rest = &rest[spaces..];
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..end];
        if word.is_empty() || !word.starts_with("--") {
            // The command starts here (or the line ends, and a continuation follows: flags may go on).
            let ended = !word.is_empty() && word.len() > 1;
            out.push_str(rest);
            return (changed.then_some(out), ended);
        }
        match word.strip_prefix("--mount=").and_then(|spec| scoped(spec, scope)) {
            Some(spec) => {
                out.push_str("--mount=");
                out.push_str(&spec);
                changed = true;
            }
            None => out.push_str(word),
        }
        rest = &rest[end..];
    }
}

/// A cache mount's spec with its id under `scope`; `None` for other mounts.
fn scoped(spec: &str, scope: &str) -> Option<String> {
    let fields: Vec<&str> = spec.split(',').collect();
    let value = |key: &str| {
        fields.iter().find_map(|f| f.split_once('=').filter(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
    };
    if !value("type").is_some_and(|t| t.eq_ignore_ascii_case("cache")) {
        return None;
    }
    let id = value("id").or_else(|| value("target")).or_else(|| value("dst")).or_else(|| value("destination"))?;
    let mut kept: Vec<String> = fields
        .iter()
        .filter(|f| !f.split_once('=').is_some_and(|(k, _)| k.eq_ignore_ascii_case("id")))
        .map(|f| f.to_string())
        .collect();
    kept.push(format!("id={scope}/{id}"));
    Some(kept.join(","))
}

#[cfg(test)]
mod tests {
    use super::scope_cache_mounts;

    #[test]
    fn cache_mounts_get_the_project_scope_on_the_same_line() {
        let text = "FROM x\nRUN --mount=type=cache,target=/root/.cache \\\n    --mount=type=secret,id=tok \\\n    --mount=type=cache,id=go,target=/go make --mount=type=cache,target=/no\nrun --network=none echo --mount=type=cache,target=/x\n# RUN --mount=type=cache,target=/c\nCOPY --from=a / /\n";
        let out = scope_cache_mounts(text, "slipway/demo/web").unwrap();
        assert_eq!(
            out,
            "FROM x\nRUN --mount=type=cache,target=/root/.cache,id=slipway/demo/web//root/.cache \\\n    --mount=type=secret,id=tok \\\n    --mount=type=cache,target=/go,id=slipway/demo/web/go make --mount=type=cache,target=/no\nrun --network=none echo --mount=type=cache,target=/x\n# RUN --mount=type=cache,target=/c\nCOPY --from=a / /\n"
        );
        assert_eq!(out.lines().count(), text.lines().count());
    }

    #[test]
    fn no_cache_mount_no_copy() {
        assert_eq!(scope_cache_mounts("FROM x\nRUN --mount=type=secret,id=a cat /run/secrets/a\n", "s"), None);
    }

    #[test]
    fn another_projects_id_stays_inside_this_scope() {
        let out =
            scope_cache_mounts("FROM x\nRUN --mount=type=cache,id=slipway/other/pip,target=/c true\n", "slipway/mine")
                .unwrap();
        assert!(out.contains("id=slipway/mine/slipway/other/pip"), "{out}");
    }

    #[test]
    fn the_escape_directive_is_honoured() {
        let text = "# escape=`\nFROM x\nRUN `\n  --mount=type=cache,target=/c true\n";
        let out = scope_cache_mounts(text, "p").unwrap();
        assert!(out.contains("--mount=type=cache,target=/c,id=p//c true"), "{out}");
    }
}
