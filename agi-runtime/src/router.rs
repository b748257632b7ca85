//! The route table: which handler serves which `agi_network_script` path.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::panic::Location;
use std::sync::Arc;

use crate::call::Call;
use crate::handler::{BoxFuture, Handler, Outcome};
use crate::limits::RouteLimit;

/// Where a handler was registered, for conflict reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerRef {
    /// The handler's name (the function name for `#[agi_route]` handlers).
    pub name: Arc<str>,
    /// `file:line` of its definition or registration.
    pub location: Arc<str>,
}

impl fmt::Display for HandlerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` ({})", self.name, self.location)
    }
}

/// A route table could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouterError {
    /// A route string breaks the grammar (the same checks `#[agi_route]` makes at
    /// compile time).
    #[error("invalid route `{route}` for {handler}: {}", messages.join("; "))]
    InvalidRoute {
        /// The route as given.
        route: String,
        /// Who registered it.
        handler: HandlerRef,
        /// One message per mistake.
        messages: Vec<String>,
    },
    /// Two handlers for routes that match the same paths.
    #[error("route `{route}` of {second} conflicts with `{existing}` of {first}")]
    Conflict {
        /// The route being added.
        route: String,
        /// Its handler.
        second: HandlerRef,
        /// The route already in the table.
        existing: String,
        /// Its handler.
        first: HandlerRef,
    },
    /// A setting named a route that is not in the table.
    #[error("no route `{route}` in the table")]
    UnknownRoute {
        /// The route as given.
        route: String,
    },
}

#[derive(Debug)]
enum SegmentSpec {
    Static(Box<str>),
    Capture,
}

/// A checked route and the handler it belongs to.
#[derive(Debug)]
pub(crate) struct RouteInfo {
    pub(crate) pattern: Box<str>,
    pub(crate) captures: Box<[Box<str>]>,
    pub(crate) handler: HandlerRef,
    segments: Box<[SegmentSpec]>,
    shape: Box<str>,
}

impl RouteInfo {
    fn parse(pattern: &str, handler: HandlerRef) -> Result<RouteInfo, RouterError> {
        let route = agi_route::parse(pattern).map_err(|errors| RouterError::InvalidRoute {
            route: pattern.to_owned(),
            handler: handler.clone(),
            messages: errors.iter().map(ToString::to_string).collect(),
        })?;
        let segments = route
            .segments()
            .iter()
            .map(|segment| match segment {
                agi_route::Segment::Static(text) => SegmentSpec::Static((*text).into()),
                agi_route::Segment::Capture(_) => SegmentSpec::Capture,
            })
            .collect();
        Ok(RouteInfo {
            pattern: pattern.into(),
            captures: route.captures().map(Into::into).collect(),
            handler,
            segments,
            shape: route.shape().into(),
        })
    }

    fn is_static(&self) -> bool {
        self.captures.is_empty()
    }

    /// Matches a request path (which starts with `/`) without allocating; on success
    /// fills `captures` with byte ranges of the captured segments.
    fn matches(&self, path: &str, captures: &mut Vec<(u32, u32)>) -> bool {
        let mut rest = &path[1.min(path.len())..];
        if self.segments.is_empty() {
            return rest.is_empty();
        }
        let mut offset = 1;
        let first_capture = captures.len();
        for (index, segment) in self.segments.iter().enumerate() {
            let last = index + 1 == self.segments.len();
            let (text, next) = match rest.find('/') {
                Some(slash) if !last => (&rest[..slash], &rest[slash + 1..]),
                Some(_) => return false,
                None if last => (rest, ""),
                None => return false,
            };
            match segment {
                SegmentSpec::Static(expected) if **expected == *text => {}
                SegmentSpec::Capture if !text.is_empty() => {
                    captures.push((offset as u32, (offset + text.len()) as u32));
                }
                _ => {
                    captures.truncate(first_capture);
                    return false;
                }
            }
            offset += text.len() + 1;
            rest = next;
        }
        true
    }
}

/// Orders dynamic routes so that, at the first segment where two differ, the static
/// one is tried first: `/a/new` wins over `/a/{id}`, which wins over `/{x}/{y}`.
fn specificity(info: &RouteInfo) -> Vec<u8> {
    info.segments.iter().map(|s| matches!(s, SegmentSpec::Capture) as u8).collect()
}

