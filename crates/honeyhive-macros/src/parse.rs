//! Parsing `#[trace(...)]` options.

use honeyhive_model::EventType;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, LitStr, Token};

const OPTIONS: &str = "event_type, name, tracer, skip, metadata, config";

/// The event types a traced function may record (a session is not a step).
const STEP_TYPES: [EventType; 3] = [EventType::Model, EventType::Tool, EventType::Chain];

/// The options of one `#[trace(...)]`.
#[derive(Default)]
pub(crate) struct TraceArgs {
    pub(crate) event_type: Option<EventType>,
    pub(crate) name: Option<LitStr>,
    pub(crate) tracer: Option<Expr>,
    pub(crate) skip: Vec<Ident>,
    pub(crate) metadata: Option<Expr>,
    pub(crate) config: Option<Expr>,
}

fn set_once<T>(slot: &mut Option<T>, value: T, key: &Ident) -> syn::Result<()> {
    if slot.is_some() {
        return Err(syn::Error::new(
            key.span(),
            format!("duplicate option `{key}`"),
        ));
    }
    *slot = Some(value);
    Ok(())
}

impl Parse for TraceArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = TraceArgs::default();
        let mut seen_skip = false;
        while !input.is_empty() {
            let key: Ident = input.parse().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    format!("expected an option name; valid options: {OPTIONS}"),
                )
            })?;
            match key.to_string().as_str() {
                "skip" => {
                    if seen_skip {
                        return Err(syn::Error::new(key.span(), "duplicate option `skip`"));
                    }
                    seen_skip = true;
                    let content;
                    syn::parenthesized!(content in input);
                    let names = Punctuated::<Ident, Token![,]>::parse_terminated(&content)?;
                    args.skip.extend(names);
                }
                "event_type" => {
                    input.parse::<Token![=]>()?;
                    let value: LitStr = input.parse()?;
                    let name = value.value();
                    let Some(event_type) = STEP_TYPES.into_iter().find(|t| t.as_str() == name)
                    else {
                        let [model, tool, chain] = STEP_TYPES.map(EventType::as_str);
                        return Err(syn::Error::new(
                            value.span(),
                            format!("event_type must be \"{model}\", \"{tool}\" or \"{chain}\""),
                        ));
                    };
                    set_once(&mut args.event_type, event_type, &key)?;
                }
                "name" => {
                    input.parse::<Token![=]>()?;
                    let value: LitStr = input.parse()?;
                    if value.value().trim().is_empty() {
                        return Err(syn::Error::new(value.span(), "name must not be empty"));
                    }
                    set_once(&mut args.name, value, &key)?;
                }
                "tracer" | "metadata" | "config" => {
                    input.parse::<Token![=]>()?;
                    let value: Expr = input.parse()?;
                    let slot = match key.to_string().as_str() {
                        "tracer" => &mut args.tracer,
                        "metadata" => &mut args.metadata,
                        _ => &mut args.config,
                    };
                    set_once(slot, value, &key)?;
                }
                other => {
                    return Err(syn::Error::new(
                        key.span(),
                        format!("unknown option `{other}`; valid options: {OPTIONS}"),
                    ));
                }
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(args)
    }
}
