//! The build context: a tar of the context directory honouring `.dockerignore`, written to an anonymous temp
//! file so a large context is never held in memory, then streamed to the daemon in chunks.
//!
//! Like the docker CLI: the Dockerfile and `.dockerignore` are always sent, entries are owned by root (0:0),
//! and symlinks are stored as symlinks, never followed.

use std::fs::{File, Metadata};
use std::io::{self, BufWriter, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::Stream;
use tar::{Builder, EntryType, Header, HeaderMode};

use crate::dockerignore::{DockerIgnore, PatternError};

/// Chunk size when streaming the archive to the daemon.
const CHUNK_BYTES: usize = 256 * 1024;
/// The name a Dockerfile from outside the context directory is stored under.
const OUTSIDE_DOCKERFILE: &str = ".slipway.Dockerfile";

/// A packed build context, ready to be sent (possibly several times) to [`crate::Docker::build`].
#[derive(Debug, Clone)]
pub struct ContextArchive {
    file: Arc<File>,
    dockerfile_name: String,
    entries: u64,
    bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("build context {path} is not a directory; check build-context (it is relative to git-path)")]
    NotADirectory { path: PathBuf },
    #[error(
        "build context {path} resolves to {resolved}, outside the checkout {root}; build-context must name a \
         directory inside the repository"
    )]
    OutsideRoot { path: PathBuf, resolved: PathBuf, root: PathBuf },
    #[error("{path} is not a regular file inside the build context; commit `.dockerignore` as a plain file")]
    IgnoreNotAFile { path: PathBuf },
    #[error("Dockerfile {path} not found or not a file; check target-file (it is relative to git-path)")]
    DockerfileMissing { path: PathBuf },
    #[error(
        "Dockerfile {path} is a symlink to {target}, outside the build context {context}; commit the Dockerfile \
         itself instead of a link"
    )]
    DockerfileEscapes { path: PathBuf, target: PathBuf, context: PathBuf },
    #[error("{path}: {source}; fix or remove that pattern")]
    Ignore { path: PathBuf, source: PatternError },
    #[error("cannot read {path} for the build context: {source}; check its permissions")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path} changed while the build context was being packed; retry the build")]
    Changed { path: PathBuf },
    #[error("cannot read the packed build context back from its temporary file: {source}; check the disk")]
    Stream { source: io::Error },
    #[error("cannot write the build context archive to a temporary file: {source}; check free space in {tmp}")]
    Write { tmp: PathBuf, source: io::Error },
}

impl ContextArchive {
    /// The Dockerfile's path inside the archive: what the build passes as `dockerfile`.
    pub fn dockerfile_name(&self) -> &str {
        &self.dockerfile_name
    }

    /// Number of tar entries (files, directories, symlinks).
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Size of the archive in bytes, as sent to the daemon.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The archive as a stream of chunks, read with positional reads so several builds may share one archive.
    pub(crate) fn stream(&self) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
        let file = Arc::clone(&self.file);
        let len = self.bytes;
        futures_util::stream::try_unfold(0u64, move |offset| {
            let file = Arc::clone(&file);
            async move {
                if offset >= len {
                    return Ok(None);
                }
                let want = CHUNK_BYTES.min(usize::try_from(len - offset).unwrap_or(CHUNK_BYTES));
                let chunk = tokio::task::spawn_blocking(move || read_chunk(&file, offset, want))
                    .await
                    .map_err(io::Error::other)??;
                let next = offset + chunk.len() as u64;
                Ok(Some((Bytes::from(chunk), next)))
            }
        })
    }
}

fn read_chunk(file: &File, offset: u64, want: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0; want];
    file.read_exact_at(&mut buf, offset)?;
    Ok(buf)
}

