//! The network a project's prebuild script and build steps run on: its `build-network`, else the
//! configuration's `[pipeline] build_network`. One answer for both, so a prebuild never has more network than
//! the build it prepares.

use slipway_index::BuildNetwork;

use crate::spec::ProjectSpec;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildNetworkMode {
    /// No network: a build that needs to download says so in its index entry.
    None,
    /// The daemon's default (bridge) network.
    Default,
    /// The worker host's own network.
    Host,
    /// Another Docker network, named in the configuration.
    Named(String),
}

impl BuildNetworkMode {
    /// From `[pipeline] build_network` as the worker holds it (none: the daemon's default).
    pub fn configured(setting: Option<&str>) -> Self {
        match setting {
            None | Some("default" | "bridge") => BuildNetworkMode::Default,
            Some("none") => BuildNetworkMode::None,
            Some("host") => BuildNetworkMode::Host,
            Some(other) => BuildNetworkMode::Named(other.to_string()),
        }
    }

    /// Nothing the build runs can reach a network, so nothing may be downloaded on its behalf either.
    pub fn is_offline(&self) -> bool {
        *self == BuildNetworkMode::None
    }

    /// The build API's network mode; none for the daemon's default.
    pub fn docker_mode(&self) -> Option<String> {
        match self {
            BuildNetworkMode::None => Some("none".into()),
            BuildNetworkMode::Default => None,
            BuildNetworkMode::Host => Some("host".into()),
            BuildNetworkMode::Named(name) => Some(name.clone()),
        }
    }
}

impl ProjectSpec {
    /// The network this project's prebuild script and build steps run on, given the worker's configured one.
    pub fn build_network(&self, configured: Option<&str>) -> BuildNetworkMode {
        match self.build_network {
            Some(BuildNetwork::None) => BuildNetworkMode::None,
            Some(BuildNetwork::Default) => BuildNetworkMode::Default,
            Some(BuildNetwork::Host) => BuildNetworkMode::Host,
            None => BuildNetworkMode::configured(configured),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_overrides_the_configuration() {
        let text = "Projects:\n  - app-id: demo\n    job-id: web\n    git-url: git://127.0.0.1/web\n    \
                    git-branch: main\n    git-path: /\n    target-file: Dockerfile\n    notify-email: a@b.org\n";
        let index = slipway_index::Index::from_texts([("index.d/demo.yaml".into(), text.to_string())]);
        let project = index.projects().next().expect("a project");
        let mut spec = ProjectSpec::new(project, false);
        assert_eq!(spec.build_network(Some("none")), BuildNetworkMode::None);
        assert_eq!(spec.build_network(None), BuildNetworkMode::Default);
        assert_eq!(spec.build_network(Some("ci-net")).docker_mode().as_deref(), Some("ci-net"));
        spec.build_network = Some(BuildNetwork::Default);
        assert_eq!(spec.build_network(Some("none")), BuildNetworkMode::Default);
        assert!(!spec.build_network(Some("none")).is_offline());
        spec.build_network = Some(BuildNetwork::None);
        assert!(spec.build_network(None).is_offline());
        let back: ProjectSpec = serde_json::from_value(spec.to_json()).expect("json");
        assert_eq!(back.build_network, Some(BuildNetwork::None));
    }
}
