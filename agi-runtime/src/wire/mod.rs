//! The AGI wire format, as pure code: no sockets, no clocks.
//!
//! * `env`: the `agi_*` block that opens a session;
//! * `reply`: the lines Asterisk answers with, and the asynchronous `HANGUP`;
//! * `encode`: commands, quoted so that no argument can change the command.

pub(crate) mod encode;
pub(crate) mod env;
pub(crate) mod lines;
pub(crate) mod reply;

pub use encode::{Arg, CommandError, DEFAULT_MAX_COMMAND_LINE, ForbiddenByte, LARGE_MAX_COMMAND_LINE, quote_arg};
pub use env::{AgiEnv, EnvError, EnvLimits};
pub use reply::Response;
