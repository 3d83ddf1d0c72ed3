//! Value grammars for index fields: e-mail, git URL, branch name, cron schedule, duration, names.
//! Each returns a sentence that says what is expected, ready to follow "`field`: ".

use std::time::Duration;

use croner::parser::{CronParser, Seconds, Year};

pub fn email(value: &str) -> Result<(), String> {
    let expected = || format!("`{value}` is not an e-mail address; write one address like `team@example.org`");
    let (local, domain) = value.rsplit_once('@').ok_or_else(expected)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && domain.len() <= 253
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if local_ok && domain_ok { Ok(()) } else { Err(expected()) }
}

/// `https://`, `http://`, `git://`, `ssh://`, `file://` URLs, or scp-like `user@host:path`.
/// Credentials in the URL are refused: the index is public and its URLs are shown on every page.
pub fn git_url(value: &str) -> Result<(), String> {
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("`{value}` contains spaces or control characters"));
    }
    if let Some((scheme, rest)) = value.split_once("://") {
        if !matches!(scheme, "https" | "http" | "git" | "ssh" | "file") {
            return Err(format!("`{scheme}://` is not a git transport; use https://, ssh://, git:// or file://"));
        }
        let authority = rest.split('/').next().unwrap_or("");
        if let Some((userinfo, _)) = authority.rsplit_once('@')
            && (userinfo.contains(':') || scheme.starts_with("http"))
        {
            return Err("the URL carries credentials; configure them in Slipway, never in the index".to_string());
        }
        if scheme != "file" && authority.is_empty() {
            return Err(format!("`{value}` has no host"));
        }
        if rest.trim_start_matches(authority).trim_matches('/').is_empty() {
            return Err(format!("`{value}` names no repository path"));
        }
        return Ok(());
    }
    // scp-like syntax: [user@]host:path, with no `/` before the colon.
    match value.split_once(':') {
        Some((host, path)) if !host.is_empty() && !host.contains('/') && !path.is_empty() => Ok(()),
        _ => Err(format!("`{value}` is not a git URL; write e.g. `https://github.com/org/repo`")),
    }
}

/// git's ref-name rules (git-check-ref-format), for a branch name.
pub fn branch(value: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("`{value}` is not a valid branch name: {why}"));
    if value.starts_with('-') || value.starts_with('/') || value.ends_with('/') {
        return bad("it may not start with `-` or `/`, or end with `/`");
    }
    if value.chars().any(|c| c.is_control() || " ~^:?*[\\".contains(c)) {
        return bad("spaces and `~ ^ : ? * [ \\` are not allowed");
    }
    if value.contains("..") || value.contains("@{") || value.contains("//") || value == "@" {
        return bad("`..`, `@{`, `//` and a lone `@` are not allowed");
    }
    if value.ends_with('.') || value.ends_with(".lock") || value.split('/').any(|part| part.starts_with('.')) {
        return bad("no component may start with `.` or end with `.lock`, and it may not end with `.`");
    }
    Ok(())
}

/// A 5-field cron expression (minute hour day-of-month month day-of-week) or a nickname like `@weekly`.
pub fn cron(value: &str) -> Result<(), String> {
    let fields = value.split_whitespace().count();
    if !value.starts_with('@') && fields != 5 {
        return Err(format!(
            "`{value}` has {fields} fields; a schedule has 5: minute hour day-of-month month day-of-week \
             (e.g. `0 3 * * 1`)"
        ));
    }
    let parser = CronParser::builder().seconds(Seconds::Disallowed).year(Year::Disallowed).build();
    parser.parse(value).map(|_| ()).map_err(|err| format!("`{value}` is not a valid schedule: {err}"))
}

