//! Argument and result types shared by several commands.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

/// A DTMF digit: `0`-`9`, `*`, `#`, `A`-`D`.
///
/// Asterisk reports a digit as its ASCII code (`53` for `5`); commands convert it, so
/// handlers never see the codes.
///
/// ```
/// use agi_runtime::Digit;
///
/// assert_eq!(Digit::from_ascii_code(53), Some(Digit::D5));
/// assert_eq!(Digit::from_ascii_code(35), Some(Digit::Pound));
/// assert_eq!(Digit::try_from('*').unwrap().as_char(), '*');
/// assert!(Digit::try_from('x').is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum Digit {
    D0,
    D1,
    D2,
    D3,
    D4,
    D5,
    D6,
    D7,
    D8,
    D9,
    Star,
    Pound,
    A,
    B,
    C,
    D,
}

const DIGIT_CHARS: [char; 16] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D'];
const ALL_DIGITS: [Digit; 16] = [
    Digit::D0,
    Digit::D1,
    Digit::D2,
    Digit::D3,
    Digit::D4,
    Digit::D5,
    Digit::D6,
    Digit::D7,
    Digit::D8,
    Digit::D9,
    Digit::Star,
    Digit::Pound,
    Digit::A,
    Digit::B,
    Digit::C,
    Digit::D,
];

impl Digit {
    /// The character Asterisk uses for the digit.
    pub fn as_char(self) -> char {
        DIGIT_CHARS[self as usize]
    }

    /// The digit as a one-character string.
    pub fn as_str(self) -> &'static str {
        const TEXT: [&str; 16] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#", "A", "B", "C", "D"];
        TEXT[self as usize]
    }

    /// The digit for an ASCII code as found in `result=` (`48`-`57`, `42`, `35`, `65`-`68`).
    pub fn from_ascii_code(code: i64) -> Option<Digit> {
        let c = char::from(u8::try_from(code).ok()?);
        Digit::try_from(c).ok()
    }
}

impl TryFrom<char> for Digit {
    type Error = InvalidDigit;

    fn try_from(c: char) -> Result<Self, Self::Error> {
        let c = c.to_ascii_uppercase();
        DIGIT_CHARS.iter().position(|&d| d == c).map(|i| ALL_DIGITS[i]).ok_or(InvalidDigit(c))
    }
}

impl fmt::Display for Digit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_char())
    }
}

/// A character that is not a DTMF digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a DTMF digit (0-9, *, #, A-D)")]
pub struct InvalidDigit(pub char);

/// The set of digits that may interrupt a prompt.
///
/// ```
/// use agi_runtime::{Digit, EscapeDigits};
///
/// let keys: EscapeDigits = "12#".parse().unwrap();
/// assert!(keys.contains(Digit::Pound));
/// assert_eq!(keys.to_string(), "12#");
/// assert_eq!(EscapeDigits::ANY.to_string(), "0123456789*#");
/// assert_eq!(EscapeDigits::NONE.to_string(), "");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct EscapeDigits(u16);

impl EscapeDigits {
    /// No digit interrupts.
    pub const NONE: EscapeDigits = EscapeDigits(0);
    /// Any keypad digit (`0`-`9`, `*`, `#`) interrupts.
    pub const ANY: EscapeDigits = EscapeDigits(0x0fff);
    /// Every DTMF digit, the rarely seen `A`-`D` included, interrupts.
    pub const ALL: EscapeDigits = EscapeDigits(0xffff);

    /// Adds a digit.
    pub const fn with(self, digit: Digit) -> EscapeDigits {
        EscapeDigits(self.0 | 1 << digit as u16)
    }

    /// Whether `digit` is in the set.
    pub const fn contains(self, digit: Digit) -> bool {
        self.0 & (1 << digit as u16) != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The digits in keypad order, as the text commands send.
    pub(crate) fn text(self) -> DigitText {
        let mut text = DigitText { buf: [0; 16], len: 0 };
        for (i, c) in DIGIT_CHARS.iter().enumerate() {
            if self.0 & (1 << i) != 0 {
                text.buf[text.len] = *c as u8;
                text.len += 1;
            }
        }
        text
    }
}

/// The text of an [`EscapeDigits`] set, without allocating.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DigitText {
    buf: [u8; 16],
    len: usize,
}

