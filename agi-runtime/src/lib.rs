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

// Lets this crate's own tests use the macros, whose expansions name `::agi_runtime`.
#[allow(unused_extern_crates)]
extern crate self as agi_runtime;

/// Declares a handler for a route: see the [crate documentation](crate#handlers).
pub use agi_macros::agi_route;
/// Builds a [`Router`] from `#[agi_route]` handlers, rejecting duplicate routes at
/// compile time.
pub use agi_macros::routes;

#[doc(hidden)]
#[path = "bench_support.rs"]
pub mod __bench;
#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
mod admission;
mod buffers;
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
mod recording;
mod router;
mod server;
mod session;
mod status;
pub mod transcript;
pub mod wire;

#[cfg(feature = "testing")]
pub mod testing;

pub use admission::{Admission, AdmissionPolicy, AdmitFn, Both, InvalidNetwork, IpAllowlist, admit_fn};
pub use call::Call;
pub use commands::{
    AppOutcome, ChannelState, ControlOptions, ControlPlayback, ControlPosition, DataInput, Digit, DigitTimeout,
    DigitWait, Digits, EscapeDigits, Gender, GosubOutcome, IntoRemoteFile, IntoSoundFile, InvalidArgument,
    InvalidDigit, Playback, Priority, ReceivedChar, Recognition, RecordFailure, RecordOptions, Recording, RemoteFile,
    SayCase, SayOutcome, SoundFile, SpeechResult, TddMode, TransferError, TreeDeletion,
};
pub use connection::Transport;
pub use error::{AgiError, AgiResult};
pub use extract::{Args, CallerId, FromCall, FromParam, FromRef, InputSource, PeerAddr, Query, Rejection, State};
pub use handler::{BoxFuture, Handler, HandlerFn, IntoOutcome, Outcome, handler_fn};
pub use hangup::HangupSignal;
pub use limits::ServerStats;
pub use recording::CallRecording;
pub use router::{HandlerRef, Router, RouterError};
pub use server::{Server, ShutdownReport};
pub use status::{CallStatus, StatusReporting};
pub use wire::{AgiEnv, CommandError, EnvError, EnvLimits, Response};

/// The names most handlers need: `use agi_runtime::prelude::*;`.
pub mod prelude {
    pub use crate::{
        AgiEnv, AgiError, AgiResult, Args, Call, CallerId, Digit, EscapeDigits, PeerAddr, Playback, Query, Router,
        Server, State, agi_route, routes,
    };
}

/// Compiles the code blocks of the README, so the front page never shows code that
/// does not build.
#[cfg(all(doctest, feature = "testing"))]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