/// `90`, `90s`, `10m`, `1h30m`: at least a second and at most a day.
pub fn duration(value: &str) -> Result<Duration, String> {
    let bad = || format!("`{value}` is not a duration; write seconds (`600`) or units (`90s`, `10m`, `1h30m`)");
    let mut total: u64 = 0;
    let mut number = String::new();
    let mut saw_unit = false;
    for c in value.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return Err(bad()),
        };
        let n: u64 = number.parse().map_err(|_| bad())?;
        total = total.saturating_add(n.saturating_mul(unit));
        number.clear();
        saw_unit = true;
    }
    if !number.is_empty() {
        if saw_unit {
            return Err(bad());
        }
        total = number.parse().map_err(|_| bad())?;
    }
    if value.is_empty() || !(1..=86_400).contains(&total) {
        return Err(format!("`{value}` must be between 1 second and 24 hours"));
    }
    Ok(Duration::from_secs(total))
}

/// A build argument name, as Docker accepts it in `ARG`.
pub fn build_arg_name(value: &str) -> Result<(), String> {
    let mut chars = value.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err(format!("`{value}` is not a build argument name; use letters, digits and `_`, not starting with a digit"))
    }
}

/// A Dockerfile stage name (`FROM … AS name`), as BuildKit accepts them.
pub fn stage_name(value: &str) -> Result<(), String> {
    let ok = value.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && value.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{value}` is not a stage name; use the name after `AS` in the Dockerfile (letters, digits, `.`, `_`, `-`)"
        ))
    }
}

/// A named registry target from Slipway's configuration.
pub fn registry_name(value: &str) -> Result<(), String> {
    let ok = value.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!("`{value}` is not a registry name; use lower-case letters, digits, `.`, `_`, `-`"))
    }
}

/// The closest of `candidates` to `word`, if it is close enough to be what the author meant.
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let normal = |s: &str| s.to_ascii_lowercase().replace(['_', ' '], "-");
    let wanted = normal(word);
    let (best, distance) =
        candidates.iter().map(|c| (*c, edit_distance(&wanted, &normal(c)))).min_by_key(|(_, d)| *d)?;
    (distance <= (wanted.chars().count() / 3).max(1)).then_some(best)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in ["a@b.org", "first.last+tag@sub.example.com", "x_y@d-e.io"] {
            assert_eq!(email(ok), Ok(()), "{ok}");
        }
        for bad in ["", "a", "a@b", "@b.org", "a@.org", "a b@c.org", "a@b..org", "a@b.org, c@d.org", ".a@b.org"] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn git_urls() {
        for ok in
            ["https://github.com/CentOS/x", "git://127.0.0.1:9418/demo.git", "git@github.com:o/r.git", "file:///srv/r"]
        {
            assert_eq!(git_url(ok), Ok(()), "{ok}");
        }
        for bad in
            ["github.com/x", "ftp://h/r", "https://u:p@h/r", "https://token@h/r", "https://h", "https://h/", "a b"]
        {
            assert!(git_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn branches() {
        for ok in ["master", "CentOS-7-x86_64", "feature/x", "v1.0"] {
            assert_eq!(branch(ok), Ok(()), "{ok}");
        }
        for bad in ["-x", "a..b", "a b", "x.lock", "a/", "a/.b", "a:b", "a~1"] {
            assert!(branch(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn crons() {
        for ok in ["0 3 * * 1", "*/15 * * * *", "@weekly", "0 0 1 jan *"] {
            assert_eq!(cron(ok), Ok(()), "{ok}");
        }
        for bad in ["0 3 * *", "0 0 3 * * 1", "61 * * * *", "every day", ""] {
            assert!(cron(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(duration("600"), Ok(Duration::from_secs(600)));
        assert_eq!(duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(duration("90s"), Ok(Duration::from_secs(90)));
        for bad in ["", "0", "10x", "1.5h", "m", "25h", "10m5"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn suggestions() {
        let keys = ["build-context", "git-url", "git-path", "target-file"];
        assert_eq!(did_you_mean("build_context", &keys), Some("build-context"));
        assert_eq!(did_you_mean("git-pth", &keys), Some("git-path"));
        assert_eq!(did_you_mean("Target-File", &keys), Some("target-file"));
        assert_eq!(did_you_mean("colour", &keys), None);
    }
}
