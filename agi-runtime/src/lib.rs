//! A fast, typed FastAGI server framework for Asterisk.
//!
//! Asterisk's dialplan hands a call to a remote program with
//! `AGI(agi://10.0.0.2/GetCallerRecord?extension=${EXTEN})`: it connects to the server
//! (port 4573 by default), sends an `agi_*` environment block, and then runs the
//! commands the server sends, one per line, until the server closes the connection.
//!
//! This crate is that server: a [`Server`] accepts connections, a [`Router`] picks a
//! handler by the script path, and the handler drives the call through a [`Call`],
//! whose typed commands quote every argument so that no caller-supplied text can ever
//! become a second command.
//!
//! ```no_run
//! use agi_runtime::{handler_fn, EscapeDigits, Router, Server};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let router = Router::new().route(
//!         "/GetCallerRecord",
//!         handler_fn(|call| Box::pin(async move {
//!             call.answer().await?;
//!             call.stream_file("welcome", EscapeDigits::NONE).await?;
//!             Ok::<(), agi_runtime::AgiError>(())
//!         })),
//!     )?;
//!     Server::bind("0.0.0.0:4573").await?.serve(router).await?;
//!     Ok(())
//! }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod admission;
mod call;
pub mod commands;
mod connection;
mod error;
mod extract;
mod handler;
mod hangup;
mod limits;
#[cfg(feature = "metrics")]
pub mod metrics;
mod observe;
mod router;
mod server;
mod session;
mod status;
pub mod wire;

#[cfg(feature = "testing")]
pub mod testing;

pub use admission::{Admission, AdmissionPolicy, AdmitFn, Both, InvalidNetwork, IpAllowlist, admit_fn};
pub use call::Call;
pub use commands::{Digit, EscapeDigits, Playback};
pub use connection::Transport;
pub use error::{AgiError, AgiResult};
pub use extract::{InputSource, Rejection};
pub use handler::{BoxFuture, Handler, HandlerFn, IntoOutcome, Outcome, handler_fn};
pub use hangup::HangupSignal;
pub use limits::ServerStats;
pub use router::{HandlerRef, Router, RouterError};
pub use server::{Server, ShutdownReport};
pub use status::{CallStatus, StatusReporting};
pub use wire::{AgiEnv, CommandError, EnvError, EnvLimits, Response};
