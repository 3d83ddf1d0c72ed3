//! Turning stored text into safe HTML: every log line is escaped, ANSI colour codes become classes (other
//! escape sequences are dropped), and lines that look like errors are marked for highlighting.

use std::fmt::Write;

use chrono::{DateTime, Utc};

/// One log line, ready for a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogLine {
    /// Escaped HTML: the only markup is `<span class="…">` for colours.
    pub(crate) html: String,
    pub(crate) error: bool,
}

/// Escapes `text` for HTML text and attribute values.
pub(crate) fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\t' => {}
            c => out.push(c),
        }
    }
}

/// Words that mark a line as an error worth a reader's eye.
const ERROR_MARKERS: &[&str] = &[
    "error",
    "fatal",
    "err!",
    "failed",
    "failure",
    "panic",
    "traceback",
    "exception",
    "not found",
    "no such file",
    "permission denied",
    "killed",
    "timed out",
    "exit code",
    "exited with",
];

/// Whether a line reads as an error (case-insensitive, ANSI codes ignored).
pub(crate) fn is_error_line(plain: &str) -> bool {
    let lower = plain.to_ascii_lowercase();
    ERROR_MARKERS.iter().any(|m| lower.contains(m))
}

/// The SGR state carried from one escape to the next.
#[derive(Default, Clone, Copy, PartialEq, Eq)]
struct Style {
    fg: Option<u8>,
    bold: bool,
}

impl Style {
    fn apply(&mut self, params: &str) {
        let codes: Vec<u16> = params.split(';').map(|p| p.parse().unwrap_or(0)).collect();
        for code in codes {
            match code {
                0 => *self = Style::default(),
                1 => self.bold = true,
                22 => self.bold = false,
                30..=37 => self.fg = Some((code - 30) as u8),
                90..=97 => self.fg = Some((code - 90 + 8) as u8),
                39 => self.fg = None,
                _ => {}
            }
        }
    }

    fn classes(self) -> Option<String> {
        let mut classes = Vec::new();
        if let Some(fg) = self.fg {
            classes.push(format!("ansi-fg{fg}"));
        }
        if self.bold {
            classes.push("ansi-bold".to_string());
        }
        (!classes.is_empty()).then(|| classes.join(" "))
    }
}

/// Renders one line: escaped, colours as spans, and whether it is an error line.
pub(crate) fn log_line(line: &str) -> LogLine {
    let mut html = String::with_capacity(line.len() + 16);
    let mut plain = String::with_capacity(line.len());
    let mut style = Style::default();
    let mut open = false;
    let mut rest = line;
    while let Some(at) = rest.find('\u{1b}') {
        escape_into(&mut html, &rest[..at]);
        plain.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        // CSI: ESC [ params final-byte; anything else: drop the ESC and the byte after it.
        let consumed = if let Some(csi) = after.strip_prefix('[') {
            let end = csi.find(|c: char| ('@'..='~').contains(&c)).map_or(csi.len(), |e| e + 1);
            if csi[..end].ends_with('m') {
                let mut next = style;
                next.apply(&csi[..end - 1]);
                if next != style {
                    if open {
                        html.push_str("</span>");
                        open = false;
                    }
                    if let Some(classes) = next.classes() {
                        let _ = write!(html, "<span class=\"{classes}\">");
                        open = true;
                    }
                    style = next;
                }
            }
            1 + end
        } else if after.starts_with(['(', ')']) {
            // A character-set designation: ESC ( B.
            1 + after[1..].chars().next().map_or(0, char::len_utf8)
        } else {
            after.chars().next().map_or(0, char::len_utf8)
        };
        rest = &after[consumed.min(after.len())..];
    }
    escape_into(&mut html, rest);
    plain.push_str(rest);
    if open {
        html.push_str("</span>");
    }
    LogLine { html, error: is_error_line(&plain) }
}

/// `1 h 2 min`, `3 min 4 s`, `5.2 s`, `120 ms`.
pub(crate) fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    match ms {
        0..=999 => format!("{ms} ms"),
        1_000..=59_999 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..=3_599_999 => format!("{} min {} s", ms / 60_000, ms % 60_000 / 1000),
        _ => format!("{} h {} min", ms / 3_600_000, ms % 3_600_000 / 60_000),
    }
}

/// From start to end, or to now while it runs.
pub(crate) fn elapsed(start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> Option<String> {
    let start = start?;
    Some(duration((end.unwrap_or_else(Utc::now) - start).num_milliseconds()))
}

/// `2026-12-02 14:05 UTC`.
pub(crate) fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `sha256:0123456789ab`: enough to tell digests apart on a page (the full one is in a title).
pub(crate) fn short_digest(digest: &str) -> String {
    digest.chars().take("sha256:".len() + 12).collect()
}

/// `https://user:secret@host/x` → `https://user:***@host/x`; other text is returned as it is.
pub(crate) fn mask_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            let masked = if userinfo.contains(':') { format!("{user}:***") } else { "***".to_string() };
            format!("{scheme}://{masked}@{host}{path}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_in_logs_is_inert() {
        let line = log_line("<script>alert('x')</script> & \"q\"");
        assert_eq!(line.html, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;");
    }

    #[test]
    fn ansi_colours_become_classes_and_other_escapes_go() {
        let line = log_line("\u{1b}[1;31mERROR\u{1b}[0m: disk \u{1b}[Kfull\u{1b}(B");
        assert_eq!(line.html, "<span class=\"ansi-fg1 ansi-bold\">ERROR</span>: disk full");
        assert!(line.error);
        let line = log_line("\u{1b}[32mok\u{1b}[91m<b>\u{1b}[39m");
        assert_eq!(line.html, "<span class=\"ansi-fg2\">ok</span><span class=\"ansi-fg9\">&lt;b&gt;</span>");
        assert!(!line.error);
        // A truncated escape at the end of a line, and one inside a multibyte text, never panic.
        assert_eq!(log_line("abc\u{1b}[31").html, "abc");
        assert_eq!(log_line("é\u{1b}é").html, "é");
    }

    #[test]
    fn error_lines_are_found() {
        for line in ["npm ERR! missing", "make: *** Error 2", "Step 3/5 failed", "sh: foo: not found", "exit code 7"] {
            assert!(is_error_line(line), "{line}");
        }
        assert!(!is_error_line("Step 1/5 : FROM busybox"));
    }

    #[test]
    fn url_passwords_are_masked() {
        assert_eq!(mask_url_password("https://bob:hunter2@git.example/x.git"), "https://bob:***@git.example/x.git");
        assert_eq!(mask_url_password("https://ghp_token@git.example/x"), "https://***@git.example/x");
        assert_eq!(mask_url_password("git://127.0.0.1/x"), "git://127.0.0.1/x");
        assert_eq!(mask_url_password("git@github.com:a/b"), "git@github.com:a/b");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(120), "120 ms");
        assert_eq!(duration(5_230), "5.2 s");
        assert_eq!(duration(185_000), "3 min 5 s");
        assert_eq!(duration(3_720_000), "1 h 2 min");
    }
}
