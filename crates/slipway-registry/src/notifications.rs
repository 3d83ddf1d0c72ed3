//! The notifications a CNCF registry (distribution) posts to the endpoints in its `notifications.endpoints`:
//! an envelope of events (`application/vnd.docker.distribution.events.v1+json`), one per blob or manifest
//! pushed, pulled, mounted or deleted. Only a manifest pushed under a tag is a [`TagPush`].

use serde::Deserialize;

use crate::media::is_known_manifest;

#[derive(Debug, Clone, Deserialize)]
pub struct Envelope {
    #[serde(default)]
    pub events: Vec<Event>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    pub id: String,
    /// RFC 3339, as the registry's clock had it.
    #[serde(default)]
    pub timestamp: String,
    /// `push`, `pull`, `mount` or `delete`.
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub target: EventTarget,
    #[serde(default)]
    pub request: EventRequest,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct EventTarget {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    #[serde(default)]
    pub digest: String,
    #[serde(default)]
    pub repository: String,
    #[serde(default)]
    pub tag: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct EventRequest {
    #[serde(default)]
    pub useragent: String,
}

/// A manifest pushed under a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagPush {
    pub event_id: String,
    pub repository: String,
    pub tag: String,
    pub digest: String,
    pub timestamp: String,
    pub user_agent: String,
}

/// Why a notification body was refused.
#[derive(Debug, thiserror::Error)]
#[error("not a registry notification envelope ({0}); expected {{\"events\": [...]}} as distribution sends it")]
pub struct EnvelopeError(String);

/// Reads a notification body.
pub fn parse_envelope(body: &[u8]) -> Result<Envelope, EnvelopeError> {
    serde_json::from_slice(body).map_err(|err| EnvelopeError(err.to_string()))
}

impl Event {
    /// The tag push this event is, if it is one.
    pub fn tag_push(&self) -> Option<TagPush> {
        let tag = self.target.tag.as_deref().filter(|t| !t.is_empty())?;
        let is_push = self.action == "push" && is_known_manifest(&self.target.media_type);
        is_push.then(|| TagPush {
            event_id: self.id.clone(),
            repository: self.target.repository.clone(),
            tag: tag.to_string(),
            digest: self.target.digest.clone(),
            timestamp: self.timestamp.clone(),
            user_agent: self.request.useragent.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As distribution 2.8 sends it (fields trimmed).
    const ENVELOPE: &str = r#"{"events":[
      {"id":"e1","timestamp":"2026-12-03T06:30:00.123456789Z","action":"push",
       "target":{"mediaType":"application/octet-stream","digest":"sha256:aa","repository":"incoming/app"},
       "request":{"useragent":"docker/20.10"}},
      {"id":"e2","timestamp":"2026-12-03T06:30:01Z","action":"push",
       "target":{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"sha256:bb",
                 "repository":"incoming/app","tag":"latest","size":527},
       "request":{"useragent":"docker/20.10 UpstreamClient(Docker-Client/20.10)","method":"PUT"}},
      {"id":"e3","timestamp":"2026-12-03T06:30:02Z","action":"pull",
       "target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:bb",
                 "repository":"incoming/app","tag":"latest"}}
    ]}"#;

    #[test]
    fn only_manifest_pushes_under_a_tag_count() {
        let envelope = parse_envelope(ENVELOPE.as_bytes()).expect("parses");
        let pushes: Vec<TagPush> = envelope.events.iter().filter_map(Event::tag_push).collect();
        assert_eq!(pushes.len(), 1);
        assert_eq!(
            (pushes[0].event_id.as_str(), pushes[0].tag.as_str(), pushes[0].digest.as_str()),
            ("e2", "latest", "sha256:bb")
        );
        assert!(pushes[0].user_agent.starts_with("docker/"));
    }

    #[test]
    fn other_bodies_are_refused_with_the_expected_shape() {
        let err = parse_envelope(b"[1,2]").expect_err("refused").to_string();
        assert!(err.contains("\"events\""), "{err}");
        assert!(parse_envelope(b"{}").expect("an empty envelope").events.is_empty());
    }
}
