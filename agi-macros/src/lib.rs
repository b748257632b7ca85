//! The macros of [agi-runtime](https://docs.rs/agi-runtime): use them through
//! `agi_runtime::prelude::*`, not from this crate directly.
//!
//! * [`macro@agi_route`] turns an `async fn` into a typed FastAGI handler for a route;
//! * [`routes!`] builds the route table, rejecting duplicate routes at compile time.
//!
//! Set `AGI_MACROS_DEBUG=1` while building to print every expansion.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod debug;
mod errors;
mod paths;
mod route;
mod routes;

use proc_macro::TokenStream;

/// Declares an AGI handler for a route.
///
/// ```
/// use agi_runtime::prelude::*;
///
/// // exten => 5551212,1,AGI(agi://10.0.0.2/GetCallerRecord?extension=${EXTEN}&lang=es)
/// #[agi_route("/GetCallerRecord")]
/// async fn get_caller_record(call: &mut Call, extension: u32, lang: Option<String>) -> AgiResult<()> {
///     call.answer().await?;
///     call.set_variable("LANG_USED", lang.as_deref().unwrap_or("en")).await?;
///     call.set_variable("EXT", &extension.to_string()).await
/// }
///
/// // exten => _X.,1,AGI(agi://10.0.0.2/customer/${CUST_ID}/orders?limit=5,${EXTEN})
/// #[agi_route("/customer/{id}/orders")]
/// async fn orders(call: &mut Call, id: u64, limit: Option<u8>, #[arg(1)] exten: String) -> AgiResult<()> {
///     call.verbose(&format!("customer {id}, limit {limit:?}, from {exten}")).await
/// }
///
/// let router: Router = routes![get_caller_record, orders];
/// ```
///
/// Parameters take their values from, in this order of precedence:
///
/// * `&mut Call`: the call (exactly one parameter);
/// * `#[arg(N)]`: `agi_arg_N`, parsed with `FromStr` (`Option<T>` when it may be absent);
/// * a name matching a `{capture}` of the route (or marked `#[path]`): that segment,
///   percent-decoded and parsed with `FromStr`;
/// * the extractor types `State<T>`, `AgiEnv`, `CallerId`, `Args`, `Query<T>`,
///   `PeerAddr`, or any type marked `#[from_call]` implementing `FromCall`;
/// * anything else: a query argument, decoded with serde_urlencoded; `Option<T>` is
///   optional, `#[query(rename = "key")]`, `#[query(default)]` and
///   `#[query(default = expr)]` adjust it.
///
/// One option may follow the route: `#[agi_route("/report", max_calls = 20)]` caps the
/// calls this route runs at once (beyond it, calls are told `OVERLOADED`), so that a
/// slow route cannot take every call slot of the server.
///
/// If an input cannot be extracted the handler does not run: the server reports
/// `BAD_REQUEST` with a reason naming the parameter and the value. The function stays
/// callable as written, so it can be unit-tested directly.
///
/// Mistakes are compile errors:
///
/// ```compile_fail
/// use agi_runtime::prelude::*;
///
/// #[agi_route("GetCallerRecord")] // error: a route must start with `/`
/// async fn get_caller_record(call: &mut Call) -> AgiResult<()> { Ok(()) }
/// ```
///
/// ```compile_fail
/// use agi_runtime::prelude::*;
///
/// #[agi_route("/customer/{id}")] // error: the capture `{id}` has no parameter named `id`
/// async fn customer(call: &mut Call, customer: u64) -> AgiResult<()> { Ok(()) }
/// ```
///
/// ```compile_fail
/// use agi_runtime::prelude::*;
///
/// #[agi_route("/x")]
/// fn not_async(call: &mut Call) -> AgiResult<()> { Ok(()) } // error: must be an `async fn`
/// ```
#[proc_macro_attribute]
pub fn agi_route(attr: TokenStream, item: TokenStream) -> TokenStream {
    route::expand(attr.into(), item.into()).into()
}

/// Builds a `Router` from `#[agi_route]` handlers.
///
/// ```
/// use agi_runtime::prelude::*;
///
/// #[agi_route("/a")]
/// async fn a(call: &mut Call) -> AgiResult<()> { call.answer().await }
/// #[agi_route("/b/{id}")]
/// async fn b(call: &mut Call, id: u32) {}
///
/// let router: Router = routes![a, b];
/// assert_eq!(router.routes().count(), 2);
/// ```
///
/// Two handlers for the same route do not compile:
///
/// ```compile_fail
/// use agi_runtime::prelude::*;
///
/// #[agi_route("/customer/{id}")]
/// async fn by_id(call: &mut Call, id: u64) {}
/// #[agi_route("/customer/{name}")]
/// async fn by_name(call: &mut Call, name: String) {}
///
/// let router: Router = routes![by_id, by_name]; // error: same route
/// ```
#[proc_macro]
pub fn routes(input: TokenStream) -> TokenStream {
    routes::expand(input.into()).into()
}