/// Packs `context_dir` for a build with `dockerfile`, which may lie outside the context (it is then stored as
/// `.slipway.Dockerfile`). The context, symlinks resolved, must lie inside `root` (the checkout): whatever
/// the repository or a prebuild script did to it, nothing outside the checkout is ever packed. Blocking file
/// I/O: call it from `spawn_blocking` in async code.
pub fn pack_context(root: &Path, context_dir: &Path, dockerfile: &Path) -> Result<ContextArchive, ContextError> {
    let root = root.canonicalize().map_err(|source| ContextError::Read { path: root.to_path_buf(), source })?;
    let context = context_dir
        .canonicalize()
        .ok()
        .filter(|p| p.is_dir())
        .ok_or_else(|| ContextError::NotADirectory { path: context_dir.to_path_buf() })?;
    if !context.starts_with(&root) {
        return Err(ContextError::OutsideRoot { path: context_dir.to_path_buf(), resolved: context, root });
    }
    let dockerfile_path = resolve_dockerfile(&context, dockerfile)?;
    let ignore = read_dockerignore(&context)?;
    let tmp = std::env::temp_dir();
    let write_err = |source: io::Error| ContextError::Write { tmp: tmp.clone(), source };

    let file = tempfile::tempfile().map_err(write_err)?;
    let mut packer = Packer {
        root: &context,
        ignore: &ignore,
        forced: [dockerfile_path.inside.clone(), Some(PathBuf::from(".dockerignore"))],
        dockerfile_added: false,
        builder: Builder::new(BufWriter::new(file)),
        entries: 0,
        tmp: &tmp,
    };
    packer.walk(Path::new(""))?;
    let dockerfile_name = match (&dockerfile_path.inside, packer.dockerfile_added) {
        (Some(rel), true) => rel.to_string_lossy().into_owned(),
        (Some(rel), false) => {
            packer.add(rel, &dockerfile_path.real, true)?;
            rel.to_string_lossy().into_owned()
        }
        (None, _) => {
            let name = free_name(&context);
            packer.add(Path::new(&name), &dockerfile_path.real, true)?;
            name
        }
    };
    let entries = packer.entries;
    let writer = packer.builder.into_inner().map_err(write_err)?;
    let file = writer.into_inner().map_err(|e| write_err(e.into_error()))?;
    let bytes = file.metadata().map_err(write_err)?.len();
    tracing::debug!(context.dir = %context.display(), context.entries = entries, context.bytes = bytes, "context packed");
    Ok(ContextArchive { file: Arc::new(file), dockerfile_name, entries, bytes })
}

struct DockerfilePath {
    /// Where to read it (symlinks resolved).
    real: PathBuf,
    /// Its path relative to the context, when it lies inside and has a UTF-8 name.
    inside: Option<PathBuf>,
}

fn resolve_dockerfile(context: &Path, dockerfile: &Path) -> Result<DockerfilePath, ContextError> {
    let missing = || ContextError::DockerfileMissing { path: dockerfile.to_path_buf() };
    let real = dockerfile.canonicalize().map_err(|_| missing())?;
    if !real.is_file() {
        return Err(missing());
    }
    let is_link = dockerfile.symlink_metadata().map(|m| m.file_type().is_symlink()).unwrap_or(false);
    if is_link && !real.starts_with(context) {
        return Err(ContextError::DockerfileEscapes {
            path: dockerfile.to_path_buf(),
            target: real,
            context: context.to_path_buf(),
        });
    }
    // The name inside the archive comes from the path as given (its parent resolved), not the link target.
    let parent = dockerfile.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let given = parent.canonicalize().ok().zip(dockerfile.file_name());
    let inside = given
        .and_then(|(parent, name)| parent.join(name).strip_prefix(context).ok().map(Path::to_path_buf))
        .filter(|rel| rel.to_str().is_some());
    Ok(DockerfilePath { real, inside })
}

fn read_dockerignore(context: &Path) -> Result<DockerIgnore, ContextError> {
    let path = context.join(".dockerignore");
    // Read only a regular file inside the context: a link out could show a host file's lines in an error, and a
    // FIFO would block the read forever.
    match path.canonicalize() {
        Ok(real) if !real.starts_with(context) || !real.is_file() => {
            return Err(ContextError::IgnoreNotAFile { path });
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound && path.symlink_metadata().is_ok() => {
            return Err(ContextError::IgnoreNotAFile { path });
        }
        _ => {}
    }
    match std::fs::read(&path) {
        Ok(bytes) => DockerIgnore::parse(&String::from_utf8_lossy(&bytes))
            .map_err(|source| ContextError::Ignore { path, source }),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(DockerIgnore::default()),
        Err(source) => Err(ContextError::Read { path, source }),
    }
}

/// `.slipway.Dockerfile`, or with a number if the context already has a file of that name.
fn free_name(context: &Path) -> String {
    (0..)
        .map(|n| if n == 0 { OUTSIDE_DOCKERFILE.to_string() } else { format!("{OUTSIDE_DOCKERFILE}.{n}") })
        .find(|name| context.join(name).symlink_metadata().is_err())
        .unwrap_or_else(|| OUTSIDE_DOCKERFILE.to_string())
}

struct Packer<'a> {
    root: &'a Path,
    ignore: &'a DockerIgnore,
    /// Paths sent even when `.dockerignore` excludes them.
    forced: [Option<PathBuf>; 2],
    dockerfile_added: bool,
    builder: Builder<BufWriter<File>>,
    entries: u64,
    tmp: &'a Path,
}

