//! The `#[trace]` attribute of the honeyhive SDK. Use it as `honeyhive::trace`; see
//! the `honeyhive` crate for documentation and examples.
//!
//! Parsing (`parse`) and code generation (`expand`) are separate. On misuse the
//! original item is emitted unchanged next to a `compile_error!`, so the rest of the
//! program still type-checks and IDEs keep working.

mod expand;
mod parse;

use proc_macro::TokenStream;

/// Trace a function, async function, method, or every public method of an `impl`
/// block as a HoneyHive event.
///
/// Options: `event_type = "model" | "tool" | "chain"` (default `"tool"`),
/// `name = "..."`, `tracer = <expr evaluating to a honeyhive::Tracer or a reference to one>`,
/// `skip(arg, ...)`, `metadata = <Serialize expr>`, `config = <Serialize expr>`.
#[proc_macro_attribute]
pub fn trace(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    let result =
        syn::parse::<parse::TraceArgs>(args).and_then(|args| expand::expand(args, item.clone()));
    match result {
        Ok(tokens) => tokens.into(),
        Err(error) => {
            let error = error.to_compile_error();
            quote::quote!(#item #error).into()
        }
    }
}
