//! The AGI command set as typed methods on [`Call`](crate::Call).
//!
//! Every one of the 47 commands (the 46 of `res_agi` and `GOSUB` from `app_stack`) is
//! a method, grouped here by purpose:
//!
//! | group | commands |
//! | --- | --- |
//! | call control | `ANSWER`, `HANGUP`, `CHANNEL STATUS`, `SET AUTOHANGUP`, `SET CALLERID`, `TDD MODE` |
//! | playback and prompts | `STREAM FILE`, `CONTROL STREAM FILE`, `GET OPTION`, `SET MUSIC` |
//! | input | `GET DATA`, `WAIT FOR DIGIT`, `RECORD FILE`, `RECEIVE CHAR`, `RECEIVE TEXT` |
//! | say | `SAY ALPHA`, `SAY DATE`, `SAY DATETIME`, `SAY DIGITS`, `SAY NUMBER`, `SAY PHONETIC`, `SAY TIME` |
//! | variables and database | `GET VARIABLE`, `GET FULL VARIABLE`, `SET VARIABLE`, `DATABASE GET`/`PUT`/`DEL`/`DELTREE` |
//! | speech | `SPEECH CREATE`/`SET`/`DESTROY`, `SPEECH LOAD`/`UNLOAD`/`ACTIVATE`/`DEACTIVATE GRAMMAR`, `SPEECH RECOGNIZE` |
//! | dialplan control | `EXEC`, `GOSUB`, `SET CONTEXT`, `SET EXTENSION`, `SET PRIORITY` |
//! | misc | `NOOP`, `VERBOSE`, `SEND TEXT`, `SEND IMAGE`, `ASYNCAGI BREAK` |
//! | sound-file transfer (a third-party module) | `PUT SOUNDFILE`, `GET SOUNDFILE`, `ISEXISTING SOUNDFILE` |
//!
//! Conventions:
//!
//! * Digits are [`Digit`]s, never ASCII codes; escape digits are an [`EscapeDigits`]
//!   set; times are [`Duration`](std::time::Duration)s, converted to the milliseconds
//!   or seconds each command takes, and "wait forever" is spelled out (`None`,
//!   [`DigitTimeout::Forever`]) rather than `-1`; sound names are checked
//!   ([`SoundFile`]).
//! * A command with several normal outcomes returns an enum naming them (a prompt is
//!   completed, interrupted by a digit, or failed), with positions in the unit that
//!   command reports. A command whose only alternative to success is failure returns
//!   `Ok(())` or [`AgiError::Failed`](crate::AgiError::Failed). A yes/no question
//!   returns `bool` or `Option`.
//! * Each method says whether it works on a hung-up channel. Once the call knows the
//!   channel is gone, the others fail with [`AgiError::HungUp`](crate::AgiError::HungUp)
//!   without a round trip.
//! * Arguments are quoted so that no text can become a second command; text that
//!   cannot be carried is refused before anything is sent
//!   ([`AgiError::Command`](crate::AgiError::Command),
//!   [`AgiError::InvalidArgument`](crate::AgiError::InvalidArgument)).
//! * For commands added by other modules, [`Call::command`](crate::Call::command) sends
//!   any words through the same encoder.

mod call_control;
mod dialplan;
mod input;
mod misc;
mod parse;
mod playback;
mod say;
mod speech;
mod transfer;
pub mod types;
mod variables;

pub use call_control::{ChannelState, TddMode};
pub use dialplan::{AppOutcome, GosubOutcome, Priority};
pub use input::{DataInput, DigitWait, ReceivedChar, RecordFailure, RecordOptions, Recording};
pub use playback::{ControlOptions, ControlPlayback, ControlPosition};
pub use say::{Gender, SayCase, SayOutcome};
pub use speech::{Recognition, SpeechResult};
pub use transfer::TransferError;
pub use types::{
    Digit, DigitTimeout, Digits, EscapeDigits, IntoRemoteFile, IntoSoundFile, InvalidArgument, InvalidDigit, Playback,
    RemoteFile, SoundFile,
};
pub use variables::TreeDeletion;
