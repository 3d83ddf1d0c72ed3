//! Which container engine answers on the socket: Docker's dockerd, or Podman's Docker-compatible API. They
//! speak the same API version but do not build the same way: dockerd has BuildKit sessions (`/session`,
//! `/grpc`), Podman 4 builds with buildah behind the classic `/build` endpoint. Builders ask [`Engine`] which
//! to use, and say in the build log what they chose.

use std::fmt;

use bollard::models::SystemVersion;

use crate::build::BuildError;
use crate::error::DockerError;

/// The component name Podman's compat API reports in `/version` (`docker version` shows it too).
const PODMAN_COMPONENT: &str = "Podman Engine";
/// Docker's BuildKit sessions came with Engine API 1.39 (Docker 18.09).
const BUILDKIT_API: (u32, u32) = (1, 39);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    Docker,
    Podman,
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EngineKind::Docker => "Docker",
            EngineKind::Podman => "Podman",
        })
    }
}

/// The engine behind one socket, as its `/version` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Engine {
    kind: EngineKind,
    /// The engine's own version: `20.10.24+dfsg1`, or Podman's `4.3.1`.
    version: String,
    /// The Docker Engine API version it speaks (`1.41`).
    api_version: String,
}

impl Engine {
    /// Reads `/version`: Podman names itself in a component; anything else is taken for dockerd.
    pub(crate) fn from_version(version: &SystemVersion) -> Engine {
        let components = version.components.as_deref().unwrap_or_default();
        let podman = components.iter().find(|c| c.name == PODMAN_COMPONENT);
        let (kind, engine_version) = match podman {
            Some(component) => (EngineKind::Podman, Some(component.version.clone())),
            None => (EngineKind::Docker, version.version.clone()),
        };
        Engine {
            kind,
            version: engine_version.filter(|v| !v.is_empty()).unwrap_or_else(|| "unknown".to_string()),
            api_version: version.api_version.clone().unwrap_or_else(|| "unknown".to_string()),
        }
    }

    pub fn kind(&self) -> EngineKind {
        self.kind
    }

    pub fn is_podman(&self) -> bool {
        self.kind == EngineKind::Podman
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn api_version(&self) -> &str {
        &self.api_version
    }

    /// Whether BuildKit can drive builds here: dockerd from API 1.39 on. Podman 4 has no BuildKit sessions;
    /// it builds through the compat `/build` endpoint (buildah), which takes the classic builder's request.
    pub fn supports_buildkit(&self) -> bool {
        self.kind == EngineKind::Docker && parse_api(&self.api_version).is_some_and(|api| api >= BUILDKIT_API)
    }

    /// What a build log should say when this engine cannot build with BuildKit; `None` when it can.
    pub fn build_note(&self) -> Option<String> {
        match self.kind {
            EngineKind::Podman => Some(format!(
                "Podman {} has no BuildKit sessions; building with its Docker-compatible build API (buildah)",
                self.version
            )),
            EngineKind::Docker if !self.supports_buildkit() => Some(format!(
                "Docker {} (API {}) predates BuildKit sessions; building with the classic builder",
                self.version, self.api_version
            )),
            EngineKind::Docker => None,
        }
    }
}

impl Engine {
    /// Gives a failed build back to the project when the engine says one of its steps failed. Podman's compat
    /// build prints `STEP 2/4: RUN …` (not dockerd's `Step 2/4 : RUN …`) and ends a failed step with the stream
    /// error `building at STEP "RUN …": …`; the classic builder's classifier, reading neither, takes the
    /// project's failure for the engine's (errored, retried). Anything else is returned as it is. A step killed
    /// (137) under `memory_bytes` is said to have most likely hit that limit, as on dockerd.
    pub fn classify_build_error(&self, err: BuildError, memory_bytes: Option<i64>) -> BuildError {
        if let (EngineKind::Podman, BuildError::Dockerfile { message }) = (self.kind, &err)
            && let Some((said, _)) = message.split_once(" &imagebuilder.Step{")
        {
            // Buildah appends its parser's Go struct to a Dockerfile error; the maintainer needs the sentence.
            return BuildError::Dockerfile { message: said.trim().to_string() };
        }
        let BuildError::Docker(DockerError::Api { status: None, message, endpoint, operation }) = err else {
            return err;
        };
        match (self.kind, podman_failed_step(&message)) {
            (EngineKind::Podman, Some((step, why))) => {
                let message = match memory_bytes {
                    // 137 is SIGKILL: under a memory limit, the kernel's OOM killer is what sends it.
                    Some(limit) if why.ends_with("exit status 137") => format!(
                        "{why} (killed: most likely the step used more than the build memory limit of {} MiB)",
                        limit >> 20
                    ),
                    _ => why,
                };
                BuildError::Step { step: Some(step), message }
            }
            _ => BuildError::Docker(DockerError::Api { status: None, message, endpoint, operation }),
        }
    }
}

/// `… building at STEP "RUN false": while running runtime: exit status 1` → (`RUN false`, what went wrong).
/// Buildah quotes the step Go-style, so `\"` and `\\` are unescaped.
fn podman_failed_step(message: &str) -> Option<(String, String)> {
    const MARK: &str = "building at STEP \"";
    let quoted = &message[message.find(MARK)? + MARK.len()..];
    let mut step = String::new();
    let mut chars = quoted.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '\\' => step.push(chars.next()?.1),
            '"' => {
                let why = quoted[at + 1..].trim_start_matches(':').trim();
                return Some((step, if why.is_empty() { "the step failed".to_string() } else { why.to_string() }));
            }
            c => step.push(c),
        }
    }
    None
}

