//! Which images a project may build on with Slipway's registry credentials. The rule, once: an image on a
//! registry Slipway holds credentials for may be a base (`FROM`, `COPY --from`, `RUN --mount … from`) only when
//! it is the project's own repository, one of its declared `depends-on` parents, or matched by that registry's
//! `pull_for`. Anything else there belongs to another project: the build is refused before it starts, so
//! neither a pull with Slipway's credentials nor a copy already in the worker's daemon can serve it.

use std::collections::BTreeMap;
use std::fmt;

use crate::registry_events::glob;
use crate::spec::ProjectSpec;

/// Why an image may (or may not) be built on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseAccess {
    /// No credentials of Slipway's are involved: a daemon-only image, or a registry Slipway has no login for.
    Anonymous,
    /// The project's own repository.
    Own,
    /// A declared `depends-on` parent.
    Parent,
    /// Matched by `pull_for` of its registry.
    Shared { pattern: String },
    /// Named by an image id, which could be any image in the daemon.
    ImageId,
    /// On a credentialed registry, and none of the above; `delivery` when that registry is the one builds are
    /// delivered to (where a `depends-on` parent would be).
    Refused { host: String, repository: String, delivery: bool },
}

impl BaseAccess {
    /// Whether Slipway's credentials may be used to pull it.
    pub fn with_credentials(&self) -> bool {
        matches!(self, BaseAccess::Own | BaseAccess::Parent | BaseAccess::Shared { .. })
    }
}

/// What the rule needs to know about a project and the worker.
pub struct BaseImageRule<'a> {
    pub spec: &'a ProjectSpec,
    /// `host:port` builds are delivered to.
    pub registry: &'a str,
    /// Per registry host: `pull_for` patterns (`*` matches any run of characters).
    pub pull_for: &'a BTreeMap<String, Vec<String>>,
    /// Whether Slipway holds credentials for a registry host.
    pub credentialed: &'a dyn Fn(&str) -> bool,
}

/// One image a Dockerfile names.
#[derive(Debug, Clone, Copy)]
pub struct NamedImage<'a> {
    pub line: usize,
    /// `FROM`, `COPY --from`, …
    pub instruction: &'a str,
    pub image: &'a str,
}

impl BaseImageRule<'_> {
    pub fn access(&self, image: &str) -> BaseAccess {
        if is_image_id(image) {
            return BaseAccess::ImageId;
        }
        let Some((host, repository)) = split(image) else { return BaseAccess::Anonymous };
        if !(self.credentialed)(host) {
            return BaseAccess::Anonymous;
        }
        if host == self.registry {
            if repository == self.spec.repository {
                return BaseAccess::Own;
            }
            if self.parent_repositories().any(|parent| parent == repository) {
                return BaseAccess::Parent;
            }
        }
        let patterns = self.pull_for.get(host).into_iter().flatten();
        match patterns.into_iter().find(|pattern| glob(pattern, repository)) {
            Some(pattern) => BaseAccess::Shared { pattern: pattern.clone() },
            None => BaseAccess::Refused {
                host: host.to_string(),
                repository: repository.to_string(),
                delivery: host == self.registry,
            },
        }
    }

    /// Every image `dockerfile` (its path as shown) names that this project may not build on, or `Ok`.
    pub fn check<'i>(
        &self,
        dockerfile: &str,
        images: impl IntoIterator<Item = NamedImage<'i>>,
    ) -> Result<(), BaseImagesRefused> {
        let refusals: Vec<Refusal> = images
            .into_iter()
            .filter_map(|named| {
                let access = self.access(named.image);
                matches!(access, BaseAccess::Refused { .. } | BaseAccess::ImageId).then(|| Refusal {
                    dockerfile: dockerfile.to_string(),
                    line: named.line,
                    instruction: named.instruction.to_string(),
                    image: named.image.to_string(),
                    access,
                })
            })
            .collect();
        if refusals.is_empty() { Ok(()) } else { Err(BaseImagesRefused { refusals }) }
    }

    /// The parents' repositories in the delivery registry, as the build pulls them.
    fn parent_repositories(&self) -> impl Iterator<Item = &str> {
        self.spec.depends_on.iter().filter_map(|parent| {
            let (name, _tag) = parent.rsplit_once(':')?;
            Some(name.strip_prefix("library/").unwrap_or(name))
        })
    }
}

/// The images a build may not use, each on its line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct BaseImagesRefused {
    pub refusals: Vec<Refusal>,
}

impl fmt::Display for BaseImagesRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.refusals.iter().map(Refusal::to_string).collect();
        f.write_str(&lines.join("; "))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub dockerfile: String,
    pub line: usize,
    pub instruction: String,
    pub image: String,
    pub access: BaseAccess,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Refusal { dockerfile, line, instruction, image, .. } = self;
        match &self.access {
            BaseAccess::Refused { host, repository, delivery } => {
                write!(
                    f,
                    "{dockerfile}:{line}: {instruction} {image}: {host}/{repository} belongs to another project (it \
                     is neither this project's repository nor one of its depends-on parents), and Slipway's \
                     credentials for {host} pull only those; "
                )?;
                if *delivery {
                    f.write_str("add it to this entry's `depends-on`, or ")?;
                }
                write!(
                    f,
                    "allow it for every project with `pull_for = [\"{repository}\"]` under \
                     `[registries.\"{host}\"]` in the configuration"
                )
            }
            _ => write!(
                f,
                "{dockerfile}:{line}: {instruction} {image} names an image by its id, which could be any image in \
                 the worker's Docker daemon (another project's private one included); name it by repository and tag"
            ),
        }
    }
}

/// `(host, repository)` of a reference that names a registry, tag and digest left out.
fn split(image: &str) -> Option<(&str, &str)> {
    if !slipway_oci_name::names_registry(image) {
        return None;
    }
    let (host, rest) = image.split_once('/')?;
    let rest = rest.split_once('@').map_or(rest, |(name, _)| name);
    let repository = match rest.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => name,
        _ => rest,
    };
    Some((host, repository))
}

/// `sha256:…`, or a bare hex string the daemon would take as an image id (prefix).
fn is_image_id(image: &str) -> bool {
    let hex = image.strip_prefix("sha256:").unwrap_or(image);
    !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
#[path = "base_access_tests.rs"]
mod tests;