impl DigitText {
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

impl From<Digit> for EscapeDigits {
    fn from(digit: Digit) -> Self {
        EscapeDigits::NONE.with(digit)
    }
}

impl FromIterator<Digit> for EscapeDigits {
    fn from_iter<I: IntoIterator<Item = Digit>>(iter: I) -> Self {
        iter.into_iter().fold(EscapeDigits::NONE, EscapeDigits::with)
    }
}

impl std::str::FromStr for EscapeDigits {
    type Err = InvalidDigit;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.chars().map(Digit::try_from).collect()
    }
}

impl fmt::Display for EscapeDigits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text().as_str())
    }
}

/// How a prompt played by `STREAM FILE` or `GET OPTION` ended.
///
/// `endpos` is the position reached, in samples of the file's native rate (8000 per
/// second for most telephone formats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Playback {
    /// Played to the end.
    Completed {
        /// Position reached, in samples.
        endpos: u64,
    },
    /// Stopped by an escape digit.
    Interrupted {
        /// The digit pressed.
        digit: Digit,
        /// Position reached, in samples.
        endpos: u64,
    },
    /// The file does not exist, or the channel hung up during playback. Asterisk will
    /// report `AGISTATUS=FAILURE` if the channel is still up.
    Failed {
        /// Position reached, in samples (the start offset if the file is missing).
        endpos: u64,
    },
}

/// A string of DTMF digits, as `GET DATA` collects them.
///
/// ```
/// use agi_runtime::{Digit, Digits};
///
/// let digits: Digits = "12*".parse().unwrap();
/// assert_eq!(digits, "12*");
/// assert_eq!(digits.iter().collect::<Vec<_>>(), [Digit::D1, Digit::D2, Digit::Star]);
/// assert!("12x".parse::<Digits>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Digits(String);

impl Digits {
    /// The digits as text (`0`-`9`, `*`, `#`, `A`-`D`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits one by one.
    pub fn iter(&self) -> impl Iterator<Item = Digit> + '_ {
        self.0.chars().filter_map(|c| Digit::try_from(c).ok())
    }

    /// How many digits there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::str::FromStr for Digits {
    type Err = InvalidDigit;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.chars().map(Digit::try_from).collect()
    }
}

impl FromIterator<Digit> for Digits {
    fn from_iter<I: IntoIterator<Item = Digit>>(iter: I) -> Self {
        Digits(iter.into_iter().map(Digit::as_char).collect())
    }
}

impl fmt::Display for Digits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Digits {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Digits {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// An argument a command refused before sending anything: what it was, and why.
///
/// ```
/// use agi_runtime::SoundFile;
///
/// let error = SoundFile::new("welcome.wav").unwrap_err();
/// assert_eq!(error.what(), "sound file name");
/// assert_eq!(error.to_string(), "invalid sound file name \"welcome.wav\": Asterisk adds the extension itself; give the name without `.wav`");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: {reason}")]
pub struct InvalidArgument {
    what: &'static str,
    value: String,
    reason: Cow<'static, str>,
}

impl InvalidArgument {
    pub(crate) fn new(what: &'static str, value: &str, reason: impl Into<Cow<'static, str>>) -> InvalidArgument {
        InvalidArgument { what, value: value.to_owned(), reason: reason.into() }
    }

    /// What the argument is (`sound file name`, `caller-id name`, …).
    pub fn what(&self) -> &'static str {
        self.what
    }

