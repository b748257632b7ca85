//! Every path into the runtime that generated code uses, written once.

use proc_macro2::TokenStream;
use quote::quote;

/// `::agi_runtime::__private`: the only way generated code reaches the runtime.
pub(crate) fn private() -> TokenStream {
    quote!(::agi_runtime::__private)
}
