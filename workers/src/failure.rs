//! Why a stage stopped a build. `Failed` is the project's doing (its Dockerfile, its tests, its index
//! entry); `Errored` is Slipway's or the infrastructure's (Docker or the registry unreachable, the store).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageFailure {
    Failed(String),
    Errored(String),
}

impl StageFailure {
    pub fn failed(message: impl fmt::Display) -> Self {
        StageFailure::Failed(message.to_string())
    }

    pub fn errored(message: impl fmt::Display) -> Self {
        StageFailure::Errored(message.to_string())
    }

    pub fn message(&self) -> &str {
        match self {
            StageFailure::Failed(m) | StageFailure::Errored(m) => m,
        }
    }
}

impl fmt::Display for StageFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl From<slipway_store::StoreError> for StageFailure {
    fn from(err: slipway_store::StoreError) -> Self {
        StageFailure::errored(format!("the store: {err}"))
    }
}

pub type StageResult<T> = Result<T, StageFailure>;