pub(crate) struct RouteEntry<S> {
    pub(crate) info: Arc<RouteInfo>,
    pub(crate) handler: Arc<dyn Handler<S>>,
    /// The route's own concurrency cap, if it has one.
    pub(crate) limit: Option<RouteLimit>,
}

impl<S> Clone for RouteEntry<S> {
    fn clone(&self) -> Self {
        RouteEntry { info: self.info.clone(), handler: self.handler.clone(), limit: self.limit.clone() }
    }
}

/// A table of routes and handlers, checked as it is built.
///
/// Most programs build it with the `routes!` macro, which also rejects duplicate
/// routes at compile time. Built by hand, each [`route`](Router::route) and
/// [`merge`](Router::merge) checks again and names both handlers of a conflict.
///
/// `S` is the shared state the handlers need; [`with_state`](Router::with_state)
/// supplies it and gives a router ready to serve.
///
/// ```
/// use agi_runtime::{handler_fn, Router, RouterError};
///
/// let router: Router = Router::new()
///     .route("/GetCallerRecord", handler_fn(|call| Box::pin(async move { call.answer().await })))?
///     .route("/customer/{id}", handler_fn(|call| Box::pin(async move { call.noop().await })))?;
///
/// let clash = Router::<()>::new()
///     .route("/a/{x}", handler_fn(|call| Box::pin(async move { call.noop().await })))?
///     .route("/a/{y}", handler_fn(|call| Box::pin(async move { call.noop().await })));
/// assert!(matches!(clash, Err(RouterError::Conflict { .. })));
/// # Ok::<(), RouterError>(())
/// ```
pub struct Router<S = ()> {
    entries: Vec<RouteEntry<S>>,
}

impl<S> Default for Router<S> {
    fn default() -> Self {
        Router { entries: Vec::new() }
    }
}

impl<S> fmt::Debug for Router<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.entries.iter().map(|e| (&e.info.pattern, &e.info.handler.name))).finish()
    }
}

impl<S: Send + Sync + 'static> Router<S> {
    /// An empty table.
    pub fn new() -> Self {
        Router::default()
    }

    /// Adds a handler for `route`, checking the route and its conflicts.
    #[track_caller]
    pub fn route<H: Handler<S>>(self, route: &str, handler: H) -> Result<Self, RouterError> {
        let location = Location::caller();
        let handler_ref = HandlerRef {
            name: std::any::type_name::<H>().into(),
            location: format!("{}:{}", location.file(), location.line()).into(),
        };
        self.add(route, handler_ref, Arc::new(handler))
    }

    /// Adds a handler defined by `#[agi_route]` (used by `routes!`).
    #[doc(hidden)]
    pub fn __register<H: Handler<S>>(
        self,
        route: &str,
        name: &str,
        location: &str,
        handler: H,
    ) -> Result<Self, RouterError> {
        self.add(route, HandlerRef { name: name.into(), location: location.into() }, Arc::new(handler))
    }

    fn add(mut self, route: &str, handler: HandlerRef, erased: Arc<dyn Handler<S>>) -> Result<Self, RouterError> {
        let info = RouteInfo::parse(route, handler)?;
        self.insert(RouteEntry { info: Arc::new(info), handler: erased, limit: None })?;
        Ok(self)
    }

    fn insert(&mut self, entry: RouteEntry<S>) -> Result<(), RouterError> {
        if let Some(existing) = self.entries.iter().find(|e| e.info.shape == entry.info.shape) {
            return Err(RouterError::Conflict {
                route: entry.info.pattern.to_string(),
                second: entry.info.handler.clone(),
                existing: existing.info.pattern.to_string(),
                first: existing.info.handler.clone(),
            });
        }
        self.entries.push(entry);
        Ok(())
    }

    /// Adds every route of `other`, failing on the first conflict.
    pub fn merge(mut self, other: Router<S>) -> Result<Self, RouterError> {
        for entry in other.entries {
            self.insert(entry)?;
        }
        Ok(self)
    }

    /// Supplies the state the handlers need, giving a router for any other state type
    /// (usually `()`, ready to serve or to merge with other routers).
    pub fn with_state<S2>(self, state: S) -> Router<S2> {
        let state = Arc::new(state);
        Router {
            entries: self
                .entries
                .into_iter()
                .map(|entry| RouteEntry {
                    limit: entry.limit,
                    info: entry.info,
                    handler: Arc::new(WithState { inner: entry.handler, state: state.clone() }) as Arc<dyn Handler<S2>>,
                })
                .collect(),
        }
    }

    /// Caps the calls running at once on `route` (the pattern exactly as registered,
    /// e.g. `"/customer/{id}"`), on top of the server's own limit.
    ///
    /// A call past the cap is not queued: it is told `OVERLOADED` at once, with a reason
    /// naming the route, like a call past [`Server::max_calls`](crate::Server::max_calls).
    /// Use it to keep a slow route (one waiting on a busy database) from taking every
    /// call slot of the server. Setting it again replaces the cap.
    ///
    /// ```
    /// use agi_runtime::{handler_fn, Router, RouterError};
    ///
    /// let router: Router = Router::new()
    ///     .route("/report", handler_fn(|call| Box::pin(async move { call.noop().await })))?
    ///     .max_calls_for("/report", 20)?;
    /// assert!(matches!(router.max_calls_for("/nope", 1), Err(RouterError::UnknownRoute { .. })));
    /// # Ok::<(), RouterError>(())
    /// ```
    pub fn max_calls_for(mut self, route: &str, max: usize) -> Result<Self, RouterError> {
        match self.entries.iter_mut().find(|e| &*e.info.pattern == route) {
            Some(entry) => entry.limit = Some(RouteLimit::new(max)),
            None => return Err(RouterError::UnknownRoute { route: route.to_owned() }),
        }
        Ok(self)
    }

    /// The routes in the table, as `(route, handler name)`.
    pub fn routes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|e| (&*e.info.pattern, &*e.info.handler.name))
    }
}

