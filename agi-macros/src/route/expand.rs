//! Code generation for a checked handler.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{ReturnType, Type};

use crate::paths::private;
use crate::route::ast::{Handler, QueryDefault, Role, option_inner, unraw};
use crate::route::check::RouteInfo;

/// The handler's struct (named like the function, in the type namespace) and its impls.
pub(crate) fn expand(handler: &Handler, info: &RouteInfo, max_calls: Option<usize>) -> TokenStream {
    let private = private();
    let item = &handler.item;
    let name = handler.name();
    let name_text = name.to_string();
    let route = &info.route;
    let shape = &info.shape;

    let query = QueryStruct::new(handler);
    let query_struct = query.definition();
    let query_extract = query.extraction();

    let mut extract = Vec::new();
    let mut call_args = Vec::new();
    let mut extractor_bounds = Vec::new();
    for (index, param) in handler.params.iter().enumerate() {
        let ty = &param.ty;
        let local = format_ident!("__agi_param_{}", index);
        let ident_text = unraw(&param.ident);
        match &param.role {
            Role::Call => {
                call_args.push(quote!(&mut *__agi_call));
                continue;
            }
            Role::Query { .. } | Role::Plain => {
                let field = format_ident!("__agi_field_{}", index);
                call_args.push(quote!(__agi_query.#field));
                continue;
            }
            Role::Path { .. } => {
                let capture = info.captures.iter().position(|c| *c == ident_text).unwrap_or_default();
                extract.push(quote_spanned! {ty.span()=>
                    let #local: #ty = match #private::path_param::<#ty>(&*__agi_call, #capture, #ident_text) {
                        ::core::result::Result::Ok(value) => value,
                        ::core::result::Result::Err(rejection) => return #private::rejected(rejection),
                    };
                });
            }
            Role::Arg { n, optional, .. } => {
                let (target, function) = match option_inner(ty) {
                    Some(inner) if *optional => (inner, quote!(agi_arg_opt)),
                    _ => (ty, quote!(agi_arg)),
                };
                extract.push(quote_spanned! {ty.span()=>
                    let #local: #ty = match #private::#function::<#target>(&*__agi_call, #n, #ident_text) {
                        ::core::result::Result::Ok(value) => value,
                        ::core::result::Result::Err(rejection) => return #private::rejected(rejection),
                    };
                });
            }
            Role::Extractor => {
                extractor_bounds.push(quote_spanned!(ty.span()=> #ty: #private::FromCall<__AgiState>));
                extract.push(quote_spanned! {ty.span()=>
                    let #local: #ty = match #private::extract::<__AgiState, #ty>(&*__agi_call, __agi_state) {
                        ::core::result::Result::Ok(value) => value,
                        ::core::result::Result::Err(rejection) => return #private::rejected(rejection),
                    };
                });
            }
        }
        call_args.push(quote!(#local));
    }

    let outcome_span = match &item.sig.output {
        ReturnType::Default => item.sig.ident.span(),
        ReturnType::Type(_, ty) => ty.span(),
    };
    // The return type named as the output (unless it is an `impl Trait`, which cannot be
    // named there): a type that is not `IntoOutcome` is then reported on it.
    let output = match &item.sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) if !is_impl_trait(ty) => quote!(#ty),
        ReturnType::Type(..) => quote!(_),
    };
    let run = quote_spanned!(outcome_span=> #private::into_outcome::<#output, _>(#name(#(#call_args),*)));
    let max_calls = match max_calls {
        Some(n) => quote!(::core::option::Option::Some(#n)),
        None => quote!(::core::option::Option::None),
    };
    let vis = &item.vis;
    let location = quote_spanned!(item.sig.ident.span()=> ::core::concat!(::core::file!(), ":", ::core::line!()));
    // Without state a handler can register itself (feature `auto-register` of the runtime).
    let auto_register = if extractor_bounds_need_state(handler) {
        TokenStream::new()
    } else {
        quote!(#private::auto_register!(#name);)
    };

    quote! {
        #item

        #[allow(non_camel_case_types)]
        #[doc(hidden)]
        #vis struct #name {}

        const _: () = {
            #query_struct

            impl #private::RouteDef for #name {
                const ROUTE: &'static str = #route;
                const SHAPE: &'static str = #shape;
                const NAME: &'static str = #name_text;
                const LOCATION: &'static str = #location;
                const MAX_CALLS: ::core::option::Option<usize> = #max_calls;

                fn instance() -> Self {
                    #name {}
                }
            }

            impl<__AgiState> #private::Handler<__AgiState> for #name
            where
                __AgiState: ::core::marker::Send + ::core::marker::Sync + 'static,
                #(#extractor_bounds,)*
            {
                fn call<'__agi>(
                    &'__agi self,
                    __agi_call: &'__agi mut #private::Call,
                    __agi_state: &'__agi __AgiState,
                ) -> #private::BoxFuture<'__agi, #private::Outcome> {
                    let _ = __agi_state;
                    #query_extract
                    #(#extract)*
                    #run
                }
            }
        };

        #auto_register
    }
}

/// Whether `ty` is or holds an `impl Trait`.
fn is_impl_trait(ty: &Type) -> bool {
    holds_impl(quote!(#ty))
}

/// Whether `tokens` hold the keyword `impl`, inside brackets and the invisible groups a
/// `macro_rules!` type argument arrives in included.
fn holds_impl(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|token| match token {
        proc_macro2::TokenTree::Ident(ident) => ident == "impl",
        proc_macro2::TokenTree::Group(group) => holds_impl(group.stream()),
        _ => false,
    })
}

/// Whether a handler needs the router's state: a `State<T>` or a custom extractor
/// (which may be implemented for one state type only).
fn extractor_bounds_need_state(handler: &Handler) -> bool {
    handler.params.iter().any(|param| match &param.role {
        Role::Extractor => !crate::route::ast::last_segment(&param.ty)
            .is_some_and(|s| STATELESS_EXTRACTORS.iter().any(|n| s.ident == n)),
        _ => false,
    })
}

/// Built-in extractors that do not read the router's state.
const STATELESS_EXTRACTORS: &[&str] = &["AgiEnv", "CallerId", "Args", "Query", "PeerAddr"];

/// The hidden struct the query deserialises into, one field per query parameter.
struct QueryStruct<'a> {
    fields: Vec<(usize, &'a Type, syn::LitStr, Option<&'a QueryDefault>, bool)>,
}

impl<'a> QueryStruct<'a> {
    fn new(handler: &'a Handler) -> Self {
        let fields = handler
            .params
            .iter()
            .enumerate()
            .filter_map(|(index, param)| match &param.role {
                Role::Query { key, default, optional } => {
                    Some((index, &param.ty, key.clone(), default.as_ref(), *optional))
                }
                // Resolved to a query or path parameter by the check phase; a query if not.
                Role::Plain => {
                    let key = syn::LitStr::new(&unraw(&param.ident), param.ident.span());
                    Some((index, &param.ty, key, None, option_inner(&param.ty).is_some()))
                }
                _ => None,
            })
            .collect();
        QueryStruct { fields }
    }

    /// The struct is generic over the field types (except fields with a default
    /// expression, whose function names the concrete type): serde then puts the
    /// `Deserialize` bounds on its impl, so a field type that is not `Deserialize`
    /// yields one error at the use site, not several inside the derive.
    fn definition(&self) -> TokenStream {
        if self.fields.is_empty() {
            return TokenStream::new();
        }
        let private = private();
        let serde_path = "::agi_runtime::__private::serde";
        let mut defaults = Vec::new();
        let mut generics = Vec::new();
        let fields: Vec<TokenStream> = self
            .fields
            .iter()
            .map(|(index, ty, key, default, _)| {
                let field = format_ident!("__agi_field_{}", index);
                let (default_attr, field_ty) = match default {
                    Some(QueryDefault::Expr(expr)) => {
                        let function = format_ident!("__agi_default_{}", index);
                        let function_name = function.to_string();
                        defaults.push(quote_spanned! {expr.span()=>
                            fn #function() -> #ty { #expr }
                        });
                        (quote!(#[serde(default = #function_name)]), quote!(#ty))
                    }
                    other => {
                        let param = format_ident!("__AgiT{}", index);
                        generics.push(param.clone());
                        let attr = if other.is_some() { quote!(#[serde(default)]) } else { TokenStream::new() };
                        (attr, quote!(#param))
                    }
                };
                quote_spanned! {ty.span()=>
                    #[serde(rename = #key)]
                    #default_attr
                    #field: #field_ty
                }
            })
            .collect();
        quote! {
            #[derive(#private::serde::Deserialize)]
            #[serde(crate = #serde_path)]
            struct __AgiQuery<#(#generics),*> {
                #(#fields,)*
            }
            #(#defaults)*
        }
    }

    /// The concrete type of the hidden struct: `__AgiQuery<u32, Option<String>, …>`.
    fn concrete_type(&self) -> TokenStream {
        let args = self.fields.iter().filter_map(|(_, ty, _, default, _)| match default {
            Some(QueryDefault::Expr(_)) => None,
            _ => Some(quote!(#ty)),
        });
        quote!(__AgiQuery<#(#args),*>)
    }

    fn extraction(&self) -> TokenStream {
        if self.fields.is_empty() {
            return TokenStream::new();
        }
        let private = private();
        let checks = self.fields.iter().map(|(_, ty, key, default, optional)| {
            let optional = *optional || default.is_some();
            quote_spanned! {ty.span()=>
                #private::QueryField {
                    key: #key,
                    optional: #optional,
                    check: #private::check_query_value::<#ty>,
                }
            }
        });
        let query_type = self.concrete_type();
        quote! {
            let __agi_query: #query_type = match #private::query::<#query_type>(&*__agi_call, &[#(#checks),*]) {
                ::core::result::Result::Ok(query) => query,
                ::core::result::Result::Err(rejection) => return #private::rejected(rejection),
            };
        }
    }
}

/// On error: the function as written (so the IDE and other code keep working) and a
/// struct with the same name whose route never conflicts, so `routes![]` does not add
/// follow-on errors. The `compile_error!`s guarantee the crate does not build.
pub(crate) fn fallback(handler: &Handler) -> TokenStream {
    let private = private();
    let item = &handler.item;
    if item.sig.receiver().is_some() {
        // A method: a struct and impls cannot follow it inside an `impl` block.
        return quote!(#item);
    }
    let name = handler.name();
    let vis = &item.vis;
    // Never equal to a real shape (those start with `/`), nor to another invalid one.
    let shape = format!("\0invalid route of `{name}`");
    let name_text = name.to_string();
    quote! {
        #item

        #[allow(non_camel_case_types)]
        #[doc(hidden)]
        #vis struct #name {}

        impl #private::RouteDef for #name {
            const ROUTE: &'static str = "/";
            const SHAPE: &'static str = #shape;
            const NAME: &'static str = #name_text;
            const LOCATION: &'static str = "";
            const MAX_CALLS: ::core::option::Option<usize> = ::core::option::Option::None;

            fn instance() -> Self {
                #name {}
            }
        }

        impl<__AgiState> #private::Handler<__AgiState> for #name {
            fn call<'__agi>(
                &'__agi self,
                _: &'__agi mut #private::Call,
                _: &'__agi __AgiState,
            ) -> #private::BoxFuture<'__agi, #private::Outcome> {
                ::std::boxed::Box::pin(async { #private::Outcome::Success })
            }
        }
    }
}
