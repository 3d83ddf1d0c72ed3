//! What keeps a build inside its lines: every path it reads resolves inside the checkout and is the kind of
//! thing it should be (checked at the checkout and again after the prebuild script, which may have replaced
//! any of them); the network of its prebuild and steps; `ADD <url>` refused where the build has no network;
//! and the images it may build on with Slipway's credentials (the rule is the engine's).

use std::fmt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use slipway_docker::{Network, RegistryAuth, Via};
use slipway_engine::{BaseImageRule, BuildNetworkMode, NamedImage};

use crate::failure::{StageFailure, StageResult};
use crate::run::{BuildRun, Log};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Dir,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::File => "a regular file",
            Kind::Dir => "a directory",
        })
    }
}

/// What is wrong with a path the index names, as it is now.
pub(crate) enum PathProblem {
    Missing,
    /// It resolves outside the checkout; `link` is its own target when the path itself is a symlink.
    Outside {
        link: Option<PathBuf>,
        resolved: PathBuf,
    },
    WrongKind {
        found: &'static str,
        wanted: Kind,
    },
}

impl fmt::Display for PathProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathProblem::Missing => f.write_str("does not exist"),
            PathProblem::Outside { link: Some(link), .. } => {
                write!(f, "is a symlink to {}, outside the checkout", link.display())
            }
            PathProblem::Outside { link: None, resolved } => {
                write!(f, "resolves through a symlink to {}, outside the checkout", resolved.display())
            }
            PathProblem::WrongKind { found, wanted } => write!(f, "is {found}, not {wanted}"),
        }
    }
}

/// `relative` under the canonical checkout `root`: it must resolve (symlinks followed) inside `root` and be
/// `kind`. Only metadata is read, so a FIFO is found without blocking on it.
pub(crate) fn resolve_inside(root: &Path, relative: &str, kind: Kind) -> Result<PathBuf, PathProblem> {
    let path = root.join(relative);
    let resolved = path.canonicalize().map_err(|_| PathProblem::Missing)?;
    if !resolved.starts_with(root) {
        let link = std::fs::read_link(&path).ok();
        return Err(PathProblem::Outside { link, resolved });
    }
    let file_type = resolved.metadata().map_err(|_| PathProblem::Missing)?.file_type();
    let found = if file_type.is_dir() {
        "a directory"
    } else if file_type.is_file() {
        "a regular file"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "a device"
    };
    let ok = match kind {
        Kind::File => file_type.is_file(),
        Kind::Dir => file_type.is_dir(),
    };
    if ok { Ok(resolved) } else { Err(PathProblem::WrongKind { found, wanted: kind }) }
}

/// `/relative`, as the repository shows it.
pub(crate) fn shown(relative: &str) -> String {
    format!("/{relative}")
}

