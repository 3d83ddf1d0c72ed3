//! Registry notifications and the rules that act on them. The CNCF registry posts an event for every manifest
//! pushed; a rule in Slipway's configuration matches pushes by `repository:tag` pattern (`*` matches any run of
//! characters) and
//! - adds tags from templates to the pushed digest (`latest_{digest:7}`, `{tag}-{date}`), or
//! - has an index project test and deliver the pushed image instead of building one (`pipeline = "app/job:tag"`):
//!   a pipeline without a build.
//!
//! Each event is handled once: a duplicate (the registry retries, several servers get it) and a push older than
//! one already handled for the same tag change nothing. Slipway's own writes (its registry client and the
//! Docker daemon pushing for it both say `slipway/` in their user agent) and digests Slipway built are not
//! acted on, so a rule can never feed itself.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use slipway_registry::notifications::{EnvelopeError, TagPush, parse_envelope};
use slipway_registry::{Reference, RegistryClient};
use slipway_store::{EventClaim, NewRegistryEvent, NewTagEvent, Store, StoreError};

use crate::triggers::{Trigger, request};

/// One rule as written in the configuration (`[[registry_events.rules]]`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EventRule {
    /// `repository:tag`, each part a pattern where `*` matches anything: `incoming/*:latest`, `vendor/app:v*`.
    #[serde(rename = "match")]
    pub pattern: String,
    /// Tags to add to the pushed digest: `{tag}`, `{digest}` (hex), `{digest:N}` (its first N), `{date}`
    /// (`YYYYMMDD` of the push, UTC).
    #[serde(default)]
    pub add_tags: Vec<String>,
    /// The index project (`app/job:tag`) that tests and delivers the pushed image.
    #[serde(default)]
    pub pipeline: Option<String>,
}

/// A rule that cannot work, found when the configuration is read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("registry_events.rules[{index}] ({pattern}): {problem}")]
pub struct RuleError {
    /// 1-based, as people count.
    pub index: usize,
    pub pattern: String,
    pub problem: String,
}

/// The rules, checked.
#[derive(Debug, Clone, Default)]
pub struct EventRules {
    rules: Vec<(usize, Pattern, EventRule)>,
}

#[derive(Debug, Clone)]
struct Pattern {
    repository: String,
    tag: String,
}

impl EventRules {
    pub fn new(rules: Vec<EventRule>) -> Result<EventRules, RuleError> {
        let mut checked = Vec::with_capacity(rules.len());
        for (at, rule) in rules.into_iter().enumerate() {
            let error = |problem: String| RuleError { index: at + 1, pattern: rule.pattern.clone(), problem };
            let Some((repository, tag)) = rule.pattern.rsplit_once(':') else {
                return Err(error("`match` must be `repository:tag`, e.g. `incoming/*:latest`".into()));
            };
            if repository.is_empty() || tag.is_empty() {
                return Err(error("`match` needs both a repository and a tag pattern (`*` for any)".into()));
            }
            if rule.add_tags.is_empty() && rule.pipeline.is_none() {
                return Err(error("the rule does nothing: give `add_tags`, `pipeline` or both".into()));
            }
            let sample = Placeholders { tag: "latest", digest_hex: &"0".repeat(64), date: "20261203" };
            for template in &rule.add_tags {
                let tag = render(template, &sample).map_err(error)?;
                if !slipway_oci_name::is_tag(&tag) {
                    return Err(error(format!("add_tags `{template}` gives `{tag}`, which is not a valid tag")));
                }
            }
            let pattern = Pattern { repository: repository.to_string(), tag: tag.to_string() };
            checked.push((at + 1, pattern, rule));
        }
        Ok(EventRules { rules: checked })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    fn matching<'a>(&'a self, repository: &'a str, tag: &'a str) -> impl Iterator<Item = (usize, &'a EventRule)> {
        self.rules
            .iter()
            .filter(move |(_, p, _)| glob(&p.repository, repository) && glob(&p.tag, tag))
            .map(|(index, _, rule)| (*index, rule))
    }
}

