//! The AGI wire format, as pure code: no sockets, no clocks.
//!
//! * the `agi_*` block that opens a session: [`AgiEnv`];
//! * the lines Asterisk answers with, and the asynchronous `HANGUP`: [`Response`];
//! * commands, quoted so that no argument can change the command: [`quote_arg`],
//!   [`CommandError`].

pub(crate) mod encode;
pub(crate) mod env;
pub(crate) mod lines;
pub(crate) mod reply;

pub use encode::{Arg, CommandError, DEFAULT_MAX_COMMAND_LINE, ForbiddenByte, LARGE_MAX_COMMAND_LINE, quote_arg};
pub use env::{AgiEnv, EnvError, EnvLimits};
pub use reply::Response;
