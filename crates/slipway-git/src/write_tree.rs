//! Writing a commit's tree as plain files (no `.git`): directories, files with their exec bit, symlinks as
//! symlinks (their targets are written, never followed), submodules as empty directories, as git leaves
//! them before `submodule update`. Entry names that could escape the directory are refused.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use git2::{Oid, Repository};

use crate::GitError;

/// A failed write: a missing or unreadable object (the mirror is damaged) or anything else.
#[derive(Debug)]
pub(crate) enum WriteError {
    Object(git2::Error),
    Other(GitError),
}

/// Git's file modes (`git2::FileMode` values, matched as integers).
const MODE_TREE: i32 = 0o040_000;
const MODE_BLOB: i32 = 0o100_644;
const MODE_BLOB_GROUP_WRITABLE: i32 = 0o100_664;
const MODE_EXECUTABLE: i32 = 0o100_755;
const MODE_LINK: i32 = 0o120_000;
const MODE_COMMIT: i32 = 0o160_000;

/// Writes `tree` into `dest`, which must be missing or empty. Files get mode 0666 or 0777 less the umask,
/// as git gives them.
pub(crate) fn write_tree(repo: &Repository, tree: Oid, dest: &Path) -> Result<(), WriteError> {
    prepare(dest).map_err(WriteError::Other)?;
    // An explicit stack, so a deeply nested tree cannot overflow the call stack.
    let mut pending: Vec<(Oid, PathBuf)> = vec![(tree, dest.to_path_buf())];
    while let Some((tree_id, dir)) = pending.pop() {
        let tree = repo.find_tree(tree_id).map_err(WriteError::Object)?;
        for entry in tree.iter() {
            let name = entry.name_bytes();
            if !safe_name(name) {
                return Err(WriteError::Other(GitError::Checkout {
                    path: dir,
                    message: format!(
                        "the tree has an entry named {:?}, which could write outside the checkout; refusing it",
                        String::from_utf8_lossy(name)
                    ),
                }));
            }
            let path = dir.join(std::ffi::OsStr::from_bytes(name));
            match entry.filemode() {
                MODE_TREE => {
                    fs::create_dir(&path).map_err(|e| WriteError::Other(GitError::io(&path, e)))?;
                    pending.push((entry.id(), path));
                }
                mode @ (MODE_BLOB | MODE_BLOB_GROUP_WRITABLE | MODE_EXECUTABLE) => {
                    let blob = repo.find_blob(entry.id()).map_err(WriteError::Object)?;
                    let permissions = if mode == MODE_EXECUTABLE { 0o777 } else { 0o666 };
                    write_file(&path, blob.content(), permissions).map_err(WriteError::Other)?;
                }
                MODE_LINK => {
                    let blob = repo.find_blob(entry.id()).map_err(WriteError::Object)?;
                    let target = std::ffi::OsStr::from_bytes(blob.content());
                    std::os::unix::fs::symlink(target, &path).map_err(|e| WriteError::Other(GitError::io(&path, e)))?;
                }
                MODE_COMMIT => fs::create_dir(&path).map_err(|e| WriteError::Other(GitError::io(&path, e)))?,
                other => {
                    return Err(WriteError::Other(GitError::Checkout {
                        path,
                        message: format!("the tree entry has the unknown file mode {other:o}"),
                    }));
                }
            }
        }
    }
    Ok(())
}

/// Creates `dest` if missing; refuses a non-empty one, whose files would mix with the commit's.
fn prepare(dest: &Path) -> Result<(), GitError> {
    fs::create_dir_all(dest).map_err(|e| GitError::io(dest, e))?;
    let mut entries = fs::read_dir(dest).map_err(|e| GitError::io(dest, e))?;
    if entries.next().is_some() {
        return Err(GitError::Checkout {
            path: dest.to_path_buf(),
            message: "the directory is not empty; a checkout needs a new or empty directory".to_string(),
        });
    }
    Ok(())
}

/// `create_new` never follows or replaces an existing path, symlinks included.
fn write_file(path: &Path, content: &[u8], permissions: u32) -> Result<(), GitError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(permissions)
        .open(path)
        .map_err(|e| GitError::io(path, e))?;
    file.write_all(content).map_err(|e| GitError::io(path, e))
}

/// One path component that stays inside its directory and is not git's own (`.git`, any case).
fn safe_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name != b"."
        && name != b".."
        && !name.eq_ignore_ascii_case(b".git")
        && !name.iter().any(|b| matches!(b, b'/' | 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_names_that_escape() {
        let cases: [(&[u8], bool); 9] = [
            (b"src", true),
            (b".github", true),
            (b"..foo", true),
            (b"", false),
            (b".", false),
            (b"..", false),
            (b".GIT", false),
            (b"a/b", false),
            (b"a\0b", false),
        ];
        for (name, ok) in cases {
            assert_eq!(safe_name(name), ok, "{:?}", String::from_utf8_lossy(name));
        }
    }
}
