//! Typed inputs of a handler: query arguments, path captures, `agi_arg_N`, and values
//! taken from the call or the router state by type.

use std::borrow::Cow;
use std::fmt;

/// Where a handler input comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputSource {
    /// A `?key=value` argument of `agi_network_script`.
    Query,
    /// A `{name}` capture of the route.
    Path,
    /// `agi_arg_N`, an argument after the URL in the dialplan's `AGI()`.
    Arg(usize),
    /// A value taken by type from the call or the router state.
    Extractor,
}

impl fmt::Display for InputSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputSource::Query => f.write_str("query argument"),
            InputSource::Path => f.write_str("path segment"),
            InputSource::Arg(n) => write!(f, "agi_arg_{n}"),
            InputSource::Extractor => f.write_str("input"),
        }
    }
}

/// A handler input could not be extracted, so the handler did not run.
///
/// The server logs it and reports `BAD_REQUEST` with this text to the dialplan.
///
/// ```
/// use agi_runtime::{InputSource, Rejection};
///
/// let r = Rejection::invalid(InputSource::Query, "extension", "12a", "invalid digit found in string");
/// assert_eq!(r.to_string(), "query argument `extension` = \"12a\": invalid digit found in string");
/// let r = Rejection::missing(InputSource::Arg(1), "exten");
/// assert_eq!(r.to_string(), "agi_arg_1 (`exten`) is missing");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Where the input comes from.
    pub source: InputSource,
    /// The handler parameter (or query key) it was meant for.
    pub parameter: Cow<'static, str>,
    /// The raw value received, if any.
    pub value: Option<String>,
    /// Why it was refused.
    pub reason: String,
}

impl Rejection {
    /// A required input that is absent.
    pub fn missing(source: InputSource, parameter: impl Into<Cow<'static, str>>) -> Rejection {
        Rejection { source, parameter: parameter.into(), value: None, reason: "missing".to_owned() }
    }

    /// An input whose value could not be parsed.
    pub fn invalid(
        source: InputSource,
        parameter: impl Into<Cow<'static, str>>,
        value: impl Into<String>,
        reason: impl fmt::Display,
    ) -> Rejection {
        Rejection { source, parameter: parameter.into(), value: Some(value.into()), reason: reason.to_string() }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let named = match self.source {
            InputSource::Arg(_) => format!("{} (`{}`)", self.source, self.parameter),
            _ => format!("{} `{}`", self.source, self.parameter),
        };
        match &self.value {
            None if self.reason == "missing" => write!(f, "{named} is missing"),
            None => write!(f, "{named}: {}", self.reason),
            Some(value) => write!(f, "{named} = {value:?}: {}", self.reason),
        }
    }
}

impl std::error::Error for Rejection {}