impl Packer<'_> {
    /// Adds the directory `rel` (relative to the root) and what it holds, in name order for stable archives.
    fn walk(&mut self, rel: &Path) -> Result<(), ContextError> {
        let dir = self.root.join(rel);
        let read_err = |source| ContextError::Read { path: dir.clone(), source };
        let mut names = std::fs::read_dir(&dir)
            .map_err(read_err)?
            .map(|entry| entry.map(|e| e.file_name()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(read_err)?;
        names.sort();
        for name in names {
            let child = rel.join(&name);
            let path = self.root.join(&child);
            let meta = path.symlink_metadata().map_err(|source| ContextError::Read { path: path.clone(), source })?;
            let excluded = self.ignore.is_excluded(&child, meta.is_dir());
            if meta.is_dir() {
                if !excluded {
                    self.append(&child, &path, &meta)?;
                }
                // An excluded directory is still walked when a `!` pattern may bring something inside back.
                if !excluded || self.ignore.may_reinclude_below(&child) || self.forced_below(&child) {
                    self.walk(&child)?;
                }
            } else if self.forced[0].as_deref() == Some(child.as_path()) {
                // The Dockerfile: a link to it (checked to stay inside the context) is sent as the file itself.
                self.add(&child, &path, true)?;
            } else if !excluded || self.forced[1].as_deref() == Some(child.as_path()) {
                self.append(&child, &path, &meta)?;
            }
        }
        Ok(())
    }

    fn forced_below(&self, dir: &Path) -> bool {
        self.forced.iter().flatten().any(|f| f.starts_with(dir))
    }

    /// Adds `path` under `name`; `follow` reads through a symlink (only for the Dockerfile itself).
    fn add(&mut self, name: &Path, path: &Path, follow: bool) -> Result<(), ContextError> {
        let meta = if follow { path.metadata() } else { path.symlink_metadata() };
        let meta = meta.map_err(|source| ContextError::Read { path: path.to_path_buf(), source })?;
        self.append(name, path, &meta)
    }

    fn append(&mut self, name: &Path, path: &Path, meta: &Metadata) -> Result<(), ContextError> {
        let mut header = Header::new_gnu();
        header.set_metadata_in_mode(meta, HeaderMode::Complete);
        header.set_uid(0);
        header.set_gid(0);
        let write_err = |source| ContextError::Write { tmp: self.tmp.to_path_buf(), source };
        let file_type = meta.file_type();
        if file_type.is_file() {
            let file = File::open(path).map_err(|source| ContextError::Read { path: path.to_path_buf(), source })?;
            header.set_entry_type(EntryType::Regular);
            let reader = Exact { inner: file, remaining: meta.len() };
            self.builder.append_data(&mut header, name, reader).map_err(|err| match err.kind() {
                io::ErrorKind::UnexpectedEof => ContextError::Changed { path: path.to_path_buf() },
                _ => write_err(err),
            })?;
            if self.forced[0].as_deref() == Some(name) {
                self.dockerfile_added = true;
            }
        } else if file_type.is_dir() {
            self.builder.append_data(&mut header, name, io::empty()).map_err(write_err)?;
        } else if file_type.is_symlink() {
            let target =
                std::fs::read_link(path).map_err(|source| ContextError::Read { path: path.to_path_buf(), source })?;
            header.set_size(0);
            self.builder.append_link(&mut header, name, &target).map_err(write_err)?;
        } else {
            // Sockets, FIFOs and devices mean nothing to a build; docker would send them, nothing uses them.
            tracing::debug!(path = %path.display(), "special file left out of the build context");
            return Ok(());
        }
        self.entries += 1;
        Ok(())
    }
}

/// Reads exactly `remaining` bytes: a file that shrinks is an `UnexpectedEof`, one that grows is cut at the size
/// its header announced, so the archive stays well-formed.
struct Exact {
    inner: File,
    remaining: u64,
}

impl Read for Exact {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let max = buf.len().min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank while being packed"));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
#[path = "context_tests.rs"]
mod tests;
