//! A real SMTP sink: Debian's aiosmtpd (python3-aiosmtpd, installed by scripts/setup) on a loopback port of
//! its own, writing each mail it receives to a Maildir.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// An aiosmtpd sink on a loopback port; stopped on drop.
pub struct SmtpSink {
    child: Child,
    /// `smtp://127.0.0.1:PORT`.
    pub url: String,
    /// Where mail lands (a Maildir: `new/` holds one file per mail).
    pub maildir: PathBuf,
    _dir: tempfile::TempDir,
}

/// aiosmtpd's SMTP server with its Maildir handler, on a socket the script binds to port 0 itself and whose
/// port it prints once it listens: no free port is guessed, so concurrent sinks (and other servers) never
/// race for one.
const SINK: &str = r#"
import asyncio, socket, sys
from aiosmtpd.smtp import SMTP
from aiosmtpd.handlers import Mailbox
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
sock.listen(16)
loop = asyncio.new_event_loop()
asyncio.set_event_loop(loop)
handler = Mailbox(sys.argv[1])
loop.run_until_complete(loop.create_server(lambda: SMTP(handler), sock=sock))
print(sock.getsockname()[1], flush=True)
loop.run_forever()
"#;

impl SmtpSink {
    /// Starts the sink; it listens before this returns.
    pub fn start() -> SmtpSink {
        let dir = tempfile::tempdir().expect("a temporary dir");
        let maildir = dir.path().join("mail");
        // Debian's python3-aiosmtpd belongs to /usr/bin/python3 (scripts/setup installs it).
        let mut child = Command::new("/usr/bin/python3")
            .arg("-c")
            .arg(SINK)
            .arg(&maildir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 starts: run scripts/setup (python3-aiosmtpd)");
        let stdout = child.stdout.take().expect("its output");
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let Ok(port) = line.trim().parse::<u16>() else {
            let _ = child.kill();
            panic!("the SMTP sink did not start (is python3-aiosmtpd installed? run scripts/setup)");
        };
        SmtpSink { child, url: format!("smtp://127.0.0.1:{port}"), maildir, _dir: dir }
    }

    /// Every mail received so far, as text.
    pub fn mails(&self) -> Vec<String> {
        read_mails(&self.maildir)
    }
}

/// The mails in `maildir` once there are at least `count` (the sink writes a mail's file just after it
/// accepted it), waiting up to 30 s.
pub fn wait_for_mails(maildir: &Path, count: usize) -> Vec<String> {
    let started = Instant::now();
    loop {
        let mails = read_mails(maildir);
        if mails.len() >= count {
            return mails;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{} mail(s) within 30 s, not {count}", mails.len());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Fails the test, quoting the mail, unless `mail` holds every one of `parts`.
pub fn assert_mail_has<S: AsRef<str>>(mail: &str, parts: &[S]) {
    for part in parts {
        let part = part.as_ref();
        assert!(mail.contains(part), "missing {part:?} in\n{mail}");
    }
}

/// Every mail in `maildir`, decoded, in name order.
pub fn read_mails(maildir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(maildir.join("new")) else { return Vec::new() };
    let mut mails: Vec<String> = entries
        .map(|e| quoted_printable(&std::fs::read_to_string(e.expect("a mail file").path()).expect("a mail")))
        .collect();
    mails.sort();
    mails
}

/// The mail as a reader sees it: quoted-printable soft line breaks joined and `=XX` decoded.
fn quoted_printable(text: &str) -> String {
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
