//! One container this crate created, and the promise to remove it: explicitly with [`Container::remove`], or,
//! if the future that owns it is dropped (a cancelled stage, a panic), by a background task.

use std::pin::Pin;

use bollard::container::LogOutput;
use bollard::errors::Error as BollardError;
use bollard::models::{ContainerCreateBody, ContainerInspectResponse};
use bollard::query_parameters::{
    AttachContainerOptions, CreateContainerOptions, KillContainerOptions, RemoveContainerOptions,
};
use futures_util::Stream;

use crate::client::Docker;
use crate::error::DockerError;

/// A container's stdout and stderr as Docker delivers them.
pub(crate) type OutputStream = Pin<Box<dyn Stream<Item = Result<LogOutput, BollardError>> + Send>>;

pub(crate) struct Container {
    docker: Docker,
    id: String,
    image: String,
    removed: bool,
}

impl Container {
    pub(crate) async fn create(
        docker: &Docker,
        body: ContainerCreateBody,
        name: Option<&str>,
    ) -> Result<Container, DockerError> {
        let image = body.image.clone().unwrap_or_default();
        let options = CreateContainerOptions { name: name.map(str::to_string), ..Default::default() };
        let created = docker
            .api()
            .create_container(Some(options), body)
            .await
            .map_err(|err| docker.ctx("create a container").classify(err, Some(&image)))?;
        for warning in &created.warnings {
            tracing::warn!(container.id = %created.id, warning = %warning, "container created with a warning");
        }
        Ok(Container { docker: docker.clone(), id: created.id, image, removed: false })
    }

    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn docker(&self) -> &Docker {
        &self.docker
    }

    /// Attaches to stdout and stderr, then starts. Attaching first is how `docker run` sees every byte: a
    /// `logs --follow` opened after the start can miss the last lines of a container that exits at once
    /// (seen on Docker 20.10: 3 of 2,000 lines lost).
    pub(crate) async fn start_attached(&self) -> Result<OutputStream, DockerError> {
        let options =
            AttachContainerOptions { stdout: true, stderr: true, stream: true, logs: true, ..Default::default() };
        let attached = self
            .docker
            .api()
            .attach_container(&self.id, Some(options))
            .await
            .map_err(|err| self.docker.ctx("attach to a container").classify(err, None))?;
        self.start().await?;
        Ok(attached.output)
    }

    async fn start(&self) -> Result<(), DockerError> {
        self.docker
            .api()
            .start_container(&self.id, None)
            .await
            .map_err(|err| self.docker.ctx("start a container").classify(err, Some(&self.image)))
    }

    /// SIGKILL; a container that already stopped is fine.
    pub(crate) async fn kill(&self) -> Result<(), DockerError> {
        let options = KillContainerOptions { signal: "KILL".to_string() };
        match self.docker.api().kill_container(&self.id, Some(options)).await {
            Ok(()) | Err(BollardError::DockerResponseServerError { status_code: 404 | 409, .. }) => Ok(()),
            Err(err) => Err(self.docker.ctx("kill a container").classify(err, None)),
        }
    }

    pub(crate) async fn inspect(&self) -> Result<ContainerInspectResponse, DockerError> {
        self.docker
            .api()
            .inspect_container(&self.id, None)
            .await
            .map_err(|err| self.docker.ctx("inspect a container").classify(err, None))
    }

    /// Force-removes the container and its anonymous volumes; one already gone is fine.
    pub(crate) async fn remove(mut self) -> Result<(), DockerError> {
        self.removed = true;
        remove(&self.docker, &self.id).await
    }
}

async fn remove(docker: &Docker, id: &str) -> Result<(), DockerError> {
    let options = RemoveContainerOptions { force: true, v: true, link: false };
    match docker.api().remove_container(id, Some(options)).await {
        // 409: "removal already in progress".
        Ok(()) | Err(BollardError::DockerResponseServerError { status_code: 404 | 409, .. }) => Ok(()),
        Err(err) => Err(docker.ctx("remove a container").classify(err, None)),
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        let (docker, id) = (self.docker.clone(), std::mem::take(&mut self.id));
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    if let Err(err) = remove(&docker, &id).await {
                        tracing::warn!(container.id = %id, error = %err, "could not remove an abandoned container");
                    }
                });
            }
            Err(_) => tracing::warn!(container.id = %id, "container left behind: no runtime to remove it from"),
        }
    }
}
