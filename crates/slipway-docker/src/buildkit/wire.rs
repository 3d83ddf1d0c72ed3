//! Raw HTTP to the daemon for what bollard cannot do here: the BuildKit `/build` request with a session of our
//! own (bollard's session offers no secrets) and the `/session` upgrade that session runs on.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A byte stream to the daemon: its unix socket or a TCP port.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

pub(crate) type Body = BoxBody<Bytes, io::Error>;

/// Opens a connection to `endpoint` (`unix:///path`, `tcp://host:port` or `http://host:port`).
async fn connect(endpoint: &str) -> io::Result<Box<dyn Io>> {
    if let Some(path) = endpoint.strip_prefix("unix://") {
        return Ok(Box::new(tokio::net::UnixStream::connect(path).await?));
    }
    let address = endpoint.strip_prefix("tcp://").or_else(|| endpoint.strip_prefix("http://")).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("BuildKit needs a unix:// or tcp:// daemon, not {endpoint}"),
        )
    })?;
    Ok(Box::new(tokio::net::TcpStream::connect(address.trim_end_matches('/')).await?))
}

/// Sends one request on a fresh connection, which stays open for the response and for an upgrade.
pub(crate) async fn send(endpoint: &str, request: http::Request<Body>) -> io::Result<http::Response<Incoming>> {
    let stream = connect(endpoint).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(io::Error::other)?;
    tokio::spawn(async move {
        if let Err(err) = connection.with_upgrades().await {
            tracing::debug!(error = %err, "BuildKit connection to the daemon closed");
        }
    });
    sender.send_request(request).await.map_err(io::Error::other)
}

pub(crate) fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// A body streamed from `chunks`.
pub(crate) fn streamed(chunks: impl futures_util::Stream<Item = io::Result<Bytes>> + Send + Sync + 'static) -> Body {
    use futures_util::StreamExt;
    BodyExt::boxed(StreamBody::new(chunks.map(|chunk| chunk.map(Frame::data))))
}

/// The whole (short) body of an error answer, as text.
pub(crate) async fn text_of(response: http::Response<Incoming>) -> String {
    match response.into_body().collect().await {
        Ok(body) => {
            let bytes = body.to_bytes();
            #[derive(serde::Deserialize)]
            struct ApiError {
                message: String,
            }
            serde_json::from_slice::<ApiError>(&bytes)
                .map(|e| e.message)
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).trim().to_string())
        }
        Err(err) => format!("(the answer could not be read: {err})"),
    }
}

/// An upgraded connection, served as one gRPC connection by tonic.
pub(crate) struct Upgraded(pub(crate) TokioIo<hyper::upgrade::Upgraded>);

impl tonic::transport::server::Connected for Upgraded {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for Upgraded {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Upgraded {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// `application/x-www-form-urlencoded` for query values.
pub(crate) fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_values_are_encoded() {
        assert_eq!(super::encode(r#"{"a":"b c"}"#), "%7B%22a%22%3A%22b%20c%22%7D");
        assert_eq!(super::encode("x-1.2_~"), "x-1.2_~");
    }
}
