//! The route grammar of `agi-runtime`, in one place for both of its users.
//!
//! A route is matched against the path of `agi_network_script` (the part of the
//! `agi://host/…` URL before `?`). The `#[agi_route]` macro checks a route at compile
//! time and points at the offending bytes; the runtime router checks routes built by
//! hand with the same code, so the two can never disagree. A proc-macro crate can
//! export only macros, which is why this grammar lives in a crate of its own.
//!
//! ```
//! use agi_route::{parse, Segment};
//!
//! let route = parse("/customer/{id}/orders").unwrap();
//! assert_eq!(
//!     route.segments(),
//!     &[Segment::Static("customer"), Segment::Capture("id"), Segment::Static("orders")]
//! );
//! assert_eq!(route.shape(), "/customer/{}/orders");
//!
//! let errors = parse("/customer/{id/orders").unwrap_err();
//! assert_eq!(errors[0].to_string(), "unclosed capture: `{` has no matching `}` in this segment");
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::fmt;
use std::ops::Range;

/// One `/`-separated piece of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment<'a> {
    /// Text that must appear as is, e.g. `orders` in `/customer/{id}/orders`.
    Static(&'a str),
    /// A `{name}` capture: any non-empty segment, handed to the parameter `name`.
    Capture(&'a str),
}

/// A route that passed every check of the grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route<'a> {
    segments: Vec<Segment<'a>>,
    /// Byte ranges of each segment inside the route text, parallel to `segments`.
    spans: Vec<Range<usize>>,
}

impl<'a> Route<'a> {
    /// The segments in order; the root route `/` has none.
    pub fn segments(&self) -> &[Segment<'a>] {
        &self.segments
    }

    /// The byte range of segment `index` inside the route text (capture braces included).
    pub fn span(&self, index: usize) -> Range<usize> {
        self.spans[index].clone()
    }

    /// The names of the captures, in order.
    pub fn captures(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.segments.iter().filter_map(|segment| match segment {
            Segment::Capture(name) => Some(*name),
            Segment::Static(_) => None,
        })
    }

    /// The route with capture names erased (`/customer/{}/orders`).
    ///
    /// Two routes with the same shape match exactly the same paths, so they conflict.
    pub fn shape(&self) -> String {
        if self.segments.is_empty() {
            return "/".to_owned();
        }
        let mut shape = String::new();
        for segment in &self.segments {
            shape.push('/');
            match segment {
                Segment::Static(text) => shape.push_str(text),
                Segment::Capture(_) => shape.push_str("{}"),
            }
        }
        shape
    }
}

/// What is wrong with a route, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteError {
    /// The kind of mistake.
    pub kind: RouteErrorKind,
    /// Byte range of the offending text inside the route.
    pub span: Range<usize>,
}

/// The kinds of mistakes the grammar reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RouteErrorKind {
    /// The route is empty or does not start with `/`.
    MissingLeadingSlash,
    /// `//` or a trailing `/`.
    EmptySegment,
    /// A `?`: the query is typed by the handler's parameters instead.
    QueryInRoute,
    /// A `#`: Asterisk would send the fragment as part of the path.
    FragmentInRoute,
    /// A character outside the allowed set.
    ForbiddenChar(char),
    /// `{` without its `}`.
    UnclosedCapture,
    /// `}` without its `{`.
    UnopenedCapture,
    /// `{}`.
    EmptyCapture,
    /// A capture whose name is not an identifier.
    InvalidCaptureName(String),
    /// A capture mixed with other text in one segment (`/a{b}`).
    CaptureNotWholeSegment,
    /// Two captures with one name; `first` is where the name was used first.
    DuplicateCapture {
        /// The repeated name.
        name: String,
        /// The byte range of its first use.
        first: Range<usize>,
    },
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            RouteErrorKind::MissingLeadingSlash => f.write_str("a route must start with `/`"),
            RouteErrorKind::EmptySegment => {
                f.write_str("empty path segment: routes have no `//` and no trailing `/` (the root route is `/`)")
            }
            RouteErrorKind::QueryInRoute => {
                f.write_str("a route has no query: declare query arguments as parameters of the handler instead")
            }
            RouteErrorKind::FragmentInRoute => f.write_str("a route cannot contain `#`"),
            RouteErrorKind::ForbiddenChar(c) => write!(
                f,
                "character {c:?} is not allowed in a route; segments use letters, digits and {ALLOWED_PUNCTUATION}"
            ),
            RouteErrorKind::UnclosedCapture => f.write_str("unclosed capture: `{` has no matching `}` in this segment"),
            RouteErrorKind::UnopenedCapture => f.write_str("`}` without a matching `{`"),
            RouteErrorKind::EmptyCapture => {
                f.write_str("empty capture: write the parameter name inside the braces, e.g. `{id}`")
            }
            RouteErrorKind::InvalidCaptureName(name) => {
                write!(f, "`{name}` is not a valid capture name: use a Rust identifier such as `id` or `customer_id`")
            }
            RouteErrorKind::CaptureNotWholeSegment => {
                f.write_str("a capture must be a whole segment, e.g. `/customer/{id}`")
            }
            RouteErrorKind::DuplicateCapture { name, .. } => {
                write!(f, "capture `{name}` appears twice in this route")
            }
        }
    }
}

