//! Where a simulated call goes: a server in this process, reached through an in-memory
//! pipe, or any server over TCP.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::connection::Transport;
use crate::session::{App, SessionConfig};
use crate::{Router, StatusReporting};

/// A server running in this process without a socket: each
/// [`connect`](InProcessServer::connect) opens an in-memory pipe and serves one
/// session on it, exactly as a [`Server`](crate::Server) serves a TCP connection.
///
/// ```
/// use agi_runtime::testing::{CallSpec, FakeAsterisk, InProcessServer};
/// use agi_runtime::{handler_fn, Router, StatusReporting};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let router: Router = Router::new()
///     .route("/hello", handler_fn(|call| Box::pin(async move { call.answer().await })))
///     .unwrap();
/// let server = InProcessServer::with_status_reporting(router, StatusReporting::disabled());
/// let report = FakeAsterisk::new(CallSpec::new("/hello")).call(&server).await.unwrap();
/// assert_eq!(report.commands(), ["ANSWER"]);
/// # }
/// ```
pub struct InProcessServer {
    app: Arc<App>,
}

impl std::fmt::Debug for InProcessServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessServer").finish_non_exhaustive()
    }
}

impl InProcessServer {
    /// Serves `router` with the server's default settings (status reported in
    /// `FASTAGI_STATUS` and `FASTAGI_REASON`).
    pub fn new(router: Router) -> InProcessServer {
        InProcessServer::with_config(router, SessionConfig::default())
    }

    /// Serves `router`, reporting each call's status as `reporting` says
    /// ([`StatusReporting::disabled`] to see only the handler's own commands).
    pub fn with_status_reporting(router: Router, reporting: StatusReporting) -> InProcessServer {
        InProcessServer::with_config(router, SessionConfig { status: reporting, ..SessionConfig::default() })
    }

    fn with_config(router: Router, config: SessionConfig) -> InProcessServer {
        InProcessServer { app: App::new(router, config, None, Default::default()) }
    }

    /// Opens a connection: a session runs on the other end of the returned pipe (on a
    /// task of the current Tokio runtime).
    pub fn connect(&self) -> tokio::io::DuplexStream {
        spawn_session(self.app.clone())
    }
}

/// Runs one session of `app` on a new in-memory pipe and returns Asterisk's end.
pub(crate) fn spawn_session(app: Arc<App>) -> tokio::io::DuplexStream {
    let (asterisk, server) = tokio::io::duplex(64 * 1024);
    tokio::spawn(crate::session::run_in_memory(Box::new(server), app));
    asterisk
}

/// Where the fake Asterisk places a call, or a replay plays one.
///
/// Built from a [`Router`] (served in this process with the default settings), an
/// [`&InProcessServer`](InProcessServer), a [`SocketAddr`] (a server on TCP, e.g. one
/// bound to `127.0.0.1:0` in a test), or any connected stream with [`Target::stream`].
pub enum Target {
    /// A connection already open.
    Stream(Box<dyn Transport>),
    /// A server on TCP.
    Tcp(SocketAddr),
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Stream(_) => f.write_str("Target::Stream"),
            Target::Tcp(addr) => write!(f, "Target::Tcp({addr})"),
        }
    }
}

impl Target {
    /// A connection opened elsewhere.
    pub fn stream(stream: impl Transport) -> Target {
        Target::Stream(Box::new(stream))
    }

    pub(crate) async fn open(self) -> io::Result<Box<dyn Transport>> {
        match self {
            Target::Stream(stream) => Ok(stream),
            Target::Tcp(addr) => {
                let stream = tokio::net::TcpStream::connect(addr).await?;
                stream.set_nodelay(true)?;
                Ok(Box::new(stream))
            }
        }
    }
}

impl From<Router> for Target {
    fn from(router: Router) -> Target {
        Target::stream(spawn_session(App::new(router, SessionConfig::default(), None, Default::default())))
    }
}

impl From<&InProcessServer> for Target {
    fn from(server: &InProcessServer) -> Target {
        Target::stream(server.connect())
    }
}

impl From<SocketAddr> for Target {
    fn from(addr: SocketAddr) -> Target {
        Target::Tcp(addr)
    }
}
