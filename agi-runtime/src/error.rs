//! The errors a handler sees.

use std::time::Duration;

use crate::wire::CommandError;

/// The result type of every command: `Ok` with the typed result, or an [`AgiError`].
pub type AgiResult<T> = Result<T, AgiError>;

/// Why a command did not produce its result.
///
/// [`HungUp`](AgiError::HungUp) and [`Disconnected`](AgiError::Disconnected) are the
/// normal end of many calls: the caller left. Use [`AgiError::is_hangup`] to tell them
/// apart from real failures; the server logs them quietly.
///
/// ```
/// use agi_runtime::AgiError;
///
/// assert!(AgiError::HungUp.is_hangup());
/// assert!(AgiError::Disconnected.is_hangup());
/// assert!(!AgiError::InvalidCommand { command: "FOO".into() }.is_hangup());
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgiError {
    /// The channel has hung up: Asterisk answered `511`, or the call already knew it was
    /// dead and the command needs a live channel (so nothing was sent).
    #[error("the channel has hung up")]
    HungUp,
    /// Asterisk closed the connection (or it was reset).
    #[error("Asterisk closed the connection")]
    Disconnected,
    /// No reply within the command timeout; the connection is no longer usable.
    #[error("`{command}` got no reply within {timeout:?}")]
    Timeout {
        /// The command's keywords.
        command: String,
        /// The timeout in force.
        timeout: Duration,
    },
    /// `510`: Asterisk does not know the command (or the module providing it is not loaded).
    #[error("Asterisk does not know the command `{command}` (510)")]
    InvalidCommand {
        /// The command's keywords.
        command: String,
    },
    /// `520`: wrong number or form of arguments; `usage` is Asterisk's help text, if sent.
    #[error("Asterisk rejected the syntax of `{command}` (520)")]
    InvalidSyntax {
        /// The command's keywords.
        command: String,
        /// The usage text between the `520-` and `520 ` lines, lines joined with LF.
        usage: Option<String>,
    },
    /// Another status code (`503 result=-2 Memory allocation failure` for GOSUB).
    #[error("Asterisk answered `{command}` with status {code}: {text}")]
    Status {
        /// The command's keywords.
        command: String,
        /// The three-digit code.
        code: u16,
        /// The rest of the line.
        text: String,
    },
    /// The command could not be encoded safely; nothing was sent.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// An argument the command cannot carry (a sound file name with an extension, a
    /// caller-id name with a quote, …); nothing was sent.
    #[error(transparent)]
    InvalidArgument(#[from] crate::commands::InvalidArgument),
    /// Asterisk ran the command and reported that it failed (usually `200 result=-1`).
    ///
    /// If the channel is still up, Asterisk will set `AGISTATUS=FAILURE` when the session
    /// ends, although the session itself continues normally.
    #[error("`{command}` failed: `{reply}`")]
    Failed {
        /// The command's keywords.
        command: String,
        /// The reply line.
        reply: String,
    },
    /// `EXEC` of an application Asterisk does not have (`200 result=-2`).
    #[error("Asterisk has no dialplan application `{application}`")]
    UnknownApplication {
        /// The application name as sent.
        application: String,
    },
    /// A sound-file transfer (`PUT`/`GET`/`ISEXISTING SOUNDFILE`) did not complete.
    #[error(transparent)]
    Transfer(#[from] crate::commands::TransferError),
    /// A `200` reply whose content does not fit the command.
    #[error("unexpected reply to `{command}`: `{reply}`")]
    UnexpectedReply {
        /// The command's keywords.
        command: String,
        /// The reply line.
        reply: String,
    },
    /// Asterisk sent something that is not AGI; the connection is no longer usable.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// An earlier failure left the connection out of step (a timeout, a protocol error, or
    /// a command future dropped before its reply); no further command can be sent.
    #[error("the connection is unusable after an earlier failure: {0}")]
    Broken(&'static str),
    /// An I/O error other than a closed connection.
    #[error("I/O error: {0}")]
    Io(#[source] std::io::Error),
}

impl AgiError {
    /// Whether this error only says that the caller or Asterisk went away.
    pub fn is_hangup(&self) -> bool {
        matches!(self, AgiError::HungUp | AgiError::Disconnected)
    }

    /// Builds [`AgiError::UnexpectedReply`] for a typed command's parser.
    #[cold]
    pub(crate) fn unexpected(command: &str, response: &crate::Response<'_>) -> AgiError {
        AgiError::UnexpectedReply { command: command.to_owned(), reply: reply_line(response) }
    }

    /// Builds [`AgiError::Failed`] for a reply that reports the command's failure.
    pub(crate) fn failed(command: &str, response: &crate::Response<'_>) -> AgiError {
        AgiError::Failed { command: command.to_owned(), reply: reply_line(response) }
    }
}

/// The reply line a [`Response`](crate::Response) was parsed from.
fn reply_line(response: &crate::Response<'_>) -> String {
    if response.rest().is_empty() {
        format!("200 result={}", response.result())
    } else {
        format!("200 result={} {}", response.result(), response.rest())
    }
}

impl From<std::io::Error> for AgiError {
    fn from(error: std::io::Error) -> Self {
        use std::io::ErrorKind::*;
        match error.kind() {
            UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe | NotConnected => AgiError::Disconnected,
            _ => AgiError::Io(error),
        }
    }
}
