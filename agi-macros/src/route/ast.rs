//! The handler function as the macro sees it: each parameter and its role.

use proc_macro2::Span;
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::{Attribute, Expr, FnArg, Ident, ItemFn, LitInt, LitStr, Pat, Type};

use crate::errors::Errors;

/// Extractor types recognised by name (see `agi_runtime::FromCall`).
pub(crate) const BUILTIN_EXTRACTORS: &[&str] = &["State", "AgiEnv", "CallerId", "Args", "Query", "PeerAddr"];

/// The attributes the macro reads on parameters (and removes from the emitted function).
const PARAM_ATTRIBUTES: &[&str] = &["arg", "query", "path", "from_call"];

/// How a query parameter gets a value when the key is absent.
pub(crate) enum QueryDefault {
    /// `#[query(default)]`: `Default::default()`.
    Default,
    /// `#[query(default = expr)]`.
    Expr(Box<Expr>),
}

/// Where a parameter's value comes from.
pub(crate) enum Role {
    /// `&mut Call`: the call itself.
    Call,
    /// No attribute: a path capture if the route has one by that name, else a query argument.
    Plain,
    /// A `?key=value` argument (`#[query]`, or a plain parameter the route does not capture).
    Query { key: LitStr, default: Option<QueryDefault>, optional: bool },
    /// A `{name}` capture; `explicit` holds the `#[path]` attribute if there is one.
    Path { explicit: Option<proc_macro2::TokenStream> },
    /// `agi_arg_N`.
    Arg { n: usize, n_span: Span, optional: bool },
    /// A `FromCall` type.
    Extractor,
}

pub(crate) struct Param {
    pub(crate) ident: Ident,
    pub(crate) ty: Type,
    pub(crate) role: Role,
}

/// The handler function after the parse phase.
pub(crate) struct Handler {
    /// The function to emit (parameter attributes of this macro removed).
    pub(crate) item: ItemFn,
    pub(crate) params: Vec<Param>,
}

impl Handler {
    pub(crate) fn name(&self) -> &Ident {
        &self.item.sig.ident
    }
}

/// Parses the function, reporting every problem with its signature.
pub(crate) fn parse(mut item: ItemFn, errors: &mut Errors) -> Handler {
    let sig = &item.sig;
    if sig.asyncness.is_none() {
        errors.spanned(sig.fn_token, "an AGI handler must be an `async fn`");
    }
    if let Some(constness) = sig.constness {
        errors.spanned(constness, "an AGI handler cannot be a `const fn`");
    }
    if let Some(unsafety) = sig.unsafety {
        errors.spanned(unsafety, "an AGI handler cannot be `unsafe`");
    }
    if let Some(abi) = &sig.abi {
        errors.spanned(abi, "an AGI handler cannot have an `extern` ABI");
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.spanned(&sig.generics, "an AGI handler cannot be generic: every input has a concrete type");
    }
    if let Some(variadic) = &sig.variadic {
        errors.spanned(variadic, "an AGI handler cannot be variadic");
    }

    let mut params = Vec::new();
    for input in &mut item.sig.inputs {
        match input {
            FnArg::Receiver(receiver) => {
                errors.spanned(&*receiver, "an AGI handler is a free function: it cannot take `self`");
            }
            FnArg::Typed(typed) => {
                let attrs = take_param_attributes(&mut typed.attrs);
                let Pat::Ident(pat) = &*typed.pat else {
                    errors.spanned(&typed.pat, "use a plain name for each handler parameter (no patterns)");
                    continue;
                };
                if pat.by_ref.is_some() || pat.subpat.is_some() {
                    errors.spanned(&typed.pat, "use a plain name for each handler parameter (no patterns)");
                    continue;
                }
                if let Some(role) = role_of(&pat.ident, &typed.ty, &attrs, errors) {
                    params.push(Param { ident: pat.ident.clone(), ty: (*typed.ty).clone(), role });
                }
            }
        }
    }
    Handler { item, params }
}

/// Removes this macro's attributes from a parameter, returning them.
fn take_param_attributes(attrs: &mut Vec<Attribute>) -> Vec<Attribute> {
    let (ours, theirs): (Vec<_>, Vec<_>) =
        attrs.drain(..).partition(|a| PARAM_ATTRIBUTES.iter().any(|name| a.path().is_ident(name)));
    *attrs = theirs;
    ours
}

fn role_of(ident: &Ident, ty: &Type, attrs: &[Attribute], errors: &mut Errors) -> Option<Role> {
    if let Some(second) = attrs.get(1) {
        errors.spanned(
            second,
            format!("parameter `{ident}` has more than one role: use one of `#[arg(N)]`, `#[query]`, `#[path]`, `#[from_call]`"),
        );
        return None;
    }
    match call_reference(ty) {
        CallRef::Mutable => {
            if let Some(attr) = attrs.first() {
                errors.spanned(attr, "the call handle takes no attribute");
            }
            return Some(Role::Call);
        }
        CallRef::Wrong => {
            errors.spanned(ty, "take the call as `&mut Call`: commands need exclusive access, one at a time");
            return None;
        }
        CallRef::No => {}
    }
    if let Type::Reference(reference) = ty {
        errors.spanned(
            reference,
            "handler inputs are owned values: only the call is borrowed (`&mut Call`); take `String` instead of `&str`",
        );
        return None;
    }
    let Some(attr) = attrs.first() else {
        return Some(if is_builtin_extractor(ty) { Role::Extractor } else { Role::Plain });
    };
    let name = attr.path().get_ident().map(ToString::to_string).unwrap_or_default();
    match name.as_str() {
        "arg" => parse_arg(attr, ty, errors),
        "path" => {
            no_arguments(attr, "#[path]", errors)?;
            Some(Role::Path { explicit: Some(attr.to_token_stream()) })
        }
        "from_call" => {
            no_arguments(attr, "#[from_call]", errors)?;
            Some(Role::Extractor)
        }
        _ => parse_query(attr, ident, ty, errors),
    }
}

