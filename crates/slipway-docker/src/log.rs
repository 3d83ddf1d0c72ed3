//! Turning Docker's byte chunks into lines for the log callback, and keeping a short tail for error reports.

use std::collections::VecDeque;

/// Lines longer than this are passed on in pieces, so one newline-free flood cannot grow memory without bound.
pub(crate) const MAX_LINE_BYTES: usize = 64 * 1024;

/// Splits chunks that may end mid-line into whole lines (`\n` or `\r\n`), lossily decoded as UTF-8.
#[derive(Debug, Default)]
pub(crate) struct LineSplitter {
    pending: Vec<u8>,
}

impl LineSplitter {
    /// Feeds a chunk, calling `emit` for every line it completes.
    pub(crate) fn push(&mut self, mut chunk: &[u8], emit: &mut dyn FnMut(&str)) {
        while let Some(pos) = chunk.iter().position(|&b| b == b'\n') {
            self.pending.extend_from_slice(&chunk[..pos]);
            self.flush_pending(emit);
            chunk = &chunk[pos + 1..];
        }
        self.pending.extend_from_slice(chunk);
        while self.pending.len() >= MAX_LINE_BYTES {
            let rest = self.pending.split_off(MAX_LINE_BYTES);
            let piece = std::mem::replace(&mut self.pending, rest);
            emit(&String::from_utf8_lossy(&piece));
        }
    }

    /// Emits the last line if the stream did not end with a newline.
    pub(crate) fn finish(&mut self, emit: &mut dyn FnMut(&str)) {
        if !self.pending.is_empty() {
            self.flush_pending(emit);
        }
    }

    fn flush_pending(&mut self, emit: &mut dyn FnMut(&str)) {
        if self.pending.last() == Some(&b'\r') {
            self.pending.pop();
        }
        emit(&String::from_utf8_lossy(&self.pending));
        self.pending.clear();
    }
}

/// The last `cap` bytes of a log, kept line by line, for the `output` of a failed test or an error message.
#[derive(Debug)]
pub(crate) struct Tail {
    lines: VecDeque<String>,
    bytes: usize,
    cap: usize,
}

impl Tail {
    pub(crate) fn new(cap: usize) -> Tail {
        Tail { lines: VecDeque::new(), bytes: 0, cap }
    }

    pub(crate) fn push(&mut self, line: &str) {
        let line = last_bytes(line, self.cap.saturating_sub(1));
        self.bytes += line.len() + 1;
        self.lines.push_back(line.to_string());
        while self.bytes > self.cap && self.lines.len() > 1 {
            match self.lines.pop_front() {
                Some(old) => self.bytes -= old.len() + 1,
                None => break,
            }
        }
    }

