//! The mirror's files: where a repository's bare mirror, its lock and its clone-in-progress live, and the
//! two ways a mirror comes to be (fetched into, or cloned afresh and renamed into place).

use std::fs;
use std::path::{Path, PathBuf};

use git2::Repository;

use crate::fetch::{FetchError, Fetched, Target, fetch};
use crate::url::mirror_name;
use crate::{GitError, MirrorUse};

/// `<root>/<name>` (the bare mirror), `<root>/<name>.lock` and `<root>/<name>.tmp` (a clone in progress;
/// only the lock holder writes it, so a fixed name suffices and a leftover one is known to be dead).
pub(crate) struct MirrorPaths {
    pub dir: PathBuf,
    pub lock: PathBuf,
    temp: PathBuf,
}

impl MirrorPaths {
    pub fn new(root: &Path, url: &str) -> MirrorPaths {
        let name = mirror_name(url);
        MirrorPaths {
            dir: root.join(&name),
            lock: root.join(format!("{name}.lock")),
            temp: root.join(format!("{name}.tmp")),
        }
    }
}

/// The mirror, brought up to date with `target`'s branch: fetched into when it exists and is sound,
/// otherwise (missing, damaged, or grown past [`MAX_PACKS`]) cloned afresh. The caller holds the lock.
pub(crate) fn update(
    paths: &MirrorPaths,
    target: &Target<'_>,
    progress: &mut dyn FnMut(&str),
) -> Result<(Repository, Fetched, MirrorUse), GitError> {
    if let Some(packs) = too_many_packs(&paths.dir) {
        progress(&format!("the mirror has {packs} pack files; cloning it afresh to keep fetches fast"));
        remove(&paths.dir)?;
    }
    if paths.dir.exists() {
        let damage = match Repository::open_bare(&paths.dir) {
            Ok(repo) => {
                progress(&format!("fetching branch {} from {}", target.branch, target.shown));
                match fetch(&repo, target, progress) {
                    Ok(fetched) => {
                        let changed = fetched.changed;
                        return Ok((repo, fetched, MirrorUse::Fetched { changed }));
                    }
                    Err(FetchError::Remote(err)) => return Err(err),
                    Err(FetchError::Mirror(err)) => err,
                }
            }
            Err(err) => err,
        };
        progress(&format!("the mirror is damaged ({}); removing it and cloning again", damage.message()));
        remove(&paths.dir)?;
    }
    let shallow = if target.shallow { ", shallow" } else { "" };
    progress(&format!("cloning branch {} from {} into a new mirror{shallow}", target.branch, target.shown));
    let fetched = clone_fresh(paths, target, progress)?;
    let repo = Repository::open_bare(&paths.dir).map_err(|e| mirror_error(target, &paths.dir, &e))?;
    Ok((repo, fetched, MirrorUse::Cloned))
}

/// Clones into the temp directory and renames it into place, so a crash never leaves a half mirror under
/// the mirror's name.
fn clone_fresh(paths: &MirrorPaths, target: &Target<'_>, progress: &mut dyn FnMut(&str)) -> Result<Fetched, GitError> {
    if paths.temp.exists() {
        remove(&paths.temp)?;
    }
    let fetched = {
        let repo = Repository::init_bare(&paths.temp).map_err(|e| mirror_error(target, &paths.temp, &e))?;
        fetch(&repo, target, progress)
    };
    match fetched {
        Ok(fetched) => {
            fs::rename(&paths.temp, &paths.dir).map_err(|e| GitError::io(&paths.dir, e))?;
            Ok(fetched)
        }
        Err(err) => {
            // The fetch's error matters more; a temp directory left behind is cleared by the next clone.
            let _ = remove(&paths.temp);
            Err(match err {
                FetchError::Remote(err) => err,
                FetchError::Mirror(err) => mirror_error(target, &paths.temp, &err),
            })
        }
    }
}

/// Every fetch that brings something new adds a pack, and nothing repacks a mirror; past this many, a
/// fresh clone (one depth-1 fetch for a network mirror) is cheaper than the lookups across all of them.
const MAX_PACKS: usize = 50;

/// The mirror's pack count when it is past [`MAX_PACKS`].
fn too_many_packs(dir: &Path) -> Option<usize> {
    let entries = fs::read_dir(dir.join("objects").join("pack")).ok()?;
    let packs = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "pack"))
        .count();
    (packs > MAX_PACKS).then_some(packs)
}

/// Removes a mirror (or a clone in progress) entirely.
pub(crate) fn remove(dir: &Path) -> Result<(), GitError> {
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(GitError::io(dir, e)),
    }
}

pub(crate) fn mirror_error(target: &Target<'_>, path: &Path, err: &git2::Error) -> GitError {
    GitError::Mirror { url: target.shown.to_string(), path: path.to_path_buf(), message: err.message().to_string() }
}
