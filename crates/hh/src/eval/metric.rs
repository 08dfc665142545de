//! `hh eval metric <name> [--param k=v ...]`: JSON lines in, one JSON result per
//! line out, for scripting and for checking a built-in against another
//! implementation.

use std::io::{self, BufRead, Write};

use anyhow::{Context, Result, bail};
use clap::Args;
use honeyhive_evals::{BUILTIN_METRICS, EvalInput, Evaluator, builtin};
use serde_json::{Map, Value, json};

/// Arguments of `hh eval metric`.
#[derive(Args, Debug)]
#[command(
    after_help = "Input lines: {\"prediction\": ..., \"reference\": ..., \"inputs\": ...} (reference and inputs optional).\n\
Output lines: {\"score\": ..., \"passed\"?: ..., ...details} or {\"line\": N, \"error\": \"...\"}.\n\
Exit status 1 when any line failed; every line is still processed."
)]
pub struct MetricArgs {
    /// Metric: exact_match, contains, regex, json_valid, json_schema, levenshtein,
    /// token_f1, rouge1, rouge2, rougeL, bleu, tool_call_correctness.
    name: String,
    /// A metric parameter as KEY=VALUE (VALUE is read as JSON when it parses, else
    /// as a string), e.g. `--param stemmer=true`, `--param pattern='^\d+$'`.
    #[arg(long = "param", short = 'p', value_name = "KEY=VALUE")]
    params: Vec<String>,
}

/// Parses `KEY=VALUE` pairs into the parameter object `builtin` takes.
fn parse_params(pairs: &[String]) -> Result<Map<String, Value>> {
    let mut params = Map::new();
    for pair in pairs {
        let Some((key, raw)) = pair.split_once('=') else {
            bail!("parameter {pair:?} must look like KEY=VALUE");
        };
        let key = key.trim();
        if key.is_empty() {
            bail!("parameter {pair:?} has an empty key");
        }
        let value = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()));
        params.insert(key.to_string(), value);
    }
    Ok(params)
}

/// Counts of one run over a stream.
#[derive(Debug, Default, PartialEq, Eq)]
struct Summary {
    lines: usize,
    failed: usize,
}

/// Scores one input line; the error message is what the user sees after `line N:`.
fn score_line(evaluator: &dyn Evaluator, line: &str) -> Result<Value, String> {
    let record: Value = serde_json::from_str(line).map_err(|e| format!("invalid json: {e}"))?;
    let Value::Object(record) = record else {
        return Err("expected a json object with a \"prediction\" field".into());
    };
    let prediction = record
        .get("prediction")
        .ok_or("missing field \"prediction\"")?;
    let empty = Value::Object(Map::new());
    let inputs = record.get("inputs").unwrap_or(&empty);
    let input = EvalInput::new(prediction, inputs)
        .with_ground_truth(record.get("reference"))
        .with_event(record.get("event"));
    evaluator
        .score(&input)
        .map(|r| r.to_json())
        .map_err(|e| e.to_string())
}

/// Scores every line of `input`, writing results to `out` and error notes to
/// `diagnostics`. Every line gets exactly one output line so outputs stay aligned
/// with inputs.
fn score_stream(
    evaluator: &dyn Evaluator,
    input: impl BufRead,
    out: &mut impl Write,
    diagnostics: &mut impl Write,
) -> io::Result<Summary> {
    let mut summary = Summary::default();
    for (index, line) in input.split(b'\n').enumerate() {
        let number = index + 1;
        let bytes = line?;
        summary.lines += 1;
        let outcome = match std::str::from_utf8(&bytes) {
            Ok(text) if text.trim().is_empty() => Err("empty line".to_string()),
            Ok(text) => score_line(evaluator, text.trim_end_matches('\r')),
            Err(e) => Err(format!("line is not utf-8: {e}")),
        };
        match outcome {
            Ok(result) => writeln!(out, "{result}")?,
            Err(message) => {
                summary.failed += 1;
                writeln!(out, "{}", json!({"line": number, "error": message}))?;
                writeln!(diagnostics, "line {number}: {message}")?;
            }
        }
    }
    out.flush()?;
    Ok(summary)
}

