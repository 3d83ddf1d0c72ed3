//! Mail to a project's `notify-email` when a build ends. `notify-on: failure` (the default) mails a failed or
//! errored build and the first success after one ("fixed"); `always` mails every success too; `never` nothing.
//! A mail names the image, why the build ran, the failing stage and its error, the end of that stage's log,
//! and links to the build page and the raw log. Each ended build is claimed before its mail is sent, so a
//! build is mailed at most once however many servers run; builds that ended more than a day before the
//! notifier saw them are marked without mail (turning mail on does not mail the past).

use chrono::{TimeDelta, Utc};
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use slipway_store::{Build, BuildState, Project, Store, StoreError};

use crate::triggers::only_scheduled;

/// Lines of the failing stage's log a mail quotes.
const LOG_LINES: usize = 20;
/// Builds looked at per round.
const BATCH: u64 = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    Failed,
    Fixed,
    Succeeded,
}

/// Which mail, if any, `build` deserves under `notify_on`, given the project's build before it.
pub fn mail_kind(notify_on: &str, build: &Build, previous: Option<&Build>) -> Option<MailKind> {
    let wrong = |state: BuildState| matches!(state, BuildState::Failed | BuildState::Errored);
    let kind = if wrong(build.state) {
        MailKind::Failed
    } else if build.state == BuildState::Succeeded && previous.is_some_and(|p| wrong(p.state)) {
        MailKind::Fixed
    } else if build.state == BuildState::Succeeded {
        MailKind::Succeeded
    } else {
        return None;
    };
    match (notify_on, kind) {
        ("never", _) | ("failure", MailKind::Succeeded) => None,
        // The weekly digest tells of scheduled rebuilds that went well.
        (_, MailKind::Succeeded) if only_scheduled(&build.causes) => None,
        _ => Some(kind),
    }
}

/// One mail, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
}

/// Writes the mail about `build` of `project`; `log_tail` is the end of the failing stage's log and
/// `build_url` the build page.
pub fn compose(kind: MailKind, project: &Project, build: &Build, log_tail: &str, build_url: &str) -> Mail {
    let image = &project.image;
    let stage = build.failed_stage.map(|s| s.as_str().to_string());
    let subject = match (kind, &stage) {
        (MailKind::Failed, Some(stage)) => format!("[slipway] {image} #{} {} at {stage}", build.number, build.state),
        (MailKind::Failed, None) => format!("[slipway] {image} #{} {}", build.number, build.state),
        (MailKind::Fixed, _) => format!("[slipway] {image} #{} fixed", build.number),
        (MailKind::Succeeded, _) => format!("[slipway] {image} #{} succeeded", build.number),
    };
    let mut body = match (kind, &stage) {
        (MailKind::Failed, Some(stage)) => {
            format!("{image} build #{} {} at the {stage} stage.\n", build.number, build.state)
        }
        (MailKind::Failed, None) => format!("{image} build #{} {}.\n", build.number, build.state),
        (MailKind::Fixed, _) => {
            format!("{image} build #{} succeeded: the builds before it had failed.\n", build.number)
        }
        (MailKind::Succeeded, _) => format!("{image} build #{} succeeded.\n", build.number),
    };
    body.push('\n');
    body.push_str(&format!("Why it ran: {}\n", build.causes.join("; ")));
    if let Some(commit) = &build.commit {
        let subject = build.commit_subject.as_deref().unwrap_or_default();
        body.push_str(&format!("Commit: {commit} {subject}\n"));
    }
    if let Some(digest) = &build.digest {
        body.push_str(&format!("Image: {digest}\n"));
    }
    if let Some(error) = &build.error {
        body.push_str(&format!("Error: {error}\n"));
    }
    if let (MailKind::Failed, Some(stage)) = (kind, &stage) {
        if !log_tail.trim().is_empty() {
            body.push_str(&format!("\nThe end of the {stage} log:\n\n"));
            for line in log_tail.lines() {
                body.push_str("    ");
                body.push_str(line);
                body.push('\n');
            }
        }
        body.push_str(&format!("\nThe full log: {build_url}/logs/{stage}\n"));
    }
    body.push_str(&format!("The build: {build_url}\n"));
    body.push_str(&format!(
        "\nYou get this mail as the notify-email of {image} in the index ({}:{}).\n",
        project.index_file, project.index_line
    ));
    Mail { to: recipients(project), subject, body }
}