impl std::error::Error for RouteError {}

/// Punctuation allowed in static segments, besides ASCII letters and digits.
///
/// These are RFC 3986 path characters that survive Asterisk's `AGI()` argument
/// parsing unchanged: `,` would split the dialplan arguments and `%` escapes are not
/// decoded before matching, so neither can appear in a route.
pub const ALLOWED_PUNCTUATION: &str = "- . _ ~ ! $ & ' * + ; = : @";

fn is_static_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~!$&'*+;=:@".contains(c)
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    name != "_" && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parses and checks a route, collecting every mistake instead of stopping at the first.
pub fn parse(route: &str) -> Result<Route<'_>, Vec<RouteError>> {
    let mut errors = Vec::new();
    if !route.starts_with('/') {
        errors.push(RouteError { kind: RouteErrorKind::MissingLeadingSlash, span: 0..route.len().min(1) });
        return Err(errors);
    }
    let mut parsed = Route { segments: Vec::new(), spans: Vec::new() };
    if route == "/" {
        return Ok(parsed);
    }
    let mut start = 1;
    for text in route[1..].split('/') {
        let span = start..start + text.len();
        start = span.end + 1;
        match parse_segment(text, span.start, &mut errors) {
            Some(Segment::Capture(name)) => {
                let first =
                    parsed.segments.iter().zip(&parsed.spans).find(|(segment, _)| **segment == Segment::Capture(name));
                if let Some((_, first)) = first {
                    errors.push(RouteError {
                        kind: RouteErrorKind::DuplicateCapture { name: name.to_owned(), first: first.clone() },
                        span: span.clone(),
                    });
                }
                parsed.segments.push(Segment::Capture(name));
                parsed.spans.push(span);
            }
            Some(segment) => {
                parsed.segments.push(segment);
                parsed.spans.push(span);
            }
            None => {}
        }
    }
    if errors.is_empty() { Ok(parsed) } else { Err(errors) }
}

