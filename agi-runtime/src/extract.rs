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

use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};

use crate::call::Call;
use crate::wire::AgiEnv;

/// A handler input taken by type from the call or the router state.
///
/// `#[agi_route]` recognises the built-in extractors by name ([`State`], [`AgiEnv`],
/// [`CallerId`], [`Args`], [`Query`], [`PeerAddr`]); mark a parameter of your own
/// extractor type with `#[from_call]`.
///
/// ```
/// use agi_runtime::{Call, FromCall, Rejection, InputSource};
///
/// /// The caller's language, refusing calls without one.
/// struct Language(String);
///
/// impl<S> FromCall<S> for Language {
///     fn from_call(call: &Call, _state: &S) -> Result<Self, Rejection> {
///         match call.env().language() {
///             Some(lang) if !lang.is_empty() => Ok(Language(lang.to_owned())),
///             _ => Err(Rejection::missing(InputSource::Extractor, "agi_language")),
///         }
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be taken from an AGI call",
    label = "does not implement `FromCall`",
    note = "extractors implement `agi_runtime::FromCall`; plain parameters without `#[from_call]` are query arguments",
    note = "`State<T>` needs `T: FromRef<S>` for the router's state `S`: did you forget `.with_state(...)`?"
)]
pub trait FromCall<S>: Sized {
    /// Extracts the value, or rejects the call (the handler then does not run).
    fn from_call(call: &Call, state: &S) -> Result<Self, Rejection>;
}

/// Gets a `T` out of the router's state `S` (for [`State<T>`]).
///
/// Every `Clone` type is its own `FromRef`; implement it to hand out parts of a larger
/// state struct.
///
/// ```
/// use agi_runtime::FromRef;
///
/// #[derive(Clone)]
/// struct Db;
/// #[derive(Clone)]
/// struct AppState { db: Db }
///
/// impl FromRef<AppState> for Db {
///     fn from_ref(state: &AppState) -> Db {
///         state.db.clone()
///     }
/// }
/// ```
pub trait FromRef<S> {
    /// Builds the value from the state.
    fn from_ref(state: &S) -> Self;
}

impl<T: Clone> FromRef<T> for T {
    fn from_ref(state: &T) -> T {
        state.clone()
    }
}

/// Shared state supplied with [`Router::with_state`](crate::Router::with_state), cloned
/// for each call (wrap large state in an `Arc`).
///
/// ```
/// use std::sync::Arc;
/// use agi_runtime::prelude::*;
///
/// type Customers = Arc<std::collections::HashMap<u32, String>>;
///
/// #[agi_route("/lookup")]
/// async fn lookup(call: &mut Call, extension: u32, customers: State<Customers>) -> AgiResult<()> {
///     let name = customers.get(&extension).cloned().unwrap_or_default();
///     call.set_variable("CUSTOMER", &name).await
/// }
///
/// let router: Router = routes![lookup].with_state(Customers::default());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct State<T>(pub T);

impl<T> Deref for State<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for State<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<S, T: FromRef<S>> FromCall<S> for State<T> {
    fn from_call(_call: &Call, state: &S) -> Result<Self, Rejection> {
        Ok(State(T::from_ref(state)))
    }
}

impl<S> FromCall<S> for AgiEnv {
    fn from_call(call: &Call, _state: &S) -> Result<Self, Rejection> {
        Ok(call.env().clone())
    }
}

/// The caller's number and name; `None` where Asterisk sends `unknown`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallerId {
    /// `agi_callerid`.
    pub number: Option<String>,
    /// `agi_calleridname`.
    pub name: Option<String>,
}

impl<S> FromCall<S> for CallerId {
    fn from_call(call: &Call, _state: &S) -> Result<Self, Rejection> {
        let env = call.env();
        Ok(CallerId { number: env.caller_id_num().map(Into::into), name: env.caller_id_name().map(Into::into) })
    }
}

/// Every `agi_arg_N`, in order (for handlers taking a variable number of arguments).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Args(pub Vec<String>);

impl<S> FromCall<S> for Args {
    fn from_call(call: &Call, _state: &S) -> Result<Self, Rejection> {
        Ok(Args(call.env().args().map(Into::into).collect()))
    }
}

/// The whole query deserialised into your own type, as an alternative to one
/// parameter per argument.
///
/// ```
/// use agi_runtime::prelude::*;
///
/// #[derive(serde::Deserialize)]
/// struct Lookup { extension: u32, lang: Option<String> }
///
/// #[agi_route("/lookup")]
/// async fn lookup(call: &mut Call, query: Query<Lookup>) -> AgiResult<()> {
///     let lang = query.lang.as_deref().unwrap_or("en");
///     call.set_variable("LANG_CHOSEN", lang).await
/// }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T> Deref for Query<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<S, T: serde::de::DeserializeOwned> FromCall<S> for Query<T> {
    fn from_call(call: &Call, _state: &S) -> Result<Self, Rejection> {
        let query = call.env().query();
        serde_urlencoded::from_str(query)
            .map(Query)
            .map_err(|e| Rejection::invalid(InputSource::Query, "query", query, e))
    }
}

/// The address Asterisk connected from (`None` for in-memory test calls).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub Option<SocketAddr>);

impl<S> FromCall<S> for PeerAddr {
    fn from_call(call: &Call, _state: &S) -> Result<Self, Rejection> {
        Ok(PeerAddr(call.peer_addr()))
    }
}

/// A value parsed from a path capture or an `agi_arg_N`, with [`FromStr`](std::str::FromStr).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be parsed from a path segment or an `agi_arg_N`",
    label = "this type does not implement `FromStr` with a displayable error",
    note = "path captures and `#[arg(N)]` parameters are parsed with `std::str::FromStr`, whose `Err` must implement `Display`"
)]
pub trait FromParam: Sized {
    /// Parses the (percent-decoded) text.
    fn from_param(text: &str) -> Result<Self, String>;
}

impl<T> FromParam for T
where
    T: std::str::FromStr,
    T::Err: fmt::Display,
{
    fn from_param(text: &str) -> Result<Self, String> {
        text.parse().map_err(|e: T::Err| e.to_string())
    }
}

/// Decodes `%XX` escapes (a path segment keeps `+` as is).
pub(crate) fn percent_decode(text: &str) -> Result<Cow<'_, str>, &'static str> {
    if !text.contains('%') {
        return Ok(Cow::Borrowed(text));
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            let byte = hex.and_then(|h| u8::from_str_radix(h, 16).ok()).ok_or("invalid percent-encoding")?;
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map(Cow::Owned).map_err(|_| "percent-decoded text is not UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("plain+text").unwrap(), "plain+text");
        assert_eq!(percent_decode("a%20b%2Fc").unwrap(), "a b/c");
        assert_eq!(percent_decode("%C3%A9").unwrap(), "é");
        assert!(percent_decode("%zz").is_err());
        assert!(percent_decode("%2").is_err());
        assert!(percent_decode("%FF").is_err());
    }
}
