//! `routes![a, b, …]`: the route table, with duplicates rejected at compile time.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Path, Token};

use crate::paths::private;

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    let handlers = match Punctuated::<Path, Token![,]>::parse_terminated.parse2(input) {
        Ok(handlers) => handlers,
        Err(error) => {
            let mut combined = syn::Error::new(
                error.span(),
                "`routes!` takes the names of `#[agi_route]` handlers: `routes![get_caller_record, orders]`",
            );
            combined.combine(error);
            let errors = combined.to_compile_error();
            let private = private();
            // Still an expression of the right type, so no follow-on errors.
            return quote!({ #errors #private::Router::new() });
        }
    };
    let private = private();
    let handlers: Vec<&Path> = handlers.iter().collect();
    let names: Vec<String> = handlers.iter().map(|path| quote!(#path).to_string().replace(' ', "")).collect();

    // One const check per pair: a duplicate fails const evaluation, naming both handlers.
    let mut checks = Vec::new();
    for (j, second) in handlers.iter().enumerate() {
        for (i, first) in handlers[..j].iter().enumerate() {
            let message = format!(
                "`routes!`: `{}` and `{}` have the same route (capture names aside); a call could not tell them apart",
                names[i], names[j]
            );
            checks.push(quote_spanned! {second.span()=>
                if #private::same_route(
                    <#first as #private::RouteDef>::SHAPE,
                    <#second as #private::RouteDef>::SHAPE,
                ) {
                    ::core::panic!(#message);
                }
            });
        }
    }
    let registrations = handlers
        .iter()
        .map(|path| quote_spanned!(path.span()=> let __agi_router = #private::register(__agi_router, #path {});));
    let expansion = quote! {{
        const _: () = { #(#checks)* };
        let __agi_router = #private::Router::new();
        #(#registrations)*
        __agi_router
    }};
    crate::debug::maybe_print("routes!", &names.join(", "), &expansion);
    expansion
}
