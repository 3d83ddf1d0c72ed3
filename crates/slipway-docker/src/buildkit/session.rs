//! The client side of a BuildKit session: the daemon calls back into it over an upgraded `/session`
//! connection for build secrets (`RUN --mount=type=secret`) and registry credentials (`FROM` a private image).
//! It answers only with what this one build was given, so a build can never ask for another project's.

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;

use bollard_buildkit_proto::health::health_check_response::ServingStatus;
use bollard_buildkit_proto::health::health_server::{Health, HealthServer};
use bollard_buildkit_proto::health::{HealthCheckRequest, HealthCheckResponse, HealthListRequest, HealthListResponse};
use bollard_buildkit_proto::moby::buildkit::secrets::v1::secrets_server::{Secrets, SecretsServer};
use bollard_buildkit_proto::moby::buildkit::secrets::v1::{GetSecretRequest, GetSecretResponse};
use bollard_buildkit_proto::moby::filesync::v1::auth_server::{Auth, AuthServer};
use bollard_buildkit_proto::moby::filesync::v1::{
    CredentialsRequest, CredentialsResponse, FetchTokenRequest, FetchTokenResponse, GetTokenAuthorityRequest,
    GetTokenAuthorityResponse, VerifyTokenAuthorityRequest, VerifyTokenAuthorityResponse,
};
use hyper_util::rt::TokioIo;
use tonic::{Request, Response, Status};

use super::wire::{self, Upgraded};
use crate::push::RegistryAuth;

/// What the session hands out: secret values by id, and credentials by registry host.
#[derive(Debug, Clone, Default)]
pub(crate) struct SessionData {
    pub(crate) secrets: BTreeMap<String, Vec<u8>>,
    pub(crate) registries: BTreeMap<String, RegistryAuth>,
}

/// The gRPC methods offered; the daemon calls only those announced.
const METHODS: &[&str] = &[
    "/grpc.health.v1.Health/Check",
    "/moby.filesync.v1.Auth/Credentials",
    "/moby.filesync.v1.Auth/FetchToken",
    "/moby.filesync.v1.Auth/GetTokenAuthority",
    "/moby.filesync.v1.Auth/VerifyTokenAuthority",
    "/moby.buildkit.secrets.v1.Secrets/GetSecret",
];

/// A running session; dropping it closes the connection.
pub(crate) struct Session {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Opens session `id` on the daemon at `endpoint` and serves it until dropped.
pub(crate) async fn open(endpoint: &str, id: &str, data: SessionData) -> io::Result<Session> {
    let mut request = http::Request::post("/session")
        .header(http::header::HOST, "docker")
        .header(http::header::CONNECTION, "Upgrade")
        .header(http::header::UPGRADE, "h2c")
        .header("X-Docker-Expose-Session-Uuid", id)
        .header("X-Docker-Expose-Session-Name", "slipway")
        .header("X-Docker-Expose-Session-Sharedkey", id);
    for method in METHODS {
        request = request.header("X-Docker-Expose-Session-Grpc-Method", *method);
    }
    let request = request.body(wire::empty()).map_err(io::Error::other)?;
    let response = wire::send(endpoint, request).await?;
    if response.status() != http::StatusCode::SWITCHING_PROTOCOLS {
        let status = response.status();
        let message = wire::text_of(response).await;
        return Err(io::Error::other(format!("the daemon refused a BuildKit session ({status}): {message}")));
    }
    let upgraded = hyper::upgrade::on(response).await.map_err(io::Error::other)?;
    let data = Arc::new(data);
    let router = tonic::transport::Server::builder()
        .add_service(HealthServer::new(Healthy))
        .add_service(AuthServer::new(Credentials(Arc::clone(&data))))
        .add_service(SecretsServer::new(SecretValues(data)));
    let connection = Upgraded(TokioIo::new(upgraded));
    let task = tokio::spawn(async move {
        let incoming = futures_util::stream::once(async move { Ok::<_, io::Error>(connection) });
        if let Err(err) = router.serve_with_incoming(incoming).await {
            tracing::debug!(error = %err, "BuildKit session ended");
        }
    });
    Ok(Session { task })
}

struct Healthy;

#[tonic::async_trait]
impl Health for Healthy {
    async fn check(&self, _: Request<HealthCheckRequest>) -> Result<Response<HealthCheckResponse>, Status> {
        Ok(Response::new(HealthCheckResponse { status: ServingStatus::Serving as i32 }))
    }

    async fn list(&self, _: Request<HealthListRequest>) -> Result<Response<HealthListResponse>, Status> {
        Err(Status::unimplemented("list"))
    }

    type WatchStream =
        std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<HealthCheckResponse, Status>> + Send + 'static>>;

    async fn watch(&self, _: Request<HealthCheckRequest>) -> Result<Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented("watch"))
    }
}

struct Credentials(Arc<SessionData>);

#[tonic::async_trait]
impl Auth for Credentials {
    /// The daemon fetches registry tokens itself with these; an unknown host is asked anonymously.
    async fn credentials(&self, request: Request<CredentialsRequest>) -> Result<Response<CredentialsResponse>, Status> {
        let host = request.into_inner().host;
        let answer = match self.0.registries.get(&host) {
            Some(auth) => CredentialsResponse { username: auth.username.clone(), secret: auth.password.clone() },
            None => CredentialsResponse::default(),
        };
        Ok(Response::new(answer))
    }

    async fn fetch_token(&self, _: Request<FetchTokenRequest>) -> Result<Response<FetchTokenResponse>, Status> {
        Err(Status::unimplemented("the daemon fetches tokens with the credentials"))
    }

    async fn get_token_authority(
        &self,
        _: Request<GetTokenAuthorityRequest>,
    ) -> Result<Response<GetTokenAuthorityResponse>, Status> {
        Err(Status::unimplemented("no token authority"))
    }

    async fn verify_token_authority(
        &self,
        _: Request<VerifyTokenAuthorityRequest>,
    ) -> Result<Response<VerifyTokenAuthorityResponse>, Status> {
        Err(Status::unimplemented("no token authority"))
    }
}

struct SecretValues(Arc<SessionData>);

#[tonic::async_trait]
impl Secrets for SecretValues {
    async fn get_secret(&self, request: Request<GetSecretRequest>) -> Result<Response<GetSecretResponse>, Status> {
        let id = request.into_inner().id;
        match self.0.secrets.get(&id) {
            Some(value) => Ok(Response::new(GetSecretResponse { data: value.clone() })),
            None => Err(Status::not_found(format!(
                "build secret `{id}` is not given to this project; name it in the index's build-secrets and set \
                 its value in the configuration's [build_secrets]"
            ))),
        }
    }
}