impl BuildRun<'_> {
    /// After the prebuild script: the paths the build and the tests read must still be what the checkout
    /// found (a directory or a regular file, inside the checkout). The script may change their contents, not
    /// swap them for a link out or a special file.
    pub(crate) fn recheck_paths(&self, log: Log<'_>) -> StageResult<()> {
        let root = self
            .source
            .canonicalize()
            .map_err(|e| StageFailure::errored(format!("the checkout {} is gone: {e}", self.source.display())))?;
        let mut wanted = vec![
            ("build-context", self.spec.build_context.as_str(), Kind::Dir),
            ("target-file", self.spec.target_file.as_str(), Kind::File),
        ];
        if let Some(script) = &self.test_script {
            wanted.push(("test-script", script.as_str(), Kind::File));
        }
        for (field, path, kind) in wanted {
            resolve_inside(&root, path, kind).map_err(|problem| {
                StageFailure::failed(format!(
                    "after the prebuild script, {field} `{}` {problem}; the prebuild script must leave it {kind} \
                     inside the checkout (it may change what is in it, not replace it)",
                    shown(path)
                ))
            })?;
        }
        log.line("[slipway] after the prebuild script, build-context, target-file and test-script are still inside the checkout");
        Ok(())
    }

    /// The network of this project's prebuild script and build steps.
    pub(crate) fn build_network(&self) -> BuildNetworkMode {
        self.spec.build_network(self.worker.settings.build_network.as_deref())
    }

    /// The prebuild's sandbox network. A script never shares the worker's own network: `host` gets the
    /// default network instead, and the log says so.
    pub(crate) fn prebuild_network(&self, log: Log<'_>) -> Network {
        match self.build_network() {
            BuildNetworkMode::None => Network::None,
            BuildNetworkMode::Default => Network::Mode("bridge".into()),
            BuildNetworkMode::Host => {
                log.line("[slipway] build-network is host: the prebuild script runs on the default network instead");
                Network::Mode("bridge".into())
            }
            BuildNetworkMode::Named(name) => Network::Mode(name),
        }
    }

    /// Refuses, before anything is pulled or built, what the Dockerfile may not reach: `ADD <url>` under a
    /// build without network, and images on a credentialed registry that are not this project's to use. Then
    /// pulls the allowed images that `COPY --from` and mounts name (FROM images are pulled with the parents).
    pub(crate) async fn check_dockerfile(&self, text: &str, log: Log<'_>) -> StageResult<()> {
        let dockerfile = shown(&self.spec.target_file);
        if self.build_network().is_offline() {
            let urls = slipway_docker::add_urls(text, &self.spec.build_args);
            if let Some(add) = urls.first() {
                return Err(StageFailure::failed(format!(
                    "{dockerfile}:{}: ADD {} would be downloaded by the Docker daemon, but this project's builds \
                     have no network (`[pipeline] build_network = \"none\"`, or `build-network: none` in its index \
                     entry); COPY the file from the repository, or set `build-network: default` in the index entry \
                     to allow downloads",
                    add.line, add.url
                )));
            }
        }
        let uses = slipway_docker::image_uses(text, &self.spec.build_args);
        let instructions: Vec<String> = uses.iter().map(|u| u.via.to_string()).collect();
        let named = uses.iter().zip(&instructions).map(|(u, via)| NamedImage {
            line: u.line,
            instruction: via,
            image: &u.image,
        });
        self.base_rule(&|rule| rule.check(&dockerfile, named.clone())).map_err(StageFailure::failed)?;
        for image in uses.iter().filter(|u| u.via != Via::From && slipway_oci_name::names_registry(&u.image)) {
            log.line(format!("[slipway] pulling {} for {} on line {}", image.image, image.via, image.line));
            self.pull_or_say(&image.image, log).await;
        }
        Ok(())
    }

    /// The credentials the daemon may present to pull `image` for this project: only for an image the engine's
    /// rule allows it to build on.
    pub(crate) fn pull_auth(&self, image: &str) -> Option<RegistryAuth> {
        let allowed = self.base_rule(&|rule| rule.access(image).with_credentials());
        if allowed { self.worker.docker_auth(image) } else { None }
    }

    fn base_rule<T>(&self, with: &dyn Fn(&BaseImageRule<'_>) -> T) -> T {
        let credentialed = |host: &str| self.worker.registry.credentials(host).is_some();
        with(&BaseImageRule {
            spec: &self.spec,
            registry: &self.worker.settings.registry,
            pull_for: &self.worker.settings.pull_for,
            credentialed: &credentialed,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn each_problem_says_what_the_path_is_now() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("src");
        std::fs::create_dir_all(root.join("ctx")).unwrap();
        std::fs::write(root.join("Dockerfile"), "FROM scratch\n").unwrap();
        std::os::unix::fs::symlink("/etc", root.join("etc")).unwrap();
        std::os::unix::fs::symlink("ctx", root.join("inner")).unwrap();
        std::os::unix::fs::symlink("../../", root.join("ctx/up")).unwrap();
        let fifo = std::process::Command::new("mkfifo").arg(root.join("fifo")).status().unwrap();
        assert!(fifo.success());
        let root = root.canonicalize().unwrap();
        let problem = |rel: &str, kind| resolve_inside(&root, rel, kind).err().map(|p| p.to_string());
        assert_eq!(problem("ctx", Kind::Dir), None);
        assert_eq!(problem("inner", Kind::Dir), None, "a link that stays inside is fine");
        assert_eq!(problem("Dockerfile", Kind::File), None);
        assert_eq!(problem("etc", Kind::Dir).unwrap(), "is a symlink to /etc, outside the checkout");
        let up = problem("ctx/up/x", Kind::Dir).unwrap();
        assert!(up == "does not exist" || up.contains("outside the checkout"), "{up}");
        assert!(problem("ctx/up", Kind::Dir).unwrap().contains("outside the checkout"));
        assert_eq!(problem("fifo", Kind::File).unwrap(), "is a FIFO, not a regular file");
        assert_eq!(problem("ctx", Kind::File).unwrap(), "is a directory, not a regular file");
        assert_eq!(problem("Dockerfile", Kind::Dir).unwrap(), "is a regular file, not a directory");
        assert_eq!(problem("missing", Kind::File).unwrap(), "does not exist");
    }
}
