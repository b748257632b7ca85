//! The `520` replies: the usage block of a command given the wrong words.
//!
//! The texts of the commands captured from Asterisk 22.10.1 are reproduced byte for
//! byte (`tests/agi-test-vectors`); the other commands answer with the single-line
//! form Asterisk uses when it has no usage text.

use super::commands::Command;

/// The first line of a usage block (two spaces after `syntax.`).
const START: &str = "520-Invalid command syntax.  Proper usage follows:";
/// The last line of a usage block.
const END: &str = "520 End of proper usage.";
/// The reply when no usage text is available.
const UNAVAILABLE: &str = "520 Invalid command syntax.  Proper usage not available.";

fn body(command: Command) -> Option<&'static [&'static str]> {
    Some(match command {
        Command::StreamFile => &[
            "Send the given file, allowing playback to be interrupted by the given digits, if any. Returns <literal>0</literal> if playback completes without a digit being pressed, or the ASCII numerical value of the digit if one was pressed, or <literal>-1</literal> on error or if the channel was disconnected. If musiconhold is playing before calling stream file it will be automatically stopped and will not be restarted after completion.",
            "It sets the following channel variables upon completion:",
            "<variable>PLAYBACKSTATUS</variable>: The status of the playback attempt as a text string.",
            "    <value>SUCCESS</value>",
            "    <value>FAILED</value>",
        ],
        Command::WaitForDigit => &[
            "Waits up to <replaceable>timeout</replaceable> milliseconds for channel to receive a DTMF digit. Returns <literal>-1</literal> on channel failure, <literal>0</literal> if no digit is received in the timeout, or the numerical value of the ascii of the digit if one is received. Use <literal>-1</literal> for the <replaceable>timeout</replaceable> value if you desire the call to block indefinitely.",
        ],
        Command::SetVariable => &["Sets a variable to the current channel."],
        Command::DatabaseGet => &[
            "Retrieves an entry in the Asterisk database for a given <replaceable>family</replaceable> and <replaceable>key</replaceable>.",
            "Returns <literal>0</literal> if <replaceable>key</replaceable> is not set. Returns <literal>1</literal> if <replaceable>key</replaceable> is set and returns the variable in parenthesis.",
            "Example return code: 200 result=1 (testvariable)",
        ],
        Command::SayNumber => &[
            "Say a given number, returning early if any of the given DTMF digits are received on the channel.  Returns <literal>0</literal> if playback completes without a digit being pressed, or the ASCII numerical value of the digit if one was pressed or <literal>-1</literal> on error/hangup.",
        ],
        _ => return None,
    })
}

/// The lines of the `520` reply for `command`.
pub(crate) fn lines(command: Command) -> Vec<String> {
    match body(command) {
        Some(body) => std::iter::once(START).chain(body.iter().copied()).chain([END]).map(str::to_owned).collect(),
        None => vec![UNAVAILABLE.to_owned()],
    }
}
