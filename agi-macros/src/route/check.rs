//! Checks across the route and the parameters: every capture has its parameter, every
//! path parameter its capture, one call handle, distinct `agi_arg_N` and query keys.

use std::collections::HashMap;

use agi_route::{RouteError, Segment};
use proc_macro2::Span;
use quote::ToTokens;
use syn::LitStr;

use crate::errors::Errors;
use crate::route::ast::{Handler, Role, collection_name, option_inner, unraw};

/// What the expansion needs to know about the route.
pub(crate) struct RouteInfo {
    pub(crate) route: String,
    pub(crate) shape: String,
    /// Capture names, in route order.
    pub(crate) captures: Vec<String>,
}

pub(crate) fn check(route: &LitStr, handler: &mut Handler, errors: &mut Errors) -> Option<RouteInfo> {
    let text = route.value();
    let parsed = match agi_route::parse(&text) {
        Ok(parsed) => Some(parsed),
        Err(route_errors) => {
            for error in &route_errors {
                errors.at(route.span(), render(error, &text));
            }
            None
        }
    };
    check_call_handle(handler, errors);
    check_args(handler, errors);
    let captures: Vec<String> = parsed.as_ref().map(|p| p.captures().map(str::to_owned).collect()).unwrap_or_default();
    resolve_plain_params(handler, &captures, parsed.is_some());
    if let Some(parsed) = &parsed {
        check_captures(route, parsed, handler, errors);
    }
    check_query(handler, errors);
    let parsed = parsed?;
    let shape = parsed.shape();
    Some(RouteInfo { route: text.clone(), shape, captures })
}

/// Shows the route with a caret line under the offending bytes (on stable Rust a
/// proc macro cannot point inside a string literal).
fn render(error: &RouteError, route: &str) -> String {
    let before = route[..error.span.start.min(route.len())].chars().count();
    let width = route[error.span.start.min(route.len())..error.span.end.min(route.len())].chars().count().max(1);
    format!("{error}\n  \"{route}\"\n   {}{}", " ".repeat(before), "^".repeat(width))
}

fn check_call_handle(handler: &Handler, errors: &mut Errors) {
    let handles: Vec<_> = handler.params.iter().filter(|p| matches!(p.role, Role::Call)).collect();
    match handles.as_slice() {
        [] => {
            errors.spanned(&handler.item.sig.ident, "an AGI handler takes the call: add a parameter `call: &mut Call`")
        }
        [_] => {}
        [first, rest @ ..] => {
            for extra in rest {
                errors.spanned(
                    &extra.ty,
                    format!("a handler takes exactly one call handle; `{}` is another", extra.ident),
                );
            }
            errors.spanned(&first.ty, format!("note: the call handle is `{}`", first.ident));
        }
    }
}

fn check_args(handler: &Handler, errors: &mut Errors) {
    let mut seen: HashMap<usize, (Span, String)> = HashMap::new();
    for param in &handler.params {
        if let Role::Arg { n, n_span, .. } = param.role {
            if let Some((first_span, first)) = seen.get(&n) {
                errors.at(n_span, format!("`agi_arg_{n}` is taken twice: `{first}` already takes it"));
                errors.at(*first_span, format!("note: `{first}` takes `agi_arg_{n}` here"));
            } else {
                seen.insert(n, (n_span, param.ident.to_string()));
            }
        }
    }
}

/// A plain parameter named like a capture takes that capture; any other is a query
/// argument. Without a valid route, nothing is a capture.
fn resolve_plain_params(handler: &mut Handler, captures: &[String], route_is_valid: bool) {
    for param in &mut handler.params {
        if matches!(param.role, Role::Plain) {
            let name = unraw(&param.ident);
            param.role = if route_is_valid && captures.contains(&name) {
                Role::Path { explicit: None }
            } else {
                Role::Query {
                    key: LitStr::new(&name, param.ident.span()),
                    default: None,
                    optional: option_inner(&param.ty).is_some(),
                }
            };
        }
    }
}

fn check_captures(route: &LitStr, parsed: &agi_route::Route<'_>, handler: &Handler, errors: &mut Errors) {
    let text = route.value();
    for (index, segment) in parsed.segments().iter().enumerate() {
        let Segment::Capture(name) = segment else { continue };
        let span = parsed.span(index);
        let pointer = RouteError { kind: agi_route::RouteErrorKind::EmptyCapture, span };
        match handler.params.iter().find(|p| unraw(&p.ident) == *name) {
            Some(param) if matches!(param.role, Role::Path { .. }) => {}
            Some(param) => {
                errors.spanned(
                    &param.ident,
                    format!(
                        "`{}` is the route's capture `{{{name}}}`, but this parameter {}",
                        param.ident,
                        role_text(&param.role)
                    ),
                );
                errors.at(route.span(), note_at(&format!("note: the capture `{{{name}}}` is here"), &pointer, &text));
            }
            None => {
                errors.at(
                    route.span(),
                    note_at(&format!("the capture `{{{name}}}` has no parameter named `{name}`"), &pointer, &text),
                );
                errors.spanned(
                    &handler.item.sig.ident,
                    format!(
                        "note: add a parameter `{name}: T` (any `T: FromStr`) to `{}` for the capture `{{{name}}}`",
                        handler.name()
                    ),
                );
            }
        }
    }
    for param in &handler.params {
        let Role::Path { explicit } = &param.role else { continue };
        let name = unraw(&param.ident);
        if !parsed.captures().any(|c| c == name) {
            let message = format!("`#[path]` parameter `{name}` names no capture of the route");
            match explicit {
                Some(attr) => errors.spanned(attr, message),
                None => errors.spanned(&param.ident, message),
            }
            errors.at(route.span(), format!("note: the route `{text}` has no `{{{name}}}` segment"));
        } else if option_inner(&param.ty).is_some() {
            errors.spanned(&param.ty, "a path capture is always present: take `T`, not `Option<T>`");
        }
    }
}

fn note_at(message: &str, pointer: &RouteError, route: &str) -> String {
    let rendered = render(pointer, route);
    let carets = rendered.split_once('\n').map(|(_, rest)| rest).unwrap_or_default();
    format!("{message}\n{carets}")
}

fn role_text(role: &Role) -> String {
    match role {
        Role::Arg { n, .. } => format!("takes `agi_arg_{n}`"),
        Role::Query { .. } => "is marked `#[query]`".to_owned(),
        Role::Extractor => "is an extractor".to_owned(),
        Role::Call => "is the call handle".to_owned(),
        Role::Path { .. } | Role::Plain => "is a path parameter".to_owned(),
    }
}

fn check_query(handler: &Handler, errors: &mut Errors) {
    let mut keys: HashMap<String, String> = HashMap::new();
    for param in &handler.params {
        let Role::Query { key, .. } = &param.role else { continue };
        if let Some(collection) = collection_name(&param.ty) {
            errors.spanned(
                &param.ty,
                format!(
                    "a query argument cannot be {collection}: query strings are decoded with serde_urlencoded, which has no repeated keys; take a `String` and split it, or use `Query<T>` with your own type"
                ),
            );
        }
        if let Some(first) = keys.insert(key.value(), param.ident.to_string()) {
            errors.spanned(
                key.to_token_stream(),
                format!("query key `{}` is used twice: `{first}` already reads it", key.value()),
            );
        }
    }
}
