//! What `#[agi_route]` and `routes!` expand to. Not a public API: generated code
//! reaches the runtime only through `::agi_runtime::__private`, so a user crate needs
//! no dependency but `agi-runtime` (not even serde).

use std::borrow::Cow;
use std::future::Future;

pub use serde;

pub use crate::call::Call;
pub use crate::extract::{FromCall, FromParam};
pub use crate::handler::{BoxFuture, Handler, IntoOutcome, Outcome};
pub use crate::router::Router;

use crate::extract::{InputSource, Rejection, percent_decode};

/// What the macro knows about a handler at compile time.
pub trait RouteDef {
    /// The route as written.
    const ROUTE: &'static str;
    /// The route with capture names erased: two handlers with one shape conflict.
    const SHAPE: &'static str;
    /// The function's name.
    const NAME: &'static str;
    /// `file:line` of the function.
    const LOCATION: &'static str;
    /// `max_calls = N` of the attribute: the route's own call limit.
    const MAX_CALLS: Option<usize>;

    /// The handler value (the macro's struct has no fields).
    fn instance() -> Self;
}

/// Compares two routes' shapes in const evaluation (for `routes!`'s duplicate check).
pub const fn same_route(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Adds a macro-defined handler to a router built by `routes!`.
pub fn register<S, H>(router: Router<S>, handler: H) -> Router<S>
where
    S: Send + Sync + 'static,
    H: Handler<S> + RouteDef,
{
    match add_route(router, handler) {
        Ok(router) => router,
        // `#[agi_route]` validated the route and `routes!` rejected duplicates at compile
        // time; reaching this means the two checks disagree.
        Err(error) => panic!("{error} (checked at compile time: please report this)"),
    }
}

/// Adds a macro-defined handler with the route and the options of its attribute.
fn add_route<S, H>(router: Router<S>, handler: H) -> Result<Router<S>, crate::RouterError>
where
    S: Send + Sync + 'static,
    H: Handler<S> + RouteDef,
{
    let router = router.__register(H::ROUTE, H::NAME, H::LOCATION, handler)?;
    match H::MAX_CALLS {
        Some(max) => router.max_calls_for(H::ROUTE, max),
        None => Ok(router),
    }
}

/// A handler's future, boxed as the router keeps it, its output turned into an
/// [`Outcome`] as it ends: the inputs were extracted before, so the box holds the
/// handler's own state machine and nothing around it.
pub fn into_outcome<'a, R: IntoOutcome, F: Future<Output = R> + Send + 'a>(future: F) -> BoxFuture<'a, Outcome> {
    crate::handler::boxed_outcome(future)
}

/// A call whose inputs could not be extracted: its handler does not run.
pub fn rejected<'a>(rejection: Rejection) -> BoxFuture<'a, Outcome> {
    Box::pin(std::future::ready(Outcome::Rejected(rejection)))
}

/// A query field the macro declared, for precise error reports.
pub struct QueryField {
    /// The key in the query string.
    pub key: &'static str,
    /// Whether the handler runs without it.
    pub optional: bool,
    /// Checks one raw (still encoded) value against the field's type.
    pub check: fn(&str) -> Result<(), String>,
}

/// Deserialises the call's query into the macro's hidden struct.
///
/// On failure, works out which field is at fault so the rejection names the
/// parameter and its raw value (serde_urlencoded's own errors often name neither).
pub fn query<T: serde::de::DeserializeOwned>(call: &Call, fields: &[QueryField]) -> Result<T, Rejection> {
    let env = call.env();
    serde_urlencoded::from_bytes(env.query_bytes())
        .map_err(|error| diagnose_query(env.query(), fields, &error.to_string()))
}

/// A type a query argument can have.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a query argument",
    label = "not decodable from a query value",
    note = "query arguments are decoded with serde_urlencoded: derive `serde::Deserialize` for the type, or take a `String` and parse it in the handler"
)]
pub trait QueryValue: serde::de::DeserializeOwned {}

impl<T: serde::de::DeserializeOwned> QueryValue for T {}

/// Checks one raw value against a field type, for [`QueryField::check`].
pub fn check_query_value<T: QueryValue>(raw: &str) -> Result<(), String> {
    #[derive(serde::Deserialize)]
    #[serde(crate = "serde")]
    struct One<T> {
        v: T,
    }
    serde_urlencoded::from_str::<One<T>>(&format!("v={raw}")).map(|one| drop(one.v)).map_err(|e| e.to_string())
}

