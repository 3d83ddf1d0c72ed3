//! Slipway's project index.
//!
//! Reads a cccp-compatible index (`index.d/<app-id>.yaml` files with a `Projects:` list), checks every entry
//! and the graph between them, and reports problems the way a compiler does: file, line, column, a stable
//! code, and what to do. An invalid entry is reported and left out; the rest of the index stays usable.
//!
//! ```no_run
//! let index = slipway_index::Index::load(std::path::Path::new("index"))?;
//! for diagnostic in &index.diagnostics {
//!     eprint!("{diagnostic}");
//! }
//! for wave in index.graph().waves() {
//!     println!("{:?}", wave.iter().map(|n| index.graph().name(*n)).collect::<Vec<_>>());
//! }
//! # Ok::<(), slipway_index::LoadError>(())
//! ```

mod checks;
mod diagnostic;
mod entry;
mod graph;
mod index;
mod load;
mod mapping;
mod paths;
mod project;
mod reference;
mod repo_config;
mod report;
mod source;
mod yaml;

pub use checks::did_you_mean;
pub use diagnostic::{Code, Diagnostic, Related, Severity};
pub use entry::{Entry, INDEX_FIELDS};
pub use graph::DependencyGraph;
pub use index::Index;
pub use load::LoadError;
pub use paths::{PathError, RepoPath};
pub use project::{
    BuildNetwork, NotifyOn, Origin, Parent, Prebuild, Project, Promotion, Retention, TestSettings, Written,
};
pub use reference::{ImageRef, ReferenceError};
pub use repo_config::{REPO_CONFIG_NAMES, RepoConfig, RepoConfigError, parse_repo_config, read_repo_config};
pub use report::CheckReport;
pub use yaml::Pos;