/// What became of one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventOutcome {
    pub event_id: String,
    pub repository: String,
    pub tag: String,
    pub digest: String,
    /// In words: what was done, or why nothing was.
    pub outcome: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryEventError {
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// Handling failed half-way; the event was forgotten so the registry's retry handles it again.
    #[error("registry event {event_id} ({repository}:{tag}): {reason}; the registry's retry will handle it again")]
    Failed { event_id: String, repository: String, tag: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Handles the notification `body` from `registry` (`host:port`, the one Slipway delivers to) under `rules`.
pub async fn handle_notification(
    store: &Store,
    client: &RegistryClient,
    registry: &str,
    rules: &EventRules,
    body: &[u8],
) -> Result<Vec<EventOutcome>, RegistryEventError> {
    let envelope = parse_envelope(body)?;
    let mut outcomes = Vec::new();
    for push in envelope.events.iter().filter_map(|event| event.tag_push()) {
        let outcome = handle_push(store, client, registry, rules, &push).await?;
        outcomes.push(EventOutcome {
            event_id: push.event_id,
            repository: push.repository,
            tag: push.tag,
            digest: push.digest,
            outcome,
        });
    }
    Ok(outcomes)
}

async fn handle_push(
    store: &Store,
    client: &RegistryClient,
    registry: &str,
    rules: &EventRules,
    push: &TagPush,
) -> Result<String, RegistryEventError> {
    if push.user_agent.contains("slipway/") {
        return Ok("ignored: written by Slipway".into());
    }
    let matching: Vec<(usize, &EventRule)> = rules.matching(&push.repository, &push.tag).collect();
    if matching.is_empty() {
        return Ok("ignored: no rule matches".into());
    }
    let repository = format!("{registry}/{}", push.repository);
    if store.image_by_digest(&repository, &push.digest).await?.is_some() {
        return Ok("ignored: a digest Slipway built".into());
    }
    // A registry whose clock gives nothing readable still has its events handled, in arrival order.
    let pushed_at = DateTime::parse_from_rfc3339(&push.timestamp).map_or_else(|_| Utc::now(), |t| t.to_utc());
    let event = NewRegistryEvent {
        event_id: push.event_id.clone(),
        repository: push.repository.clone(),
        tag: push.tag.clone(),
        digest: push.digest.clone(),
        pushed_at,
    };
    match store.claim_registry_event(&event).await? {
        EventClaim::New => {}
        EventClaim::Duplicate { outcome } => return Ok(format!("duplicate, handled already: {outcome}")),
        EventClaim::Superseded { digest, pushed_at } => {
            return Ok(format!("ignored: older than the push of {digest} at {pushed_at}, handled already"));
        }
    }
    // Tags first, for every rule: writing a tag again is harmless, so a failure there (the event is then
    // forgotten and sent again) repeats nothing. Pipelines last: asking for a build twice would deliver twice.
    let mut done = Vec::new();
    let failed = |reason: String| RegistryEventError::Failed {
        event_id: push.event_id.clone(),
        repository: push.repository.clone(),
        tag: push.tag.clone(),
        reason,
    };
    for (index, rule) in matching.iter().filter(|(_, rule)| !rule.add_tags.is_empty()) {
        match add_tags(store, client, registry, &repository, push, pushed_at, *index, rule).await {
            Ok(what) => done.push(what),
            Err(Refusal::Permanent(why)) => done.push(format!("rule {index} refused: {why}")),
            Err(Refusal::Temporary(why)) => {
                store.forget_registry_event(&push.event_id).await?;
                return Err(failed(why));
            }
        }
    }
    for (_, rule) in &matching {
        let Some(image) = &rule.pipeline else { continue };
        let trigger =
            Trigger::ImagePushed { repository: repository.clone(), tag: push.tag.clone(), digest: push.digest.clone() };
        match store.project_by_image(image).await?.filter(|p| p.active) {
            None => done.push(format!("no active project {image} in the index to test and deliver it")),
            Some(project) => {
                let requested = request(store, project.id, &trigger, Vec::new()).await?;
                let how = if requested.merged { "joined queued" } else { "queued" };
                done.push(format!("{how} build #{} of {image} to test and deliver it", requested.build.number));
            }
        }
    }
    let outcome = done.join("; ");
    store.finish_registry_event(&push.event_id, &outcome).await?;
    Ok(outcome)
}

/// Why a rule could not be carried out.
enum Refusal {
    /// It never will be (a tag the template makes is invalid, the pushed digest is gone): recorded, not retried.
    Permanent(String),
    /// The registry or the database failed: the registry sends the event again.
    Temporary(String),
}

/// Writes the pushed digest under the tags `rule` makes, and records them in the tag history.
#[allow(clippy::too_many_arguments)]
async fn add_tags(
    store: &Store,
    client: &RegistryClient,
    registry: &str,
    repository: &str,
    push: &TagPush,
    pushed_at: DateTime<Utc>,
    index: usize,
    rule: &EventRule,
) -> Result<String, Refusal> {
    let date = pushed_at.format("%Y%m%d").to_string();
    let values = Placeholders { tag: &push.tag, digest_hex: push.digest.trim_start_matches("sha256:"), date: &date };
    let tags =
        rule.add_tags.iter().map(|t| render(t, &values)).collect::<Result<Vec<_>, _>>().map_err(Refusal::Permanent)?;
    if let Some(bad) = tags.iter().find(|tag| !slipway_oci_name::is_tag(tag)) {
        return Err(Refusal::Permanent(format!("`{bad}` is not a valid tag (128 characters at most, [A-Za-z0-9_.-])")));
    }
    let source: Reference = format!("{repository}@{}", push.digest)
        .parse()
        .map_err(|e| Refusal::Permanent(format!("the pushed digest: {e}")))?;
    client.tag(&source, &tags).await.map_err(|e| {
        let why = format!("adding tags {}: {e}", tags.join(", "));
        if e.is_not_found() { Refusal::Permanent(why) } else { Refusal::Temporary(why) }
    })?;
    for tag in &tags {
        let event = NewTagEvent {
            registry: registry.to_string(),
            repository: repository.to_string(),
            tag: tag.clone(),
            digest: push.digest.clone(),
            previous_digest: None,
            by: format!("registry event rule {index} ({})", rule.pattern),
            build_id: None,
        };
        store.record_tag_event(&event).await.map_err(|e| Refusal::Temporary(e.to_string()))?;
    }
    Ok(format!("tagged {}", tags.join(", ")))
}

struct Placeholders<'a> {
    tag: &'a str,
    digest_hex: &'a str,
    date: &'a str,
}

/// Fills `{tag}`, `{digest}`, `{digest:N}` and `{date}` in `template`.
fn render(template: &str, values: &Placeholders<'_>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            return Err(format!("add_tags `{template}` has a `{{` without its `}}`"));
        };
        let name = &rest[open + 1..open + close];
        let value = match name.split_once(':') {
            None if name == "tag" => values.tag.to_string(),
            None if name == "digest" => values.digest_hex.to_string(),
            None if name == "date" => values.date.to_string(),
            Some(("digest", len)) => match len.parse::<usize>() {
                Ok(len) if (1..=64).contains(&len) => values.digest_hex.chars().take(len).collect(),
                _ => return Err(format!("add_tags `{template}`: `{{digest:N}}` needs N from 1 to 64, not `{len}`")),
            },
            _ => {
                return Err(format!(
                    "add_tags `{template}` names `{{{name}}}`; known are {{tag}}, {{digest}}, {{digest:N}}, {{date}}"
                ));
            }
        };
        out.push_str(&value);
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Whether `text` matches `pattern`, where `*` matches any run of characters (none included).
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else { return rest.is_empty() };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(pattern: &str, add_tags: &[&str], pipeline: Option<&str>) -> EventRule {
        EventRule {
            pattern: pattern.into(),
            add_tags: add_tags.iter().map(|t| t.to_string()).collect(),
            pipeline: pipeline.map(str::to_string),
        }
    }

    #[test]
    fn patterns_match_repository_and_tag_apart() {
        assert!(glob("incoming/*", "incoming/app"));
        assert!(glob("*", ""));
        assert!(glob("v*.*", "v1.2"));
        assert!(!glob("v*.*", "v12"));
        assert!(glob("a*b*c", "abc") && glob("a*b*c", "axxbyyc") && !glob("a*b*c", "axxbyy"));
        assert!(!glob("latest", "latest2") && glob("latest", "latest"));
        let rules = EventRules::new(vec![rule("incoming/*:latest", &["x"], None)]).expect("valid");
        assert_eq!(rules.matching("incoming/app", "latest").count(), 1);
        assert_eq!(rules.matching("incoming/app", "v1").count(), 0);
        assert_eq!(rules.matching("other/app", "latest").count(), 0);
    }

    #[test]
    fn templates_fill_tag_digest_and_date() {
        let hex = "0123456789abcdef".repeat(4);
        let values = Placeholders { tag: "latest", digest_hex: &hex, date: "20261203" };
        assert_eq!(render("latest_{digest:7}", &values).expect("renders"), "latest_0123456");
        assert_eq!(render("{tag}-{date}", &values).expect("renders"), "latest-20261203");
        assert_eq!(render("sha-{digest}", &values).expect("renders"), format!("sha-{hex}"));
        assert!(render("{nope}", &values).expect_err("refused").contains("known are"));
        assert!(render("{digest:0}", &values).is_err() && render("{tag", &values).is_err());
    }

    #[test]
    fn rules_that_cannot_work_are_refused_naming_the_rule() {
        let err =
            EventRules::new(vec![rule("a:b", &["ok"], None), rule("nocolon", &["x"], None)]).expect_err("refused");
        assert_eq!(err.index, 2);
        assert!(err.to_string().contains("repository:tag"), "{err}");
        let err = EventRules::new(vec![rule("a:*", &[], None)]).expect_err("refused");
        assert!(err.problem.contains("does nothing"), "{err}");
        let err = EventRules::new(vec![rule("a:*", &["bad/{tag}"], None)]).expect_err("refused");
        assert!(err.problem.contains("not a valid tag"), "{err}");
    }
}