    /// The refused value.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Why it was refused.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// Extensions of the audio formats Asterisk ships; a sound file name ending in one is
/// almost always the mistake of naming the file instead of the sound.
const AUDIO_EXTENSIONS: &[&str] = &[
    "al", "alaw", "alw", "au", "g719", "g722", "g723", "g723sf", "g726-16", "g726-24", "g726-32", "g726-40", "g729",
    "gsm", "h263", "h264", "ilbc", "mp3", "mu", "oga", "ogg", "opus", "pcm", "raw", "siren14", "siren7", "sln",
    "sln12", "sln16", "sln192", "sln24", "sln32", "sln44", "sln48", "sln96", "spx", "ul", "ulaw", "vox", "wav",
    "wav16", "wav49",
];

/// Checks what every file name sent to Asterisk needs: not empty, no LF, CR or NUL, and
/// no `..` component (so an untrusted name cannot leave the directory it is meant for).
fn check_path(what: &'static str, name: &str) -> Result<(), InvalidArgument> {
    if name.is_empty() {
        return Err(InvalidArgument::new(what, name, "it is empty"));
    }
    if name.bytes().any(|b| matches!(b, b'\n' | b'\r' | 0)) {
        return Err(InvalidArgument::new(what, name, "it contains a line break or a NUL byte"));
    }
    // Byte scans: names are short, and a searcher's set-up costs more than the search.
    if name.as_bytes().windows(2).any(|pair| pair == b"..") && name.split('/').any(|part| part == "..") {
        return Err(InvalidArgument::new(what, name, "a `..` component is not allowed; use an absolute path"));
    }
    Ok(())
}

/// Defines a checked file-name type (a `&str` that passed `$check`) and the conversion
/// trait the commands take, implemented for the type, `&str` and `&String`.
macro_rules! checked_name {
    (
        $(#[$type_doc:meta])*
        type $name:ident checked by $check:ident;
        $(#[$trait_doc:meta])*
        trait $trait:ident :: $method:ident;
    ) => {
        $(#[$type_doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name<'a>(&'a str);

        impl<'a> $name<'a> {
            /// Checks `name`.
            pub fn new(name: &'a str) -> Result<$name<'a>, InvalidArgument> {
                $check(name)?;
                Ok($name(name))
            }

            /// The name as sent.
            pub fn as_str(&self) -> &'a str {
                self.0
            }
        }

        impl fmt::Display for $name<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.0)
            }
        }

        impl<'a> TryFrom<&'a str> for $name<'a> {
            type Error = InvalidArgument;

            fn try_from(name: &'a str) -> Result<Self, Self::Error> {
                $name::new(name)
            }
        }

        $(#[$trait_doc])*
        pub trait $trait<'a> {
            #[doc = concat!("Checks the name (see [`", stringify!($name), "`]).")]
            fn $method(self) -> Result<$name<'a>, InvalidArgument>;
        }

        impl<'a> $trait<'a> for $name<'a> {
            fn $method(self) -> Result<$name<'a>, InvalidArgument> {
                Ok(self)
            }
        }

        impl<'a> $trait<'a> for &'a str {
            fn $method(self) -> Result<$name<'a>, InvalidArgument> {
                $name::new(self)
            }
        }

        impl<'a> $trait<'a> for &'a String {
            fn $method(self) -> Result<$name<'a>, InvalidArgument> {
                $name::new(self)
            }
        }
    };
}

/// A sound name needs what every path needs, and no audio extension.
fn check_sound_file(name: &str) -> Result<(), InvalidArgument> {
    const WHAT: &str = "sound file name";
    check_path(WHAT, name)?;
    // `/` and `.` are ASCII: the slices after them start on character boundaries.
    let last = name.bytes().rposition(|b| b == b'/').map_or(name, |slash| &name[slash + 1..]);
    if let Some(dot) = last.bytes().rposition(|b| b == b'.')
        && let extension = &last[dot + 1..]
        && AUDIO_EXTENSIONS.iter().any(|known| known.eq_ignore_ascii_case(extension))
    {
        let reason = format!("Asterisk adds the extension itself; give the name without `.{extension}`");
        return Err(InvalidArgument::new(WHAT, name, reason));
    }
    Ok(())
}

fn check_remote_file(name: &str) -> Result<(), InvalidArgument> {
    check_path("remote file name", name)
}

