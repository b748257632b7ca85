//! Argument and result types shared by several commands.

use std::fmt;

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

    /// Adds a digit.
    pub const fn with(self, digit: Digit) -> EscapeDigits {
        EscapeDigits(self.0 | 1 << digit as u16)
    }

    /// Whether `digit` is in the set.
    pub const fn contains(self, digit: Digit) -> bool {
        self.0 & (1 << digit as u16) != 0
    }

    /// Writes the digits (in keypad order) into `buf`, returning the text.
    pub(crate) fn render(self, buf: &mut [u8; 16]) -> &str {
        let mut len = 0;
        for (i, c) in DIGIT_CHARS.iter().enumerate() {
            if self.0 & (1 << i) != 0 {
                buf[len] = *c as u8;
                len += 1;
            }
        }
        std::str::from_utf8(&buf[..len]).unwrap_or_default()
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
        f.write_str(self.render(&mut [0; 16]))
    }
}

/// How a prompt played by `STREAM FILE` ended.
///
/// `endpos` is the position reached, in samples of the file's native rate.
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
