//! `AGI_MACROS_DEBUG=1 cargo build` prints every expansion, to see what a macro wrote.

use proc_macro2::TokenStream;

pub(crate) fn maybe_print(macro_name: &str, subject: &str, expansion: &TokenStream) {
    if std::env::var_os("AGI_MACROS_DEBUG").is_some_and(|v| !v.is_empty() && v != "0") {
        eprintln!("// {macro_name} expansion for `{subject}`:\n{expansion}\n");
    }
}
