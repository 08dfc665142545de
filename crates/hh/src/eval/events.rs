//! `hh eval events`: score traffic already on the server and write the scores back
//! onto the events as metrics (`honeyhive::experiments::evaluate_events`).
//!
//! ```text
//! hh eval events --filter event_name=answer --filter metadata.env=prod \
//!     --since 2026-01-01T00:00:00Z --evaluator json_valid \
//!     --evaluator token_f1:threshold=0.5,prediction_field=answer
//! ```

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use honeyhive::experiments::{Connection, EventFilter, evaluate_events};
use serde_json::{Map, Value};

/// Arguments of `hh eval events`.
#[derive(Args, Debug)]
pub struct EventsArgs {
    /// A filter: `field=value`, `field!=value`, `field>number`, `field<number`,
    /// `field~text` (contains), `field?` (exists), or a HoneyHive filter as JSON
    /// (`{"field", "operator", "value", "type"}`). Repeat to AND them.
    #[arg(long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
    /// Only events starting at or after this time (ISO 8601 or epoch ms).
    #[arg(long)]
    pub since: Option<String>,
    /// Only events starting at or before this time (ISO 8601 or epoch ms).
    #[arg(long)]
    pub until: Option<String>,
    /// Score at most this many events.
    #[arg(long)]
    pub limit: Option<usize>,
    /// A built-in metric with parameters: `name` or `name:k=v,k=v`. Repeatable.
    #[arg(long = "evaluator", value_name = "NAME[:K=V,...]", required = true)]
    pub evaluators: Vec<String>,
    /// Events scored at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Score and print, but write nothing back.
    #[arg(long)]
    pub dry_run: bool,
    /// Print one JSON line per event instead of the summary table.
    #[arg(long)]
    pub json: bool,
    /// Server URL.
    #[arg(long = "server", env = "HH_API_URL")]
    pub server: Option<String>,
    /// API key.
    #[arg(long = "api-key", env = "HH_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
}

/// Parses `name` or `name:k=v,k=v` into a built-in evaluator.
pub fn parse_evaluator(spec: &str) -> Result<Box<dyn honeyhive_evals::Evaluator>> {
    let (name, params) = spec.split_once(':').unwrap_or((spec, ""));
    let mut map = Map::new();
    for pair in params.split(',').filter(|p| !p.trim().is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| anyhow!("parameter {pair:?} of {name} is not k=v"))?;
        map.insert(k.trim().to_string(), Value::String(v.trim().to_string()));
    }
    honeyhive_evals::builtin(name.trim(), &map).with_context(|| format!("evaluator {spec:?}"))
}

/// Adds one `--filter` to `filter`.
pub fn parse_filter(filter: EventFilter, spec: &str) -> Result<EventFilter> {
    let spec = crate::filters::parse(spec)?;
    Ok(filter.filter(&spec.field, &spec.operator, spec.value))
}

/// Runs `hh eval events`.
pub fn run(args: EventsArgs) -> Result<()> {
    let mut filter = EventFilter::new();
    for spec in &args.filters {
        filter = parse_filter(filter, spec)?;
    }
    if let Some(since) = &args.since {
        filter = filter.since(since.as_str());
    }
    if let Some(until) = &args.until {
        filter = filter.until(until.as_str());
    }
    if let Some(limit) = args.limit {
        filter = filter.max_events(limit);
    }
    let mut builder = evaluate_events(filter)
        .concurrency(args.concurrency)
        .dry_run(args.dry_run);
    let mut names = Vec::new();
    for spec in &args.evaluators {
        let evaluator = parse_evaluator(spec)?;
        names.push(evaluator.name().to_string());
        builder = builder.evaluator(evaluator);
    }
    // Flags first, then the environment, as a tracer reads them.
    builder = builder.connection(Connection::resolve(
        args.api_key.clone(),
        args.server.clone(),
    )?);
    let result = builder.run().context("evaluating events")?;
    if args.json {
        for event in &result.events {
            println!("{}", serde_json::to_string(event)?);
        }
        return Ok(());
    }
    let failed_writes = result
        .events
        .iter()
        .filter(|e| e.write_error.is_some())
        .count();
    println!(
        "{} events scored, {} written back{}",
        result.events.len(),
        result.written_count(),
        if args.dry_run { " (dry run)" } else { "" }
    );
    for name in &names {
        let errors = result
            .events
            .iter()
            .filter(|e| e.evaluator_errors.contains_key(name))
            .count();
        println!(
            "  {name:<24} mean {:>8}  errors {errors}",
            result
                .mean(name)
                .map_or_else(|| "-".into(), |m| format!("{m:.4}"))
        );
    }
    if failed_writes > 0 {
        let first = result
            .events
            .iter()
            .find_map(|e| e.write_error.as_deref())
            .unwrap_or_default();
        bail!("{failed_writes} events could not be updated; first error: {first}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters_parse_into_honeyhive_filters() {
        let mut f = EventFilter::new();
        for spec in [
            "event_name=answer",
            "metadata.env != prod",
            "duration>250",
            "outputs.text~refund",
            "error?",
            r#"{"field": "event_type", "operator": "is", "value": "model"}"#,
        ] {
            f = parse_filter(f, spec).unwrap();
        }
        let ops: Vec<(&str, &str, &Value)> = f
            .filters()
            .iter()
            .map(|x| {
                (
                    x["field"].as_str().unwrap(),
                    x["operator"].as_str().unwrap(),
                    &x["value"],
                )
            })
            .collect();
        assert_eq!(ops[0], ("event_name", "is", &json!("answer")));
        assert_eq!(ops[1], ("metadata.env", "is not", &json!("prod")));
        assert_eq!(ops[2], ("duration", "greater than", &json!(250.0)));
        assert_eq!(f.filters()[2]["type"], "number");
        assert_eq!(ops[3], ("outputs.text", "contains", &json!("refund")));
        assert_eq!(ops[4].1, "exists");
        assert_eq!(ops[5], ("event_type", "is", &json!("model")));
        assert!(parse_filter(EventFilter::new(), "nonsense").is_err());
        assert!(parse_filter(EventFilter::new(), "=x").is_err());
    }

    #[test]
    fn evaluator_specs_take_parameters() {
        let f1 = parse_evaluator("token_f1:threshold=0.5,prediction_field=answer").unwrap();
        assert_eq!(f1.name(), "token_f1");
        assert!(parse_evaluator("token_f1:threshold").is_err());
        assert!(parse_evaluator("bogus").is_err());
    }
}
