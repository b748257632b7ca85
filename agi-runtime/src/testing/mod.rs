//! Testing handlers without a PBX.
//!
//! Enable the `testing` feature in your dev-dependencies:
//!
//! ```toml
//! [dev-dependencies]
//! agi-runtime = { version = "0.1", features = ["testing"] }
//! ```
//!
//! * [`CallSpec`]: the environment of a simulated call, with Asterisk 22's defaults;
//! * [`ScriptedPeer`]: a byte-exact scripted Asterisk, over TCP or in memory;
//! * [`asterisk_words`]: Asterisk's own word splitting, to check what a command means;
//! * [`fuzz`]: the wire format's entry points, for property tests and fuzzers.

mod call_spec;
pub mod fuzz;
mod peer;
mod transcript;

pub use call_spec::CallSpec;
pub use peer::{Finished, ScriptedPeer, asterisk_words};
pub use transcript::{Direction, EOF_MARKER, Event, SERVER_CLOSE_MARKER};
