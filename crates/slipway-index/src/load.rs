//! Finding and reading index files: `index.d/*.yml|*.yaml`, a directory of such files, or one file.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Files larger than this are not index files; reading them would only cost memory.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Why an index could not be read at all (as opposed to a problem inside a file, which is a diagnostic).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(
        "index path {path} does not exist; pass a directory holding index.d/, a directory of YAML files, or one file"
    )]
    NotFound { path: PathBuf },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What a file held: its text, or why it could not be used.
pub enum FileContent {
    Text(String),
    TooLarge(u64),
    NotUtf8,
}

/// The index files under `path`, sorted by name. Names containing `index_template` and hidden files are
/// skipped, as cccp's readers did.
pub fn discover(path: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let metadata = fs::metadata(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => LoadError::NotFound { path: path.to_path_buf() },
        _ => LoadError::Io { path: path.to_path_buf(), source },
    })?;
    if metadata.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let index_d = path.join("index.d");
    let dir = if index_d.is_dir() { index_d } else { path.to_path_buf() };
    let io = |source| LoadError::Io { path: dir.clone(), source };
    let mut files = Vec::new();
    for item in fs::read_dir(&dir).map_err(io)? {
        let item = item.map_err(io)?;
        let name = item.file_name();
        let name = name.to_string_lossy();
        let is_yaml = name.ends_with(".yaml") || name.ends_with(".yml");
        if is_yaml && !name.starts_with('.') && !name.contains("index_template") && item.path().is_file() {
            files.push(item.path());
        }
    }
    files.sort();
    Ok(files)
}

pub fn read(path: &Path) -> Result<FileContent, LoadError> {
    let io = |source| LoadError::Io { path: path.to_path_buf(), source };
    let file = fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > MAX_FILE_BYTES {
        return Ok(FileContent::TooLarge(size));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Ok(FileContent::TooLarge(bytes.len() as u64));
    }
    Ok(String::from_utf8(bytes).map_or(FileContent::NotUtf8, FileContent::Text))
}

/// `centos` for `index.d/centos.yaml`: the app-id the file must hold.
pub fn app_id_of(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    name.strip_suffix(".yaml").or_else(|| name.strip_suffix(".yml")).unwrap_or(&name).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovers_index_d_skipping_templates_and_hidden_files() {
        let root = std::env::temp_dir().join(format!("slipway-discover-{}", std::process::id()));
        let dir = root.join("index.d");
        fs::create_dir_all(&dir).expect("mkdir");
        for name in ["b.yml", "a.yaml", "index_template.yaml", ".swap.yaml", "notes.txt"] {
            fs::write(dir.join(name), "Projects: []\n").expect("write");
        }
        let names = |files: Vec<PathBuf>| -> Vec<String> {
            files.iter().filter_map(|f| f.file_name()).map(|n| n.to_string_lossy().into_owned()).collect()
        };
        assert_eq!(names(discover(&root).expect("index root")), ["a.yaml", "b.yml"]);
        assert_eq!(names(discover(&dir).expect("index.d itself")), ["a.yaml", "b.yml"]);
        assert_eq!(names(discover(&dir.join("b.yml")).expect("one file")), ["b.yml"]);
        assert!(matches!(discover(&root.join("missing")), Err(LoadError::NotFound { .. })));
        let _ = fs::remove_dir_all(&root);
        assert_eq!(app_id_of(Path::new("index.d/centos.yaml")), "centos");
        assert_eq!(app_id_of(Path::new("x/che-stacks.yml")), "che-stacks");
    }
}
