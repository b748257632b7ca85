//! The arguments of `#[agi_route("/path")]`.

use proc_macro2::{Span, TokenStream};
use syn::parse::{ParseStream, Parser};
use syn::{LitStr, Token};

use crate::errors::Errors;

/// The route literal of the attribute.
pub(crate) struct RouteAttr {
    pub(crate) route: LitStr,
}

const USAGE: &str = "write the route as a string literal: `#[agi_route(\"/GetCallerRecord\")]`";

pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> Option<RouteAttr> {
    let parser = |input: ParseStream<'_>| -> syn::Result<Option<RouteAttr>> {
        if input.is_empty() {
            return Err(syn::Error::new(Span::call_site(), format!("missing route: {USAGE}")));
        }
        let route: LitStr =
            input.parse().map_err(|e| syn::Error::new(e.span(), format!("expected a route: {USAGE}")))?;
        if input.peek(Token![,]) {
            input.parse::<Token![,]>()?;
        }
        if !input.is_empty() {
            let rest: TokenStream = input.parse()?;
            return Err(syn::Error::new_spanned(
                rest,
                "`#[agi_route]` takes only the route: query arguments are the handler's parameters",
            ));
        }
        Ok(Some(RouteAttr { route }))
    };
    match parser.parse2(tokens) {
        Ok(attr) => attr,
        Err(error) => {
            errors.push(error);
            None
        }
    }
}
