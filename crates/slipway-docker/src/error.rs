//! Errors from talking to dockerd, each saying what failed, where, and what to do.

use bollard::errors::Error as BollardError;

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error(
        "cannot reach the Docker daemon at {endpoint} to {operation}: {reason}; check that dockerd is running and \
         that DOCKER_HOST (or the configured Docker URL) points at it"
    )]
    Unreachable { endpoint: String, operation: String, reason: String },
    #[error("no image `{image}` in the Docker daemon at {endpoint}: it was neither built nor pulled there")]
    ImageNotFound { endpoint: String, image: String },
    #[error(
        "Docker at {endpoint} did not answer within {seconds} s while trying to {operation}; the daemon may be overloaded"
    )]
    Timeout { endpoint: String, operation: String, seconds: u64 },
    #[error("Docker at {endpoint} failed to {operation}: {message}")]
    Api { endpoint: String, operation: String, status: Option<u16>, message: String },
    #[error("invalid {field}: {message}")]
    InvalidSpec { field: &'static str, message: String },
}

/// Where an error happened: the daemon and the operation, so every variant can name both.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ErrorContext<'a> {
    pub(crate) endpoint: &'a str,
    pub(crate) operation: &'a str,
    pub(crate) timeout_secs: u64,
}

impl ErrorContext<'_> {
    /// Classifies a bollard error. `image` names the image the call was about, so a 404 becomes `ImageNotFound`.
    pub(crate) fn classify(&self, err: BollardError, image: Option<&str>) -> DockerError {
        let endpoint = self.endpoint.to_string();
        let operation = self.operation.to_string();
        match err {
            BollardError::DockerResponseServerError { status_code: 404, message } => match image {
                Some(image) => DockerError::ImageNotFound { endpoint, image: image.to_string() },
                None => DockerError::Api { endpoint, operation, status: Some(404), message },
            },
            BollardError::DockerResponseServerError { status_code, message } => {
                DockerError::Api { endpoint, operation, status: Some(status_code), message }
            }
            BollardError::RequestTimeoutError => {
                DockerError::Timeout { endpoint, operation, seconds: self.timeout_secs }
            }
            err if is_connection_error(&err) => {
                DockerError::Unreachable { endpoint, operation, reason: err.to_string() }
            }
            err => DockerError::Api { endpoint, operation, status: None, message: err.to_string() },
        }
    }
}

/// True when the daemon could not be reached at all (socket missing, refused, reset).
pub(crate) fn is_connection_error(err: &BollardError) -> bool {
    match err {
        BollardError::SocketNotFoundError(_) | BollardError::IOError { .. } => true,
        BollardError::HyperLegacyError { err } => err.is_connect(),
        BollardError::HyperResponseError { err } => err.is_incomplete_message() || err.is_closed(),
        _ => false,
    }
}

/// The daemon's message without bollard's "Docker responded with status code …" wrapping.
pub(crate) fn message_of(err: &BollardError) -> String {
    match err {
        BollardError::DockerResponseServerError { message, .. } => message.clone(),
        BollardError::DockerStreamError { error } => error.clone(),
        other => other.to_string(),
    }
}
