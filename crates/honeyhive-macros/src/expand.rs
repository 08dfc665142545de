//! Code generation for `#[trace]`.
//!
//! A traced function body becomes: start a span (nearly free when no tracer records),
//! capture the inputs by reference, run the original body as a closure (sync) or an
//! async block (async) with the span current, record the output or error, end the
//! span. The original body is emitted once.

use honeyhive_model::EventType;
use honeyhive_model::attributes::{self as keys, Namespace};
use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{
    Attribute, Block, FnArg, ImplItem, Item, ItemImpl, Pat, ReturnType, Signature, Type, Visibility,
};

use crate::parse::TraceArgs;

pub(crate) fn expand(args: TraceArgs, item: TokenStream) -> syn::Result<TokenStream> {
    let item: Item = syn::parse2(item).map_err(|e| {
        syn::Error::new(
            e.span(),
            "#[trace] can only be applied to a fn, an async fn, a method or an impl block",
        )
    })?;
    match item {
        Item::Fn(function) => {
            let name = function.sig.ident.to_string();
            let body = traced_body(&args, &function.sig, &function.block, name, false)?;
            let (attrs, vis, sig) = (&function.attrs, &function.vis, &function.sig);
            Ok(quote!(#(#attrs)* #vis #sig #body))
        }
        Item::Impl(implementation) => expand_impl(args, implementation),
        other => Err(syn::Error::new(
            other.span(),
            "#[trace] can only be applied to a fn, an async fn, a method or an impl block",
        )),
    }
}

fn is_trace_attribute(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == "trace")
}

fn expand_impl(args: TraceArgs, mut implementation: ItemImpl) -> syn::Result<TokenStream> {
    if let Some(name) = &args.name {
        return Err(syn::Error::new(
            name.span(),
            "`name` cannot be used on an impl block: each method is named `Type.method`",
        ));
    }
    if let Some(first) = args.skip.first() {
        return Err(syn::Error::new(
            first.span(),
            "`skip` cannot be used on an impl block; put #[trace(skip(..))] on the method",
        ));
    }
    let type_name = match implementation.self_ty.as_ref() {
        Type::Path(path) => path.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
    .unwrap_or_else(|| "impl".to_owned());
    let is_trait_impl = implementation.trait_.is_some();
    for impl_item in &mut implementation.items {
        let ImplItem::Fn(method) = impl_item else {
            continue;
        };
        let public = matches!(method.vis, Visibility::Public(_));
        // A method with its own #[trace] is expanded by that attribute.
        if !(public || is_trait_impl) || method.attrs.iter().any(is_trace_attribute) {
            continue;
        }
        if method.sig.constness.is_some() {
            continue;
        }
        let name = format!("{type_name}.{}", method.sig.ident);
        let body = traced_body(&args, &method.sig, &method.block, name, true)?;
        method.block = syn::parse2(body)?;
    }
    Ok(implementation.into_token_stream())
}

/// Return types the closure/async block cannot be annotated with (`impl Trait`, `!`).
fn contains_impl_trait(ty: &Type) -> bool {
    let tokens = ty.to_token_stream().to_string();
    tokens.contains("impl ") || matches!(ty, Type::Never(_))
}

fn traced_body(
    args: &TraceArgs,
    sig: &Signature,
    block: &Block,
    default_name: String,
    from_impl_block: bool,
) -> syn::Result<TokenStream> {
    if let Some(constness) = &sig.constness {
        return Err(syn::Error::new(
            constness.span(),
            "#[trace] cannot be applied to a const fn",
        ));
    }
    let mut arg_names = Vec::new();
    for input in &sig.inputs {
        if let FnArg::Typed(typed) = input
            && let Pat::Ident(pat) = typed.pat.as_ref()
        {
            arg_names.push(pat.ident.clone());
        }
    }
    for skipped in &args.skip {
        if !arg_names.iter().any(|a| a == skipped) {
            return Err(syn::Error::new(
                skipped.span(),
                format!("`skip({skipped})` names no argument of `{}`", sig.ident),
            ));
        }
    }

    let name = args
        .name
        .as_ref()
        .map(|n| n.value())
        .unwrap_or(default_name);
    let explicit_name = args.name.is_some() || from_impl_block;
    let event_type = args.event_type.unwrap_or(EventType::Tool);
    let event_type = format_ident!("{}", format!("{event_type:?}"));
    let start = match &args.tracer {
        Some(tracer) => {
            quote_spanned!(tracer.span()=> ::honeyhive::__private::start_with(&(#tracer), &__HH_META, __hh_inputs))
        }
        None => quote!(::honeyhive::__private::start_default(
            &__HH_META,
            __hh_inputs
        )),
    };

    let captured: Vec<_> = arg_names
        .iter()
        .filter(|name| !args.skip.contains(name))
        .collect();
    // Inputs, the output, and one per option (a flattened option may need more).
    let attributes_hint = captured.len()
        + 1
        + usize::from(args.metadata.is_some())
        + 2 * usize::from(args.config.is_some());
    let captures = captured.into_iter().map(|ident| {
        let key = Namespace::Inputs.key(ident.to_string().trim_start_matches("r#"));
        quote!((&&::honeyhive::__private::Capture(&#ident)).__hh_capture(__hh_r, #key);)
    });
    let mut options = Vec::new();
    if let Some(metadata) = &args.metadata {
        let prefix = Namespace::Metadata.prefix();
        options.push(quote!(::honeyhive::__private::record_option(__hh_r, #prefix, &(#metadata));));
    }
    if let Some(config) = &args.config {
        // The Python decorator records its config under both namespaces.
        let (span_config, config_prefix) = (keys::SPAN_CONFIG, Namespace::Config.prefix());
        options.push(quote! {
            let __hh_config = &(#config);
            ::honeyhive::__private::record_option(__hh_r, #span_config, __hh_config);
            ::honeyhive::__private::record_option(__hh_r, #config_prefix, __hh_config);
        });
    }

    // Pin the body's type to the declared return type so `?` and `.into()` infer as
    // they would in the original function.
    let stmts = &block.stmts;
    let typed_block = match &sig.output {
        ReturnType::Type(_, ty) if !contains_impl_trait(ty) => quote! {{
            #[allow(unreachable_code, clippy::diverging_sub_expression, clippy::needless_return)]
            if false {
                let __hh_unreachable: #ty = loop {};
                return __hh_unreachable;
            }
            #(#stmts)*
        }},
        _ => quote!({ #(#stmts)* }),
    };

    let imports = quote! {
        #[allow(unused_imports)]
        use ::honeyhive::__private::{
            CaptureFallback as _, CaptureSerialize as _, OutputFallback as _, OutputResultDebug as _,
            OutputResultSerialize as _, OutputSerialize as _,
        };
        static __HH_META: ::honeyhive::__private::SpanMeta = ::honeyhive::__private::SpanMeta {
            name: #name,
            event_type: ::honeyhive::__private::EventType::#event_type,
            explicit_name: #explicit_name,
            attributes_hint: #attributes_hint,
        };
    };
    // Inputs are recorded by `start` before the span is shared (no lock); the output
    // and the end happen under one lock.
    let record = quote! {
        let __hh_inputs = |__hh_r: &mut ::honeyhive::__private::Recorder<'_>| {
            #(#captures)*
            #(#options)*
        };
    };
    let finish = quote! {
        __hh_s.finish_with(|__hh_r| {
            (&&&&::honeyhive::__private::Output(&__hh_ret)).__hh_record(__hh_r)
        });
        __hh_ret
    };
    let body = if sig.asyncness.is_some() {
        quote! {{
            #imports
            #record
            let __hh_span = #start;
            let __hh_body = async move #typed_block;
            match __hh_span {
                ::core::option::Option::None => __hh_body.await,
                ::core::option::Option::Some(__hh_s) => {
                    let __hh_ret = ::honeyhive::__private::instrument(&__hh_s, __hh_body).await;
                    #finish
                }
            }
        }}
    } else {
        quote! {{
            #imports
            #record
            let __hh_span = #start;
            let __hh_body = move || #typed_block;
            match __hh_span {
                ::core::option::Option::None => __hh_body(),
                ::core::option::Option::Some(__hh_s) => {
                    let __hh_ret = __hh_s.in_scope(__hh_body);
                    #finish
                }
            }
        }}
    };
    Ok(body)
}
