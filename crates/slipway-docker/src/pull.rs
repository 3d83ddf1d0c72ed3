//! `docker pull` of one image, so a child's build starts from its parent's delivered image and never from
//! a stale local copy of the same tag.

use bollard::query_parameters::CreateImageOptionsBuilder;
use futures_util::StreamExt;

use crate::client::Docker;
use crate::error::message_of;
use crate::log::StatusFilter;
use crate::push::{RegistryAuth, registry_of};

#[derive(Debug, thiserror::Error)]
#[error("cannot pull {image}: {message}; check that it was delivered and that the registry is up")]
pub struct PullError {
    pub image: String,
    pub message: String,
}

impl Docker {
    /// Pulls `image` (`host/name:tag` or `host/name@digest`), passing each change of status to `log`.
    pub async fn pull(&self, image: &str, log: &mut (dyn FnMut(&str) + Send)) -> Result<(), PullError> {
        self.pull_with_auth(image, None, log).await
    }

    /// [`Docker::pull`] with credentials for the image's registry (otherwise the daemon pulls anonymously).
    pub async fn pull_with_auth(
        &self,
        image: &str,
        auth: Option<&RegistryAuth>,
        log: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(), PullError> {
        let options = CreateImageOptionsBuilder::default().from_image(image).build();
        let credentials = auth.map(|a| a.for_registry(&registry_of(image)));
        let mut stream = self.api().create_image(Some(options), None, credentials);
        let mut statuses = StatusFilter::default();
        while let Some(item) = stream.next().await {
            let info = item.map_err(|err| PullError { image: image.to_string(), message: message_of(&err) })?;
            if let Some(status) = info.status.filter(|s| statuses.changed(s)) {
                log(&status);
            }
        }
        Ok(())
    }
}
