//! A validated index entry: everything the pipeline needs to build, test and deliver one image.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use crate::paths::RepoPath;
use crate::reference::ImageRef;
use crate::yaml::Pos;

/// Where an entry was written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin {
    pub file: PathBuf,
    pub line: u32,
    pub column: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifyOn {
    #[default]
    Failure,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Promotion {
    #[default]
    Auto,
    Manual,
}

/// `build-network`: the network a project's prebuild script and build steps get, over the configuration's
/// `[pipeline] build_network`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BuildNetwork {
    /// No network at all.
    None,
    /// The daemon's default (bridge) network.
    Default,
    /// The worker host's own network.
    Host,
}

impl BuildNetwork {
    pub fn as_str(self) -> &'static str {
        match self {
            BuildNetwork::None => "none",
            BuildNetwork::Default => "default",
            BuildNetwork::Host => "host",
        }
    }
}

/// One `depends-on` parent and where it was written, so graph errors can point at the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parent {
    pub image: ImageRef,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prebuild {
    /// The script, resolved from the repository root.
    pub script: RepoPath,
    /// The directory it runs in.
    pub context: RepoPath,
}

/// The user test settings; the per-repo cccp file can set them too.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TestSettings {
    pub script: Option<RepoPath>,
    pub skip: Option<bool>,
    pub timeout: Option<Duration>,
    /// How long the image's default command must run for the `starts` test (`start-grace`).
    pub start_grace: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// `app-id/job-id:desired-tag`; the registry comes from configuration.
    pub image: ImageRef,
    pub id: Option<String>,
    pub git_url: String,
    pub git_branch: String,
    pub git_path: RepoPath,
    /// The Dockerfile, resolved from the repository root.
    pub target_file: RepoPath,
    pub build_context: RepoPath,
    pub notify_email: String,
    pub depends_on: Vec<Parent>,
    pub prebuild: Option<Prebuild>,
    pub schedule: Option<String>,
    pub notify_on: NotifyOn,
    pub build_args: BTreeMap<String, String>,
    /// The Dockerfile stage to build (`build-target`); none: the last.
    pub build_target: Option<String>,
    /// Build secret names (`build-secrets`), valued in the configuration.
    pub build_secrets: Vec<String>,
    pub test: TestSettings,
    pub promotion: Promotion,
    pub registry: Option<String>,
    /// `build-network`; none: the configuration's.
    pub build_network: Option<BuildNetwork>,
    /// The project's own retention, over the configuration's.
    pub retention: Retention,
}

/// `keep-candidates`, `keep-days` and `rollback-window`: how much of a project's history retention keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Retention {
    /// The newest digests kept in each tier (staging, rc, released).
    pub keep_candidates: Option<u32>,
    /// Staging and identity tags are kept this many days.
    pub keep_days: Option<u32>,
    /// The last released digests kept for rollback.
    pub rollback_window: Option<u32>,
}

/// A field's value exactly as the index wrote it, for `index show` and the UI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    Null,
    Text(String),
    List(Vec<Written>),
    Map(Vec<(String, Written)>),
}

impl Serialize for Written {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Written::Null => serializer.serialize_none(),
            Written::Text(text) => serializer.serialize_str(text),
            Written::List(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Written::Map(pairs) => serialize_pairs(serializer, pairs),
        }
    }
}

/// Serialises `(key, value)` pairs as a JSON object in their written order.
pub(crate) fn serialize_pairs<S: Serializer, V: Serialize>(
    serializer: S,
    pairs: &[(String, V)],
) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(pairs.len()))?;
    for (key, value) in pairs {
        map.serialize_entry(key, value)?;
    }
    map.end()
}
