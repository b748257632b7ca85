//! Testing handlers without a PBX.
//!
//! Enable the `testing` feature in your dev-dependencies:
//!
//! ```toml
//! [dev-dependencies]
//! agi-runtime = { version = "0.1", features = ["testing"] }
//! ```
//!
//! * [`FakeAsterisk`]: places a call against a route table in this process, or against
//!   any server over TCP, and answers every command as Asterisk 22 does by default, from a
//!   simulated channel (keys the caller presses, sound files, variables, the AstDB,
//!   hang-ups); scripted expectations can answer first. It returns a [`CallReport`].
//! * [`Replay`]: drives a server with a transcript file (a capture of a real Asterisk,
//!   or a call the server [recorded](crate::CallRecording)) and checks that it sends
//!   exactly the recorded commands, byte for byte.
//! * [`ScriptedPeer`]: a byte-exact scripted Asterisk, one line at a time.
//! * [`CallSpec`]: the environment of a simulated call, with Asterisk 22's defaults.
//! * [`asterisk_words`]: Asterisk's own word splitting, to check what a command means.
//! * [`fuzz`]: the wire format's entry points, for property tests and fuzzers.

mod call_spec;
mod channel;
mod fake;
pub mod fuzz;
mod peer;
mod replay;
mod script;
mod target;

pub use call_spec::CallSpec;
pub use fake::{CallEnd, CallReport, FakeAsterisk, SimError, SimErrorKind};
pub use peer::{Finished, ScriptedPeer, asterisk_words};
pub use replay::{Hazard, HazardKind, Replay, ReplayReport};
pub use target::{InProcessServer, Target};

pub use crate::transcript::{Direction, EOF_MARKER, Event, SERVER_CLOSE_MARKER, Transcript};