/// A parameter's name as the dialplan spells it (`r#type` is `type`).
pub(crate) fn unraw(ident: &Ident) -> String {
    ident.unraw().to_string()
}

fn no_arguments(attr: &Attribute, written: &str, errors: &mut Errors) -> Option<()> {
    match attr.meta.require_path_only() {
        Ok(_) => Some(()),
        Err(_) => {
            errors.spanned(&attr.meta, format!("`{written}` takes no arguments"));
            None
        }
    }
}

fn parse_arg(attr: &Attribute, ty: &Type, errors: &mut Errors) -> Option<Role> {
    let usage = "write the argument number: `#[arg(1)]` takes `agi_arg_1`";
    let Ok(list) = attr.meta.require_list() else {
        errors.spanned(&attr.meta, usage);
        return None;
    };
    let n: LitInt = match list.parse_args() {
        Ok(n) => n,
        Err(_) => {
            errors.spanned(&list.tokens, format!("unknown `arg` option: {usage}"));
            return None;
        }
    };
    match n.base10_parse::<usize>() {
        Ok(0) => {
            errors.spanned(&n, "`agi_arg_N` numbering starts at 1 (`agi_arg_1` is the first argument after the URL)");
            None
        }
        Ok(number) if number > 127 => {
            errors.spanned(&n, "Asterisk passes at most 127 arguments after the URL");
            None
        }
        Ok(number) => Some(Role::Arg { n: number, n_span: n.span(), optional: option_inner(ty).is_some() }),
        Err(error) => {
            errors.push(error);
            None
        }
    }
}

fn parse_query(attr: &Attribute, ident: &Ident, ty: &Type, errors: &mut Errors) -> Option<Role> {
    let mut key = LitStr::new(&unraw(ident), ident.span());
    let mut default = None;
    if !matches!(attr.meta, syn::Meta::Path(_)) {
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                key = meta.value()?.parse()?;
                Ok(())
            } else if meta.path.is_ident("default") {
                default = Some(if meta.input.peek(syn::Token![=]) {
                    QueryDefault::Expr(Box::new(meta.value()?.parse()?))
                } else {
                    QueryDefault::Default
                });
                Ok(())
            } else {
                let name = meta.path.get_ident().map(ToString::to_string).unwrap_or_else(|| "?".to_owned());
                Err(meta.error(format!("unknown `query` option `{name}`; valid options are `rename = \"key\"`, `default` and `default = expr`")))
            }
        });
        if let Err(error) = parsed {
            errors.push(error);
            return None;
        }
    }
    Some(Role::Query { key, default, optional: option_inner(ty).is_some() })
}

enum CallRef {
    /// `&mut Call`.
    Mutable,
    /// `Call` or `&Call`.
    Wrong,
    No,
}

fn is_call_path(ty: &Type) -> bool {
    last_segment(ty).is_some_and(|s| s.ident == "Call" && s.arguments.is_none())
}

fn call_reference(ty: &Type) -> CallRef {
    match ty {
        Type::Reference(reference) if is_call_path(&reference.elem) => {
            if reference.mutability.is_some() {
                CallRef::Mutable
            } else {
                CallRef::Wrong
            }
        }
        ty if is_call_path(ty) => CallRef::Wrong,
        _ => CallRef::No,
    }
}

pub(crate) fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(path) if path.qself.is_none() => path.path.segments.last(),
        Type::Group(group) => last_segment(&group.elem),
        Type::Paren(paren) => last_segment(&paren.elem),
        _ => None,
    }
}

fn is_builtin_extractor(ty: &Type) -> bool {
    last_segment(ty).is_some_and(|s| BUILTIN_EXTRACTORS.iter().any(|name| s.ident == name))
}

/// The `T` of `Option<T>`.
pub(crate) fn option_inner(ty: &Type) -> Option<&Type> {
    let segment = last_segment(ty).filter(|s| s.ident == "Option")?;
    let syn::PathArguments::AngleBracketed(args) = &segment.arguments else { return None };
    match args.args.first() {
        Some(syn::GenericArgument::Type(inner)) if args.args.len() == 1 => Some(inner),
        _ => None,
    }
}

/// The name of a collection type a query value cannot be, if `ty` is one.
pub(crate) fn collection_name(ty: &Type) -> Option<String> {
    let ty = option_inner(ty).unwrap_or(ty);
    match ty {
        Type::Array(_) => Some("an array".to_owned()),
        Type::Slice(_) => Some("a slice".to_owned()),
        Type::Tuple(tuple) if !tuple.elems.is_empty() => Some("a tuple".to_owned()),
        _ => {
            let segment = last_segment(ty)?;
            ["Vec", "VecDeque", "HashSet", "BTreeSet", "HashMap", "BTreeMap", "LinkedList", "BinaryHeap"]
                .iter()
                .find(|name| segment.ident == name)
                .map(|name| format!("a `{name}`"))
        }
    }
}
