//! The keys the simulated caller presses, in order.
//!
//! The caller presses the next key when a command listens for it: a key a command does
//! not accept (a digit outside a prompt's escape digits) stays queued for a later
//! command, so a script reads in the order of the call. `w` stands for the caller
//! waiting: the next command that waits for a key with a time limit times out.

use std::collections::VecDeque;
use std::fmt;

/// One entry of the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Digit(u8),
    Pause,
}

/// A key string with a character that is neither a DTMF digit nor `w`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InvalidKeys {
    /// The offending character.
    pub(crate) character: char,
}

impl fmt::Display for InvalidKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not a key: use 0-9, *, #, A-D, or w to wait", self.character)
    }
}

impl std::error::Error for InvalidKeys {}

/// Checks a key string (`"12w3#"`) without queueing it.
pub(crate) fn parse(keys: &str) -> Result<Vec<u8>, InvalidKeys> {
    keys.chars()
        .filter(|c| !matches!(c, ' ' | ',' | '_'))
        .map(|c| match c.to_ascii_uppercase() {
            d @ ('0'..='9' | '*' | '#' | 'A'..='D') => Ok(d as u8),
            'W' => Ok(b'w'),
            character => Err(InvalidKeys { character }),
        })
        .collect()
}

/// What a listening command learns from the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Heard {
    /// A digit (its ASCII code is the AGI result).
    Digit(u8),
    /// The caller let the time limit pass.
    Timeout,
    /// Nothing left to press: the caller stays silent for good.
    Silence,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Keypad {
    keys: VecDeque<Key>,
}

impl Keypad {
    /// Queues already-checked keys (from [`parse`]).
    pub(crate) fn push(&mut self, keys: &[u8]) {
        self.keys.extend(keys.iter().map(|&k| if k == b'w' { Key::Pause } else { Key::Digit(k) }));
    }

    /// A digit pressed during a prompt that `accepts` it; pauses and other digits stay
    /// queued (a prompt does not wait, and the caller waits to press what it ignores).
    pub(crate) fn during_prompt(&mut self, accepts: impl Fn(u8) -> bool) -> Option<u8> {
        match self.keys.front() {
            Some(&Key::Digit(d)) if accepts(d) => {
                self.keys.pop_front();
                Some(d)
            }
            _ => None,
        }
    }

    /// What a command waiting for a digit `accepts` hears. With a time limit, a pause
    /// is a timeout; without one (`timed == false`), pauses are skipped.
    pub(crate) fn wait_for(&mut self, timed: bool, accepts: impl Fn(u8) -> bool) -> Heard {
        loop {
            match self.keys.front() {
                None => return Heard::Silence,
                Some(Key::Pause) => {
                    self.keys.pop_front();
                    if timed {
                        return Heard::Timeout;
                    }
                }
                Some(&Key::Digit(d)) if accepts(d) => {
                    self.keys.pop_front();
                    return Heard::Digit(d);
                }
                // A digit this command ignores: the caller holds it back, the wait runs out.
                Some(Key::Digit(_)) => return Heard::Timeout,
            }
        }
    }

    /// The keys not pressed yet, `w` for pauses.
    pub(crate) fn remaining(&self) -> String {
        self.keys
            .iter()
            .map(|k| match k {
                Key::Digit(d) => char::from(*d),
                Key::Pause => 'w',
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keypad(keys: &str) -> Keypad {
        let mut keypad = Keypad::default();
        keypad.push(&parse(keys).unwrap());
        keypad
    }

    #[test]
    fn parses_digits_and_pauses() {
        assert_eq!(parse("12w#a").unwrap(), b"12w#A");
        assert_eq!(parse("1 2,3").unwrap(), b"123");
        assert_eq!(parse("1x").unwrap_err().character, 'X');
    }

    #[test]
    fn prompts_take_only_accepted_digits() {
        let mut keys = keypad("5w1");
        assert_eq!(keys.during_prompt(|d| d == b'1'), None);
        assert_eq!(keys.during_prompt(|d| d == b'5'), Some(b'5'));
        assert_eq!(keys.during_prompt(|_| true), None, "a pause shields the next digit");
        assert_eq!(keys.wait_for(true, |_| true), Heard::Timeout);
        assert_eq!(keys.wait_for(true, |_| true), Heard::Digit(b'1'));
        assert_eq!(keys.wait_for(true, |_| true), Heard::Silence);
    }

    #[test]
    fn untimed_waits_skip_pauses() {
        let mut keys = keypad("ww7");
        assert_eq!(keys.wait_for(false, |_| true), Heard::Digit(b'7'));
        assert_eq!(keys.remaining(), "");
    }
}