impl Router<()> {
    /// Every `#[agi_route]` handler of the program that registered itself (feature
    /// `auto-register`), as one router.
    ///
    /// Limits, which is why `routes![]` is the default:
    /// * only handlers without state register themselves (no `State<T>` and no
    ///   `#[from_call]` parameter: there is no state before `main` runs); list the others
    ///   in `routes![…].with_state(…)` and [`merge`](Router::merge) the two;
    /// * duplicates are found when this runs, not at compile time (the error names both
    ///   handlers and their locations);
    /// * registration relies on the linker keeping each handler's static: a handler in
    ///   a library crate that nothing else references may be dropped from the binary;
    /// * the order of registration is unspecified (it does not affect matching).
    ///
    /// ```standalone_crate
    /// # #[cfg(feature = "auto-register")] {
    /// use agi_runtime::prelude::*;
    ///
    /// #[agi_route("/ping")]
    /// async fn ping(call: &mut Call) -> AgiResult<()> { call.noop().await }
    ///
    /// let router = Router::auto()?;
    /// assert!(router.routes().any(|(route, _)| route == "/ping"));
    /// # }
    /// # Ok::<(), agi_runtime::RouterError>(())
    /// ```
    #[cfg(feature = "auto-register")]
    pub fn auto() -> Result<Router<()>, RouterError> {
        let mut router = Router::new();
        for route in inventory::iter::<crate::__private::AutoRoute> {
            router = (route.add)(router)?;
        }
        Ok(router)
    }
}

struct WithState<S> {
    inner: Arc<dyn Handler<S>>,
    state: Arc<S>,
}

impl<S: Send + Sync + 'static, S2> Handler<S2> for WithState<S> {
    fn call<'a>(&'a self, call: &'a mut Call, _: &'a S2) -> BoxFuture<'a, Outcome> {
        self.inner.call(call, &self.state)
    }
}

/// A router frozen for serving: static routes by exact path, the rest by specificity.
pub(crate) struct RouteTable {
    exact: HashMap<Box<str>, RouteEntry<()>, BuildHasherDefault<PathHasher>>,
    dynamic: Vec<RouteEntry<()>>,
}

impl RouteTable {
    pub(crate) fn new(router: Router<()>) -> RouteTable {
        let mut exact = HashMap::default();
        let mut dynamic = Vec::new();
        for entry in router.entries {
            if entry.info.is_static() {
                let path = if entry.info.segments.is_empty() { "/".into() } else { entry.info.pattern.clone() };
                exact.insert(path, entry);
            } else {
                dynamic.push(entry);
            }
        }
        dynamic.sort_by_cached_key(|e| specificity(&e.info));
        RouteTable { exact, dynamic }
    }

