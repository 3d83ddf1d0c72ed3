//! The per-repository cccp file (`cccp.yml`) on arbitrary text: the checkout is untrusted, so parsing must
//! give a config or diagnostics, never a panic. Parsed twice: with the file at the repository root and in a
//! sub-directory, as the index's `git-path` puts it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway_index::{RepoConfig, RepoConfigError, RepoPath, parse_repo_config};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(docker) = RepoPath::root().join("docker") else {
        panic!("`docker` is a valid repository path");
    };
    for (file, git_path) in [("cccp.yml", RepoPath::root()), ("docker/cccp.yml", docker)] {
        let seen = match parse_repo_config(file, text, &git_path, "web") {
            Ok(Some(config)) => touch(&config),
            Ok(None) => 0,
            Err(RepoConfigError::Invalid { diagnostics, .. }) => {
                diagnostics.iter().map(|d| d.to_string().len()).sum()
            }
            Err(other) => other.to_string().len(),
        };
        std::hint::black_box(seen);
    }
});

fn touch(config: &RepoConfig) -> usize {
    let script = config.test.script.as_ref().map_or(0, |s| s.as_str().len());
    let warnings: usize = config.warnings.iter().map(|d| d.to_string().len()).sum();
    config.job_id.len() + script + warnings + format!("{:?}", config.test).len()
}
