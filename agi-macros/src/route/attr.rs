//! The arguments of `#[agi_route("/path")]`.

use proc_macro2::{Span, TokenStream};
use syn::parse::{ParseStream, Parser};
use syn::{LitStr, Token};

use crate::errors::Errors;

/// The route literal of the attribute, and its options.
pub(crate) struct RouteAttr {
    pub(crate) route: LitStr,
    /// `max_calls = N`: the route's own limit of concurrent calls.
    pub(crate) max_calls: Option<usize>,
}

const USAGE: &str = "write the route as a string literal: `#[agi_route(\"/GetCallerRecord\")]`";

pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> Option<RouteAttr> {
    let parser = |input: ParseStream<'_>| -> syn::Result<Option<RouteAttr>> {
        if input.is_empty() {
            return Err(syn::Error::new(Span::call_site(), format!("missing route: {USAGE}")));
        }
        let route: LitStr =
            input.parse().map_err(|e| syn::Error::new(e.span(), format!("expected a route: {USAGE}")))?;
        let mut max_calls = None;
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            let key: syn::Ident = input.parse()?;
            if key != "max_calls" {
                return Err(syn::Error::new(
                    key.span(),
                    format!(
                        "unknown `agi_route` option `{key}`; the only option is `max_calls = N` (query arguments are the handler's parameters)"
                    ),
                ));
            }
            input.parse::<Token![=]>()?;
            let value: syn::LitInt = input.parse()?;
            match value.base10_parse::<usize>()? {
                0 => return Err(syn::Error::new(value.span(), "`max_calls` must be at least 1")),
                n => max_calls = Some(n),
            }
        }
        Ok(Some(RouteAttr { route, max_calls }))
    };
    match parser.parse2(tokens) {
        Ok(attr) => attr,
        Err(error) => {
            errors.push(error);
            None
        }
    }
}