/// The addresses of a project's `notify-email` (several may be separated by commas, semicolons or spaces).
pub(crate) fn recipients(project: &Project) -> Vec<String> {
    project
        .notify_email
        .as_deref()
        .unwrap_or_default()
        .split([',', ' ', ';'])
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(String::from)
        .collect()
}

/// The project's `notify-on`: `failure` (the default), `always` or `never`.
pub(crate) fn notify_on(project: &Project) -> &str {
    project.entry.get("notify_on").and_then(serde_json::Value::as_str).unwrap_or("failure")
}

/// The web page of build `number` of `project`.
pub(crate) fn build_url(base_url: &str, project: &Project, number: i64) -> String {
    format!(
        "{}/projects/{}/{}/{}/builds/{number}",
        base_url.trim_end_matches('/'),
        project.app_id,
        project.job_id,
        project.desired_tag
    )
}

/// The last `lines` lines of `text`, without terminal colour codes.
fn last_lines(text: &str, lines: usize) -> String {
    let plain = strip_ansi(text);
    let all: Vec<&str> = plain.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Removes `ESC [ … letter` sequences.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("`{url}` is not an SMTP URL: {reason} (write smtp://[user:password@]host[:port])")]
    BadUrl { url: String, reason: String },
    #[error("`{address}` is not a mail address: {reason}")]
    BadAddress { address: String, reason: String },
    #[error("the SMTP server refused or failed: {0}")]
    Send(String),
}

/// Sends mail through one SMTP server (plain SMTP; the URL's password never appears in messages).
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("from", &self.from.to_string()).finish_non_exhaustive()
    }
}

impl Mailer {
    /// `smtp://[user[:password]@]host[:port]` (port 25 by default), mail sent from `from`.
    pub fn new(url: &str, from: &str) -> Result<Mailer, MailError> {
        let shown = slipway_git::redact(url);
        let bad = |reason: &str| MailError::BadUrl { url: shown.clone(), reason: reason.to_string() };
        let rest = url.strip_prefix("smtp://").ok_or_else(|| bad("only smtp:// is supported"))?;
        let rest = rest.trim_end_matches('/');
        let (credentials, host_port) = match rest.rsplit_once('@') {
            Some((user, host)) => (Some(user), host),
            None => (None, rest),
        };
        let (host, port) = match host_port.rsplit_once(':') {
            Some((host, port)) => (host, port.parse::<u16>().map_err(|_| bad("the port is not a number"))?),
            None => (host_port, 25),
        };
        if host.is_empty() {
            return Err(bad("it names no host"));
        }
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host).port(port);
        if let Some(credentials) = credentials {
            let (user, password) = credentials.split_once(':').unwrap_or((credentials, ""));
            builder = builder.credentials(Credentials::new(user.to_string(), password.to_string()));
        }
        let from = from
            .parse::<Mailbox>()
            .map_err(|e| MailError::BadAddress { address: from.to_string(), reason: e.to_string() })?;
        Ok(Mailer { transport: builder.build(), from })
    }

    pub async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let mut message = Message::builder().from(self.from.clone()).subject(&mail.subject);
        for to in &mail.to {
            let mailbox = to
                .parse::<Mailbox>()
                .map_err(|e| MailError::BadAddress { address: to.clone(), reason: e.to_string() })?;
            message = message.to(mailbox);
        }
        let message = message
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body.clone())
            .map_err(|e| MailError::Send(e.to_string()))?;
        self.transport.send(message).await.map(drop).map_err(|e| MailError::Send(e.to_string()))
    }
}

/// What one round of notifying did.
#[derive(Debug, Default)]
pub struct NotifyReport {
    /// (image, build number, subject) of every mail sent.
    pub sent: Vec<(String, i64, String)>,
    /// Mails that could not be sent, with why (they are not retried).
    pub failures: Vec<(String, i64, MailError)>,
}