fn diagnose_query(query: &str, fields: &[QueryField], error: &str) -> Rejection {
    let pairs: Vec<(Cow<'_, str>, &str)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .map(|(k, v)| (form_decode(k), v))
        .collect();
    for field in fields {
        let mut values = pairs.iter().filter(|(key, _)| key == field.key).map(|(_, raw)| *raw);
        match (values.next(), values.next()) {
            (None, _) if !field.optional => return Rejection::missing(InputSource::Query, field.key),
            (None, _) => {}
            (Some(_), Some(_)) => {
                return Rejection::invalid(InputSource::Query, field.key, query, "the key appears more than once");
            }
            (Some(raw), None) => {
                if let Err(reason) = (field.check)(raw) {
                    return Rejection::invalid(InputSource::Query, field.key, form_decode(raw), reason);
                }
            }
        }
    }
    Rejection::invalid(InputSource::Query, "query", query, error)
}

/// Decodes `application/x-www-form-urlencoded` text for error reports (`+` is a space).
fn form_decode(text: &str) -> Cow<'_, str> {
    if !text.contains(['+', '%']) {
        return Cow::Borrowed(text);
    }
    let spaced = text.replace('+', " ");
    match percent_decode(&spaced) {
        Ok(decoded) => Cow::Owned(decoded.into_owned()),
        Err(_) => Cow::Owned(spaced),
    }
}

/// Parses the path capture at `index` (percent-decoded) for parameter `name`.
pub fn path_param<T: FromParam>(call: &Call, index: usize, name: &'static str) -> Result<T, Rejection> {
    let raw = call.capture(index).ok_or_else(|| Rejection::missing(InputSource::Path, name))?;
    let text = percent_decode(raw).map_err(|reason| Rejection::invalid(InputSource::Path, name, raw, reason))?;
    T::from_param(&text).map_err(|reason| Rejection::invalid(InputSource::Path, name, text.as_ref(), reason))
}

/// Parses `agi_arg_N` for parameter `name`; a missing argument is a rejection.
pub fn agi_arg<T: FromParam>(call: &Call, n: usize, name: &'static str) -> Result<T, Rejection> {
    agi_arg_opt(call, n, name)?.ok_or_else(|| Rejection::missing(InputSource::Arg(n), name))
}

/// Parses `agi_arg_N` for an `Option` parameter: a missing argument is `None`.
pub fn agi_arg_opt<T: FromParam>(call: &Call, n: usize, name: &'static str) -> Result<Option<T>, Rejection> {
    let Some(text) = call.env().arg(n) else { return Ok(None) };
    T::from_param(text).map(Some).map_err(|reason| Rejection::invalid(InputSource::Arg(n), name, text, reason))
}

/// Runs an extractor.
pub fn extract<S, T: FromCall<S>>(call: &Call, state: &S) -> Result<T, Rejection> {
    T::from_call(call, state)
}

/// A handler that registered itself (feature `auto-register`), collected by
/// `Router::auto`.
#[cfg(feature = "auto-register")]
pub struct AutoRoute {
    pub(crate) add: fn(Router<()>) -> Result<Router<()>, crate::RouterError>,
}

#[cfg(feature = "auto-register")]
impl AutoRoute {
    /// The registration of handler `H`.
    pub const fn new<H: Handler<()> + RouteDef>() -> AutoRoute {
        AutoRoute { add: add_auto_route::<H> }
    }
}

#[cfg(feature = "auto-register")]
fn add_auto_route<H: Handler<()> + RouteDef>(router: Router<()>) -> Result<Router<()>, crate::RouterError> {
    add_route(router, H::instance())
}

#[cfg(feature = "auto-register")]
pub use inventory;

#[cfg(feature = "auto-register")]
inventory::collect!(AutoRoute);

/// Registers a stateless handler with `inventory` when the `auto-register` feature is
/// on, and expands to nothing otherwise (the macro emits it either way).
#[cfg(feature = "auto-register")]
#[doc(hidden)]
#[macro_export]
macro_rules! __agi_auto_register {
    ($handler:ident) => {
        $crate::__private::inventory::submit! {
            $crate::__private::AutoRoute::new::<$handler>()
        }
    };
}

/// Registers a stateless handler with `inventory` when the `auto-register` feature is
/// on, and expands to nothing otherwise (the macro emits it either way).
#[cfg(not(feature = "auto-register"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __agi_auto_register {
    ($handler:ident) => {};
}

pub use crate::__agi_auto_register as auto_register;