    /// The kept lines joined with newlines.
    pub(crate) fn text(&self) -> String {
        let mut out = String::with_capacity(self.bytes);
        for line in &self.lines {
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

/// The longest suffix of `s` that fits in `max` bytes and starts on a character boundary.
pub(crate) fn last_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// The last `max` bytes of `s`, prefixed with a note when something was cut.
pub(crate) fn cap_output(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    format!("[… earlier output cut …]\n{}", last_bytes(s, max))
}

/// Passes a progress status on only when it differs from the previous one, so per-chunk ticks
/// ("Pushing", "Pushing", …) become one line while every change of state is kept.
#[derive(Debug, Default)]
pub(crate) struct StatusFilter {
    last: Option<String>,
}

impl StatusFilter {
    pub(crate) fn changed(&mut self, status: &str) -> bool {
        if self.last.as_deref() == Some(status) {
            return false;
        }
        self.last = Some(status.to_string());
        true
    }
}

/// A duration as a person reads it: `0.4 s`, `3 s`, `2 min 5 s`, `1 h 30 min`.
pub(crate) fn human(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0..10 => {
            let tenths = d.as_millis().div_ceil(100);
            if tenths.is_multiple_of(10) {
                format!("{} s", tenths / 10)
            } else {
                format!("{}.{} s", tenths / 10, tenths % 10)
            }
        }
        10..60 => format!("{secs} s"),
        60..3600 if secs.is_multiple_of(60) => format!("{} min", secs / 60),
        60..3600 => format!("{} min {} s", secs / 60, secs % 60),
        _ if secs % 3600 < 60 => format!("{} h", secs / 3600),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

/// A byte count as a person reads it: `512 B`, `64 KiB`, `1.5 MiB`.
pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value.fract() < 0.05 { format!("{value:.0} {}", UNITS[unit]) } else { format!("{value:.1} {}", UNITS[unit]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_filter_drops_repeats_only() {
        let mut filter = StatusFilter::default();
        let seen: Vec<&str> = ["Preparing", "Preparing", "Pushing", "Pushing", "Pushed", "Pushing"]
            .into_iter()
            .filter(|s| filter.changed(s))
            .collect();
        assert_eq!(seen, ["Preparing", "Pushing", "Pushed", "Pushing"]);
    }

    #[test]
    fn human_units() {
        use std::time::Duration;
        let cases = [
            (Duration::from_millis(400), "0.4 s"),
            (Duration::from_secs(3), "3 s"),
            (Duration::from_millis(3001), "3.1 s"),
            (Duration::from_secs(45), "45 s"),
            (Duration::from_secs(120), "2 min"),
            (Duration::from_secs(125), "2 min 5 s"),
            (Duration::from_secs(3600), "1 h"),
            (Duration::from_secs(5400), "1 h 30 min"),
        ];
        for (d, want) in cases {
            assert_eq!(human(d), want);
        }
        let bytes = [(10, "10 B"), (65536, "64 KiB"), (1536 * 1024, "1.5 MiB"), (512 * 1024 * 1024, "512 MiB")];
        for (n, want) in bytes {
            assert_eq!(human_bytes(n), want);
        }
    }

    fn split(chunks: &[&[u8]]) -> Vec<String> {
        let mut out = Vec::new();
        let mut splitter = LineSplitter::default();
        for chunk in chunks {
            splitter.push(chunk, &mut |l| out.push(l.to_string()));
        }
        splitter.finish(&mut |l| out.push(l.to_string()));
        out
    }

    #[test]
    fn splits_lines_across_chunks() {
        let cases: &[(&[&[u8]], &[&str])] = &[
            (&[b"a\nb\n"], &["a", "b"]),
            (&[b"par", b"tial\nnext"], &["partial", "next"]),
            (&[b"crlf\r\n", b"\n"], &["crlf", ""]),
            (&[b""], &[]),
            (&[b"\xff\xfe\n"], &["\u{fffd}\u{fffd}"]),
        ];
        for (chunks, want) in cases {
            assert_eq!(split(chunks), *want, "chunks {chunks:?}");
        }
    }

    #[test]
    fn long_lines_come_in_pieces() {
        let long = vec![b'y'; MAX_LINE_BYTES * 2 + 10];
        let lines = split(&[&long]);
        assert_eq!(lines.iter().map(String::len).collect::<Vec<_>>(), vec![MAX_LINE_BYTES, MAX_LINE_BYTES, 10]);
    }

    #[test]
    fn tail_keeps_the_last_bytes() {
        let mut tail = Tail::new(11);
        for line in ["one", "two", "three", "four"] {
            tail.push(line);
        }
        assert_eq!(tail.text(), "three\nfour\n");
        tail.push("a-very-long-line-indeed");
        assert_eq!(tail.text(), "ine-indeed\n");
    }

    #[test]
    fn last_bytes_respects_char_boundaries() {
        assert_eq!(last_bytes("héllo", 4), "llo");
        assert_eq!(last_bytes("abc", 10), "abc");
        assert_eq!(cap_output("abcdef", 3), "[… earlier output cut …]\ndef");
    }
}