/// Handles the builds that ended since the last round: mails those that deserve one. `base_url` is where the
/// web UI is reached (`http://host:port`), for the links.
pub async fn notify_round(store: &Store, mailer: &Mailer, base_url: &str) -> Result<NotifyReport, StoreError> {
    let mut report = NotifyReport::default();
    for build in store.builds_to_notify(BATCH).await? {
        if !store.mark_notified(build.id).await? {
            continue;
        }
        if build.finished_at.is_some_and(|at| Utc::now() - at > TimeDelta::days(1)) {
            continue;
        }
        let project = store.project(build.project_id).await?;
        let notify_on = notify_on(&project);
        let previous = if build.state == BuildState::Succeeded {
            store.previous_ended_build(project.id, build.number).await?
        } else {
            None
        };
        let Some(kind) = mail_kind(notify_on, &build, previous.as_ref()) else { continue };
        let mut tail = String::new();
        if let Some(kind) = build.failed_stage
            && let Some(stage) = store.stages(build.id).await?.into_iter().find(|s| s.kind == kind)
        {
            let chunks = store.log_tail(stage.id, 4).await?;
            tail = last_lines(&chunks.iter().map(|c| c.text.as_str()).collect::<String>(), LOG_LINES);
        }
        let url = build_url(base_url, &project, build.number);
        let mail = compose(kind, &project, &build, &tail, &url);
        if mail.to.is_empty() {
            continue;
        }
        match mailer.send(&mail).await {
            Ok(()) => report.sent.push((project.image.clone(), build.number, mail.subject)),
            Err(err) => report.failures.push((project.image.clone(), build.number, err)),
        }
    }
    Ok(report)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn build(number: i64, state: BuildState) -> Build {
        Build {
            id: number,
            project_id: 1,
            number,
            causes: vec!["branch main moved to 0123456789ab".into()],
            state,
            commit: Some("0123456789abcdef".into()),
            commit_subject: Some("Fix <b>it</b>".into()),
            semver_tag: None,
            failed_stage: (state == BuildState::Failed).then_some(slipway_store::StageKind::Test),
            error: (state == BuildState::Failed).then(|| "tests/run.sh exited with exit code 1".into()),
            digest: None,
            worker: None,
            created_at: Utc::now(),
            started_at: None,
            finished_at: Some(Utc::now()),
            source_image: None,
        }
    }

    #[test]
    fn failure_mail_by_default_then_fixed_and_never_each_success() {
        let failed = build(2, BuildState::Failed);
        let ok = build(3, BuildState::Succeeded);
        assert_eq!(mail_kind("failure", &failed, None), Some(MailKind::Failed));
        assert_eq!(mail_kind("failure", &ok, Some(&failed)), Some(MailKind::Fixed));
        assert_eq!(mail_kind("failure", &ok, Some(&build(1, BuildState::Succeeded))), None);
        assert_eq!(mail_kind("always", &ok, None), Some(MailKind::Succeeded));
        assert_eq!(mail_kind("never", &failed, None), None);
        assert_eq!(mail_kind("failure", &build(4, BuildState::Skipped), None), None);
        let mut weekly = build(5, BuildState::Succeeded);
        weekly.causes = vec!["schedule: weekly, Mon 04:17 UTC".into()];
        assert_eq!(mail_kind("always", &weekly, None), None, "the digest tells of it");
        assert_eq!(mail_kind("always", &weekly, Some(&failed)), Some(MailKind::Fixed));
    }

    #[test]
    fn a_failure_mail_says_what_where_why_and_links() {
        let project = Project {
            id: 1,
            image: "demo/web:latest".into(),
            app_id: "demo".into(),
            job_id: "web".into(),
            desired_tag: "latest".into(),
            git_url: "git://127.0.0.1/web".into(),
            git_branch: "main".into(),
            git_path: String::new(),
            target_file: "Dockerfile".into(),
            build_context: "./".into(),
            depends_on: vec![],
            notify_email: Some("a@example.org, b@example.org".into()),
            entry: serde_json::json!({}),
            index_file: "index.d/demo.yaml".into(),
            index_line: 12,
            active: true,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let url = "http://127.0.0.1:8080/projects/demo/web/latest/builds/2";
        let tail = last_lines("one\n\u{1b}[31mFAIL: expected 2\u{1b}[0m\n", 20);
        let mail = compose(MailKind::Failed, &project, &build(2, BuildState::Failed), &tail, url);
        assert_eq!(mail.to, ["a@example.org", "b@example.org"]);
        assert_eq!(mail.subject, "[slipway] demo/web:latest #2 failed at test");
        for part in [
            "demo/web:latest build #2 failed at the test stage.",
            "Why it ran: branch main moved to 0123456789ab",
            "Error: tests/run.sh exited with exit code 1",
            "    FAIL: expected 2\n",
            &format!("The full log: {url}/logs/test"),
            &format!("The build: {url}"),
            "index.d/demo.yaml:12",
        ] {
            assert!(mail.body.contains(part), "missing {part:?} in\n{}", mail.body);
        }
        assert!(Mailer::new("smtps://x", "a@b.c").is_err());
        let Err(err) = Mailer::new("smtp://user:secret@127.0.0.1:x", "a@b.c") else { panic!("a bad port") };
        assert!(err.to_string().contains("user:***@") && !err.to_string().contains("secret"), "{err}");
    }
}
