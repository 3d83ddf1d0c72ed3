use std::fs;

use super::*;

fn checkout(files: &[(&str, &str)]) -> tempdir::TempDir {
    let dir = tempdir::TempDir::new();
    for (name, text) in files {
        let path = dir.path().join(name);
        fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        fs::write(path, text).expect("write");
    }
    dir
}

mod tempdir {
    /// A directory removed when dropped; std has none and this avoids a dependency for three tests.
    pub struct TempDir(std::path::PathBuf);
    impl TempDir {
        pub fn new() -> Self {
            use std::sync::atomic::{AtomicU32, Ordering};
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!("slipway-repo-config-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).expect("temp dir");
            TempDir(path)
        }
        pub fn path(&self) -> &std::path::Path {
            &self.0
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn git_path(path: &str) -> RepoPath {
    RepoPath::root().join(path).expect("a repo path")
}

#[test]
fn reads_the_first_name_in_cccp_order() {
    let dir = checkout(&[
        ("docker/.cccp.yml", "job-id: other\n"),
        ("docker/cccp.yml", "job-id: web\ntest-script: tests/run.sh\ntest-timeout: 5m\n"),
    ]);
    let config = read_repo_config(dir.path(), &git_path("docker"), "web").expect("read").expect("found");
    assert_eq!(config.file, Path::new("docker/cccp.yml"));
    assert_eq!(config.job_id, "web");
    assert_eq!(config.test.script.as_ref().map(RepoPath::as_str), Some("docker/tests/run.sh"));
    assert_eq!(config.test.timeout, Some(std::time::Duration::from_secs(300)));
}

#[test]
fn none_when_absent() {
    let dir = checkout(&[("Dockerfile", "FROM x\n")]);
    assert!(matches!(read_repo_config(dir.path(), &RepoPath::root(), "web"), Ok(None)));
}

#[test]
fn job_id_mismatch_is_an_error_at_its_line() {
    let dir = checkout(&[("cccp.yaml", "# owner\njob-id: webb\n")]);
    let Err(RepoConfigError::Invalid { diagnostics, .. }) = read_repo_config(dir.path(), &RepoPath::root(), "web")
    else {
        panic!("expected an invalid config");
    };
    assert_eq!(diagnostics.len(), 1);
    assert_eq!((diagnostics[0].code, diagnostics[0].line, diagnostics[0].column), (Code::JobIdMismatch, 2, 9));
}

#[test]
fn legacy_keys_warn_and_unknown_keys_fail() {
    let dir = checkout(&[("cccp.yml", "job-id: web\nbuild-script: x.sh\n")]);
    let config = read_repo_config(dir.path(), &RepoPath::root(), "web").expect("read").expect("found");
    assert_eq!(config.warnings.iter().map(|d| d.code).collect::<Vec<_>>(), vec![Code::IgnoredKey]);

    let dir = checkout(&[("cccp.yml", "job-id: web\ntest_skip: true\n")]);
    let Err(RepoConfigError::Invalid { diagnostics, .. }) = read_repo_config(dir.path(), &RepoPath::root(), "web")
    else {
        panic!("expected an invalid config");
    };
    assert_eq!(diagnostics[0].code, Code::UnknownKey);
    assert_eq!(diagnostics[0].hint.as_deref(), Some("did you mean `test-skip`?"));
}

#[test]
fn a_symlink_out_of_the_repository_is_refused() {
    let outside = checkout(&[("secret", "job-id: web\n")]);
    let dir = checkout(&[("Dockerfile", "FROM x\n")]);
    std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("cccp.yml")).expect("symlink");
    assert!(matches!(
        read_repo_config(dir.path(), &RepoPath::root(), "web"),
        Err(RepoConfigError::OutsideRepository { .. })
    ));
}

#[test]
fn a_test_script_may_not_leave_the_repository() {
    let dir = checkout(&[("a/cccp.yml", "job-id: web\ntest-script: ../../x.sh\n")]);
    let Err(RepoConfigError::Invalid { diagnostics, .. }) = read_repo_config(dir.path(), &git_path("a"), "web") else {
        panic!("expected an invalid config");
    };
    assert_eq!(diagnostics[0].code, Code::PathEscapesRepo);
}
