//! The AGI command set as typed methods on [`Call`](crate::Call).
//!
//! One module per group of commands; shared argument and result types live in
//! [`types`]. Every method documents what the command does, its result cases, and
//! whether it works on a hung-up channel.

mod basics;
pub mod types;

pub use types::{Digit, EscapeDigits, Playback};