/// Entry point of `hh eval metric`.
pub fn run(args: MetricArgs) -> Result<()> {
    let params = parse_params(&args.params)?;
    let evaluator = builtin(&args.name, &params).with_context(|| {
        format!(
            "cannot build metric {} (metrics: {})",
            args.name,
            BUILTIN_METRICS.join(", ")
        )
    })?;
    let stdin = io::stdin();
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut diagnostics = io::stderr();
    let summary = match score_stream(evaluator.as_ref(), stdin.lock(), &mut out, &mut diagnostics) {
        Ok(summary) => summary,
        // A closed pipe (`| head`) is the reader saying it has enough.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
        Err(e) => return Err(e).context("reading stdin or writing stdout"),
    };
    if summary.failed > 0 {
        eprintln!("{} of {} lines failed", summary.failed, summary.lines);
        std::process::exit(1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_lines(name: &str, params: &[&str], input: &str) -> (Vec<Value>, String, Summary) {
        let params =
            parse_params(&params.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        let evaluator = builtin(name, &params).unwrap();
        let (mut out, mut diagnostics) = (Vec::new(), Vec::new());
        let summary = score_stream(
            evaluator.as_ref(),
            input.as_bytes(),
            &mut out,
            &mut diagnostics,
        )
        .unwrap();
        let lines = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (lines, String::from_utf8(diagnostics).unwrap(), summary)
    }

    #[test]
    fn scores_each_line_and_reports_bad_lines_without_stopping() {
        let input = concat!(
            "{\"prediction\": \"the cat sat\", \"reference\": \"the cat sat down\"}\n",
            "not json\n",
            "\n",
            "{\"reference\": \"x\"}\n",
            "{\"prediction\": \"x\"}\n",
            "{\"prediction\": \"a b\", \"reference\": \"a b\"}\n",
        );
        let (lines, diagnostics, summary) = run_lines("rouge1", &[], input);
        assert_eq!(
            summary,
            Summary {
                lines: 6,
                failed: 4
            }
        );
        assert_eq!(lines.len(), 6);
        assert!((lines[0]["score"].as_f64().unwrap() - 6.0 / 7.0).abs() < 1e-12);
        assert_eq!(lines[0]["recall"], json!(0.75));
        assert_eq!(lines[1]["line"], json!(2));
        assert!(
            lines[1]["error"]
                .as_str()
                .unwrap()
                .starts_with("invalid json")
        );
        assert_eq!(lines[2], json!({"line": 3, "error": "empty line"}));
        assert_eq!(
            lines[3],
            json!({"line": 4, "error": "missing field \"prediction\""})
        );
        assert_eq!(
            lines[4],
            json!({"line": 5, "error": "ground truth missing for evaluator rouge1"})
        );
        assert_eq!(lines[5]["score"], json!(1.0));
        assert!(
            diagnostics.contains("line 2: invalid json"),
            "{diagnostics}"
        );
    }

    #[test]
    fn params_reach_the_metric() {
        let (lines, _, _) = run_lines(
            "rougeL",
            &["stemmer=true"],
            "{\"prediction\": \"cats running\", \"reference\": \"the cat runs\"}\n",
        );
        assert!((lines[0]["score"].as_f64().unwrap() - 0.8).abs() < 1e-12);
        let (lines, _, _) = run_lines(
            "regex",
            &[r"pattern=^\d{3}$"],
            "{\"prediction\": \"123\"}\n{\"prediction\": \"12a\"}",
        );
        assert_eq!(
            (lines[0]["passed"].clone(), lines[1]["passed"].clone()),
            (json!(true), json!(false))
        );
        let (lines, _, _) = run_lines(
            "json_schema",
            &[r#"schema={"type": "object", "required": ["a"]}"#],
            "{\"prediction\": \"{\\\"a\\\": 1}\"}\n{\"prediction\": {\"b\": 2}}\n",
        );
        assert_eq!(lines[0]["score"], json!(1.0));
        assert_eq!(lines[1]["score"], json!(0.0));
        let (lines, _, _) = run_lines(
            "bleu",
            &[],
            "{\"prediction\": \"the cat\", \"reference\": [\"the cat sat on the mat\", \"the cat\"]}\r\n",
        );
        assert!((lines[0]["score"].as_f64().unwrap() - 100.0).abs() < 1e-9);
    }

    #[test]
    fn bad_params_are_rejected_up_front() {
        assert!(parse_params(&["novalue".into()]).is_err());
        assert!(parse_params(&["=1".into()]).is_err());
        let params = parse_params(&["threshold=0.5".into(), "name=plain text".into()]).unwrap();
        assert_eq!(params["threshold"], json!(0.5));
        assert_eq!(params["name"], json!("plain text"));
        assert!(
            builtin(
                "levenshtein",
                &parse_params(&["threshhold=1".into()]).unwrap()
            )
            .is_err()
        );
    }
}
