//! `#[agi_route("/path")]`: parse, check, expand.

mod ast;
mod attr;
mod check;
mod expand;

use proc_macro2::TokenStream;
use quote::quote;

use crate::errors::Errors;

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let route = attr::parse(attr, &mut errors);
    let item: syn::ItemFn = match syn::parse2(item) {
        Ok(item) => item,
        Err(error) => {
            let message = "`#[agi_route]` goes on an `async fn` handler";
            let mut combined = syn::Error::new(error.span(), message);
            combined.combine(error);
            return combined.to_compile_error();
        }
    };
    let mut handler = ast::parse(item, &mut errors);
    let max_calls = route.as_ref().and_then(|r| r.max_calls);
    let info = route.and_then(|route| check::check(&route.route, &mut handler, &mut errors));
    let expansion = match info {
        Some(info) if errors.is_empty() => expand::expand(&handler, &info, max_calls),
        _ => {
            let fallback = expand::fallback(&handler);
            let compile_errors = errors.into_compile_errors();
            quote!(#fallback #compile_errors)
        }
    };
    crate::debug::maybe_print("#[agi_route]", &handler.name().to_string(), &expansion);
    expansion
}