/// Checks one segment starting at byte `offset`; `None` when it has errors.
fn parse_segment<'a>(text: &'a str, offset: usize, errors: &mut Vec<RouteError>) -> Option<Segment<'a>> {
    let before = errors.len();
    if text.is_empty() {
        errors.push(RouteError { kind: RouteErrorKind::EmptySegment, span: offset.saturating_sub(1)..offset });
        return None;
    }
    if let Some(open) = text.find('{') {
        let Some(close) = text[open..].find('}').map(|i| open + i) else {
            errors.push(RouteError { kind: RouteErrorKind::UnclosedCapture, span: offset + open..offset + text.len() });
            return None;
        };
        if open != 0 || close != text.len() - 1 {
            errors.push(RouteError { kind: RouteErrorKind::CaptureNotWholeSegment, span: offset..offset + text.len() });
            return None;
        }
        let name = &text[1..close];
        if name.is_empty() {
            errors.push(RouteError { kind: RouteErrorKind::EmptyCapture, span: offset..offset + text.len() });
        } else if !is_identifier(name) {
            errors.push(RouteError {
                kind: RouteErrorKind::InvalidCaptureName(name.to_owned()),
                span: offset + 1..offset + close,
            });
        }
        return (errors.len() == before).then_some(Segment::Capture(name));
    }
    for (index, c) in text.char_indices() {
        let kind = match c {
            '?' => RouteErrorKind::QueryInRoute,
            '#' => RouteErrorKind::FragmentInRoute,
            '}' => RouteErrorKind::UnopenedCapture,
            c if is_static_char(c) => continue,
            c => RouteErrorKind::ForbiddenChar(c),
        };
        let span = offset + index..offset + index + c.len_utf8();
        let stop = matches!(kind, RouteErrorKind::QueryInRoute | RouteErrorKind::FragmentInRoute);
        errors.push(RouteError { kind, span });
        if stop {
            // Everything after `?` or `#` is query or fragment: one error says it all.
            break;
        }
    }
    (errors.len() == before).then_some(Segment::Static(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(route: &str) -> Vec<(RouteErrorKind, Range<usize>)> {
        parse(route).unwrap_err().into_iter().map(|e| (e.kind, e.span)).collect()
    }

    #[test]
    fn accepts_static_capture_and_root_routes() {
        assert!(parse("/").unwrap().segments().is_empty());
        let route = parse("/GetCallerRecord").unwrap();
        assert_eq!(route.segments(), &[Segment::Static("GetCallerRecord")]);
        let route = parse("/a.b/{id}/x-y_z~!$&'*+;=:@").unwrap();
        assert_eq!(route.captures().collect::<Vec<_>>(), ["id"]);
        assert_eq!(route.shape(), "/a.b/{}/x-y_z~!$&'*+;=:@");
        assert_eq!(route.span(1), 5..9);
    }

    #[test]
    fn rejects_each_mistake_with_its_span() {
        assert_eq!(kinds("GetCallerRecord"), [(RouteErrorKind::MissingLeadingSlash, 0..1)]);
        assert_eq!(kinds(""), [(RouteErrorKind::MissingLeadingSlash, 0..0)]);
        assert_eq!(kinds("/a//b"), [(RouteErrorKind::EmptySegment, 2..3)]);
        assert_eq!(kinds("/a/"), [(RouteErrorKind::EmptySegment, 2..3)]);
        assert_eq!(kinds("/a?x=1&y=2"), [(RouteErrorKind::QueryInRoute, 2..3)]);
        assert_eq!(kinds("/a#top"), [(RouteErrorKind::FragmentInRoute, 2..3)]);
        assert_eq!(kinds("/a b"), [(RouteErrorKind::ForbiddenChar(' '), 2..3)]);
        assert_eq!(kinds("/é"), [(RouteErrorKind::ForbiddenChar('é'), 1..3)]);
        assert_eq!(kinds("/a,b"), [(RouteErrorKind::ForbiddenChar(','), 2..3)]);
        assert_eq!(kinds("/{id"), [(RouteErrorKind::UnclosedCapture, 1..4)]);
        assert_eq!(kinds("/id}"), [(RouteErrorKind::UnopenedCapture, 3..4)]);
        assert_eq!(kinds("/{}"), [(RouteErrorKind::EmptyCapture, 1..3)]);
        assert_eq!(kinds("/{1d}"), [(RouteErrorKind::InvalidCaptureName("1d".into()), 2..4)]);
        assert_eq!(kinds("/{_}"), [(RouteErrorKind::InvalidCaptureName("_".into()), 2..3)]);
        assert_eq!(kinds("/x{id}"), [(RouteErrorKind::CaptureNotWholeSegment, 1..6)]);
        assert_eq!(
            kinds("/{id}/x/{id}"),
            [(RouteErrorKind::DuplicateCapture { name: "id".into(), first: 1..5 }, 8..12)]
        );
    }

    #[test]
    fn collects_every_error() {
        let errors = kinds("/a b//{}/c d");
        assert_eq!(errors.len(), 4, "{errors:?}");
    }

    #[test]
    fn shapes_ignore_capture_names() {
        assert_eq!(parse("/a/{x}").unwrap().shape(), parse("/a/{y}").unwrap().shape());
        assert_eq!(parse("/").unwrap().shape(), "/");
    }
}