checked_name! {
    /// The name of a sound, as `STREAM FILE`, `GET DATA`, `RECORD FILE` and the other
    /// media commands take it: without extension (Asterisk picks the best format it has),
    /// relative to the sounds directory or absolute.
    ///
    /// Refused: an empty name, LF, CR or NUL, a `..` path component, and a name ending in
    /// the extension of an audio format Asterisk knows (`.wav`, `.gsm`, `.ulaw`, …).
    /// Commands take anything that implements [`IntoSoundFile`] (`&str`, `&String`,
    /// `SoundFile`), so `call.stream_file("welcome", …)` checks the name on the way.
    ///
    /// ```
    /// use agi_runtime::SoundFile;
    ///
    /// assert!(SoundFile::new("custom/welcome").is_ok());
    /// assert!(SoundFile::new("/var/lib/asterisk/sounds/en/tt-monkeys").is_ok());
    /// assert!(SoundFile::new("release-2.1-notes").is_ok());
    /// assert!(SoundFile::new("welcome.gsm").is_err());
    /// assert!(SoundFile::new("../../etc/passwd").is_err());
    /// assert!(SoundFile::new("").is_err());
    /// ```
    type SoundFile checked by check_sound_file;

    /// Anything a media command accepts as a sound name: `&str`, `&String`, [`SoundFile`],
    /// or your own prompt type.
    ///
    /// ```
    /// use agi_runtime::{InvalidArgument, IntoSoundFile, SoundFile};
    ///
    /// enum Prompt { Welcome, Goodbye }
    ///
    /// impl IntoSoundFile<'static> for Prompt {
    ///     fn into_sound_file(self) -> Result<SoundFile<'static>, InvalidArgument> {
    ///         SoundFile::new(match self {
    ///             Prompt::Welcome => "custom/welcome",
    ///             Prompt::Goodbye => "vm-goodbye",
    ///         })
    ///     }
    /// }
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.stream_file(Prompt::Welcome, agi_runtime::EscapeDigits::NONE).await?;
    /// # Ok(()) }
    /// ```
    trait IntoSoundFile::into_sound_file;
}

checked_name! {
    /// The name of a file on the Asterisk host for the sound-file transfer commands
    /// (`PUT SOUNDFILE`, `GET SOUNDFILE`, `ISEXISTING SOUNDFILE`): **with** its extension,
    /// since these move bytes, not sounds.
    ///
    /// Refused: an empty name, LF, CR or NUL, and any `..` path component, so a name taken
    /// from a caller cannot write or read outside the directory it is meant for.
    ///
    /// ```
    /// use agi_runtime::RemoteFile;
    ///
    /// assert!(RemoteFile::new("custom/welcome.gsm").is_ok());
    /// assert!(RemoteFile::new("custom/../../etc/passwd").is_err());
    /// ```
    type RemoteFile checked by check_remote_file;

    /// Anything the transfer commands accept as a file name: `&str`, `&String`,
    /// [`RemoteFile`].
    trait IntoRemoteFile::into_remote_file;
}

/// How long a prompt-and-collect command waits for digits.
///
/// `GET DATA` and `GET OPTION` each have an Asterisk-side default, a finite wait and an
/// endless one; this makes the three explicit instead of encoding them as `0` and `-1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DigitTimeout {
    /// The command's default (see each command).
    #[default]
    Default,
    /// At most this long (rounded up to whole milliseconds).
    After(Duration),
    /// Until a digit comes or the caller hangs up.
    Forever,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sound_file_names_are_checked() {
        for good in
            ["welcome", "digits/1", "/abs/path/x", "v1.2-intro", "a b", "..hidden", "x..y", "old.wav/x", "x.gsm2"]
        {
            assert!(SoundFile::new(good).is_ok(), "{good}");
        }
        for bad in ["", "a\nb", "a\rb", "a\0b", "../x", "a/../b", "a/..", "x.WAV", "dir/x.gsm", "x.sln16"] {
            assert!(SoundFile::new(bad).is_err(), "{bad:?}");
        }
        assert!(RemoteFile::new("x.wav").is_ok());
        assert!(RemoteFile::new("a/../x.wav").is_err());
        assert!(RemoteFile::new("").is_err());
    }

    #[test]
    fn digit_strings_round_trip() {
        let digits: Digits = "0123456789*#ABCD".parse().unwrap();
        assert_eq!(digits.len(), 16);
        assert_eq!(digits.iter().collect::<Digits>(), digits);
        assert_eq!("abcd".parse::<Digits>().unwrap(), "ABCD");
        assert!(Digits::default().is_empty());
    }
}