/// `Docker 20.10.24+dfsg1 (API 1.41)`, `Podman 4.3.1 (API 1.41)`.
impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} (API {})", self.kind, self.version, self.api_version)
    }
}

fn parse_api(api: &str) -> Option<(u32, u32)> {
    let (major, minor) = api.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::SystemVersionComponents;

    fn version(components: &[(&str, &str)], engine: &str, api: &str) -> SystemVersion {
        SystemVersion {
            components: Some(
                components
                    .iter()
                    .map(|(name, version)| SystemVersionComponents {
                        name: name.to_string(),
                        version: version.to_string(),
                        details: None,
                    })
                    .collect(),
            ),
            version: Some(engine.to_string()),
            api_version: Some(api.to_string()),
            ..Default::default()
        }
    }

    #[test]
    fn engines_are_told_apart() {
        // What dockerd 20.10 and podman 4.3.1's compat API answer on this machine (abridged).
        let docker = Engine::from_version(&version(
            &[("Engine", "20.10.24+dfsg1"), ("containerd", "1.6.20"), ("runc", "1.1.5")],
            "20.10.24+dfsg1",
            "1.41",
        ));
        assert_eq!(docker.to_string(), "Docker 20.10.24+dfsg1 (API 1.41)");
        assert!(docker.supports_buildkit() && docker.build_note().is_none());

        let podman = Engine::from_version(&version(
            &[("Podman Engine", "4.3.1"), ("Conmon", "conmon version 2.1.6"), ("OCI Runtime (runc)", "1.1.5")],
            "4.3.1",
            "1.41",
        ));
        assert_eq!(podman.to_string(), "Podman 4.3.1 (API 1.41)");
        assert!(podman.is_podman() && !podman.supports_buildkit());
        assert_eq!(
            podman.build_note().as_deref(),
            Some("Podman 4.3.1 has no BuildKit sessions; building with its Docker-compatible build API (buildah)")
        );
    }

    #[test]
    fn a_failed_step_on_podman_is_the_projects() {
        let podman = Engine { kind: EngineKind::Podman, version: "4.3.1".into(), api_version: "1.41".into() };
        let docker = Engine { kind: EngineKind::Docker, ..podman.clone() };
        // As Podman 4.3.1 answered here, through bollard.
        let api = |message: &str| {
            BuildError::Docker(DockerError::Api {
                endpoint: "unix:///run/podman/podman.sock".into(),
                operation: "build an image".into(),
                status: None,
                message: message.into(),
            })
        };
        let failed = r#"Docker stream error: building at STEP "RUN echo \"a b\" && false": while running runtime: exit status 1"#;
        match podman.classify_build_error(api(failed), None) {
            BuildError::Step { step, message } => {
                assert_eq!(step.as_deref(), Some(r#"RUN echo "a b" && false"#));
                assert_eq!(message, "while running runtime: exit status 1");
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(docker.classify_build_error(api(failed), None), BuildError::Docker(_)),
            "dockerd never says so"
        );
        let killed = r#"Docker stream error: building at STEP "RUN head -c 900m /dev/zero | tail": while running runtime: exit status 137"#;
        let message = podman.classify_build_error(api(killed), Some(256 << 20)).to_string();
        assert!(
            message.contains(
                "exit status 137 (killed: most likely the step used more than the build memory limit of 256 MiB)"
            ),
            "{message}"
        );
        for message in ["Docker stream error: no space left on device", r#"building at STEP "RUN unterminated"#] {
            assert!(matches!(podman.classify_build_error(api(message), None), BuildError::Docker(_)), "{message}");
        }
    }

    #[test]
    fn a_dockerfile_error_on_podman_is_one_sentence() {
        let podman = Engine { kind: EngineKind::Podman, version: "4.3.1".into(), api_version: "1.41".into() };
        // As Podman 4.3.1 answered `FORM nothing` here.
        let message = "building at STEP \"FORM \": Build error: Unknown instruction: \"FORM\" &imagebuilder.Step{Env:[]string{\"PATH=/bin\"}, Command:\"form\", Original:\"FORM nothing\"}\n";
        let err = podman.classify_build_error(BuildError::Dockerfile { message: message.into() }, None);
        assert_eq!(
            err.to_string(),
            "the Dockerfile is invalid: building at STEP \"FORM \": Build error: Unknown instruction: \"FORM\"; fix the \
             Dockerfile and push again"
        );
    }

    #[test]
    fn old_or_odd_answers() {
        let old = Engine::from_version(&version(&[], "18.06.3", "1.38"));
        assert_eq!(old.kind(), EngineKind::Docker);
        assert!(!old.supports_buildkit());
        assert!(old.build_note().is_some_and(|note| note.contains("classic builder")));
        let bare = Engine::from_version(&SystemVersion::default());
        assert_eq!(bare.to_string(), "Docker unknown (API unknown)");
        assert!(!bare.supports_buildkit());
    }
}