    /// Finds the handler for a request path.
    pub(crate) fn find(&self, path: &str) -> Option<Matched<'_>> {
        if let Some(entry) = self.exact.get(path) {
            return Some(Matched { entry, captures: Vec::new() });
        }
        let mut captures = Vec::new();
        let entry = self.dynamic.iter().find(|entry| entry.info.matches(path, &mut captures))?;
        Some(Matched { entry, captures })
    }
}

/// The hash of the static routes' table: a word at a time, unkeyed.
///
/// The standard map's keyed SipHash cost more than the rest of the lookup. A keyed hash
/// defends a map whose keys an attacker chooses; here the keys are the application's
/// routes, and a path sent by a peer can at worst meet one of them in a bucket.
#[derive(Default)]
struct PathHasher(u64);

impl Hasher for PathHasher {
    fn write(&mut self, bytes: &[u8]) {
        // The multiply-rotate step of rustc's own FxHasher.
        const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let word = chunk.try_into().map_or(0, u64::from_le_bytes);
            self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
        }
        for &byte in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(byte)).wrapping_mul(SEED);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A route that matched a path.
pub(crate) struct Matched<'a> {
    pub(crate) entry: &'a RouteEntry<()>,
    /// Byte ranges of the captured segments inside the path.
    pub(crate) captures: Vec<(u32, u32)>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handler::handler_fn;

    fn noop() -> impl Handler<()> {
        handler_fn(|call| Box::pin(async move { call.noop().await }))
    }

    fn table(routes: &[&str]) -> RouteTable {
        let mut router = Router::new();
        for route in routes {
            router = router.route(route, noop()).unwrap();
        }
        RouteTable::new(router)
    }

    fn find<'p>(table: &RouteTable, path: &'p str) -> Option<(String, Vec<&'p str>)> {
        table.find(path).map(|m| {
            (m.entry.info.pattern.to_string(), m.captures.iter().map(|&(s, e)| &path[s as usize..e as usize]).collect())
        })
    }

    #[test]
    fn matches_static_root_and_captures() {
        let t = table(&["/", "/GetCallerRecord", "/customer/{id}/orders", "/customer/{id}", "/customer/new"]);
        assert_eq!(find(&t, "/"), Some(("/".into(), vec![])));
        assert_eq!(find(&t, "/GetCallerRecord"), Some(("/GetCallerRecord".into(), vec![])));
        assert_eq!(find(&t, "/getcallerrecord"), None);
        assert_eq!(find(&t, "/customer/42/orders"), Some(("/customer/{id}/orders".into(), vec!["42"])));
        assert_eq!(find(&t, "/customer/42"), Some(("/customer/{id}".into(), vec!["42"])));
        assert_eq!(find(&t, "/customer/new"), Some(("/customer/new".into(), vec![])));
        assert_eq!(find(&t, "/customer/"), None);
        assert_eq!(find(&t, "/customer//orders"), None);
        assert_eq!(find(&t, "/customer/42/orders/x"), None);
        assert_eq!(find(&t, "/customer/42/"), None);
        assert_eq!(find(&t, "/nope"), None);
    }

    #[test]
    fn static_segments_win_over_captures_at_the_first_difference() {
        let t = table(&["/{a}/{b}", "/x/{b}", "/{a}/y"]);
        assert_eq!(find(&t, "/x/y").unwrap().0, "/x/{b}");
        assert_eq!(find(&t, "/z/y").unwrap().0, "/{a}/y");
        assert_eq!(find(&t, "/z/w").unwrap().0, "/{a}/{b}");
    }

    #[test]
    fn conflicts_and_bad_routes_are_errors_naming_both_handlers() {
        let router = Router::<()>::new().route("/a/{x}", noop()).unwrap();
        let err = router.route("/a/{y}", noop()).unwrap_err();
        let RouterError::Conflict { route, existing, first, second } = &err else { panic!("{err}") };
        assert_eq!((route.as_str(), existing.as_str()), ("/a/{y}", "/a/{x}"));
        assert!(first.location.contains("router.rs"), "{first}");
        assert_ne!(first.location, second.location);

        let err = Router::<()>::new().route("a b", noop()).unwrap_err();
        assert!(err.to_string().contains("a route must start with `/`"), "{err}");

        let one = Router::<()>::new().route("/x", noop()).unwrap();
        let two = Router::<()>::new().route("/x", noop()).unwrap();
        assert!(matches!(one.merge(two), Err(RouterError::Conflict { .. })));
    }
}
