//! The experiment file of `hh eval run`: what it holds and how it becomes an
//! experiment (dataset, evaluators, function under test).
//!
//! ```toml
//! name = "capitals-v2"           # run name (default: the file's stem)
//! dataset = "capitals.jsonl"     # JSONL or CSV, relative to this file
//! concurrency = 8                # datapoints at once (default 10)
//! aggregate = "average"          # average | min | max | median | p90 | p95 | p99 | sum | count
//! min_pass_rate = 0.9            # exit code 1 when fewer datapoints pass (0..=1)
//!
//! [function]                     # exactly one of `command` or `url`
//! command = "python3 app.py"     # inputs as JSON on stdin, output JSON on stdout;
//!                                # runs in this file's directory
//! # command = ["python3", "app.py"]  (no shell)
//! # url = "http://127.0.0.1:9000/answer"  POST inputs as JSON; the JSON reply is the output
//! # headers = { Authorization = "Bearer ..." }   (url only)
//! timeout_secs = 60
//!
//! [[evaluators]]                 # a built-in metric; other keys are its parameters
//! metric = "exact_match"
//! ignore_case = true
//!
//! [[evaluators]]
//! metric = "token_f1"
//! name = "f1"                    # record under another name
//! pass_at_least = 0.5            # pass criteria: pass_at_least / pass_at_most
//!
//! [[evaluators]]                 # an LLM judge on any OpenAI-compatible endpoint
//! judge = "correctness"
//! criteria = "Is the answer the capital of the country?"
//! scale = [1, 5]                 # or categories = ["correct", "incorrect"]
//! pass_at_least = 4              # or passing_categories = ["correct"]
//! ground_truth = true            # show the judge the expected answer
//! # base_url / model / api_key_env: default HH_JUDGE_* then OPENAI_* variables
//!
//! [[evaluators]]                 # composites nest
//! composite = "quality"
//! combine = "weighted_mean"      # weighted_mean | min | max | all_pass | any_pass
//! pass_at_least = 0.6
//! children = [
//!   { metric = "rougeL", weight = 2 },
//!   { metric = "bleu", weight = 1 },
//! ]
//! ```
//!
//! A datapoint row is `{"inputs": {...}, "ground_truth": ...}` (see
//! `honeyhive::experiments::Dataset`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use honeyhive::experiments::Aggregation;
use honeyhive_evals::judge::{LlmJudge, Rubric};
use honeyhive_evals::{Combine, Composite, EndpointConfig, Evaluator, EvaluatorExt, PassCriteria};
use serde::Deserialize;
use serde_json::{Map, Value};

/// One experiment file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentFile {
    /// Run name.
    pub name: Option<String>,
    /// Dataset file (JSONL or CSV by extension), relative to the experiment file.
    pub dataset: PathBuf,
    /// Datapoints run at once.
    pub concurrency: Option<usize>,
    /// Server-side aggregate of each metric.
    pub aggregate: Option<String>,
    /// Minimum share of passing datapoints, 0..=1.
    pub min_pass_rate: Option<f64>,
    /// The function under test.
    pub function: FunctionSpec,
    /// The evaluators.
    #[serde(default)]
    pub evaluators: Vec<toml::Table>,
}

/// A command line: a shell string or an argv array.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum CommandLine {
    /// Run through `sh -c`.
    Shell(String),
    /// Run directly.
    Argv(Vec<String>),
}

/// The function under test.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionSpec {
    /// A command reading inputs on stdin and writing the output JSON on stdout.
    pub command: Option<CommandLine>,
    /// An HTTP endpoint taking the inputs as a JSON POST body.
    pub url: Option<String>,
    /// Extra request headers (url only).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Per-call timeout in seconds (default 60).
    pub timeout_secs: Option<u64>,
    /// Where commands run: the experiment file's directory (set on load).
    #[serde(skip)]
    pub working_dir: Option<PathBuf>,
}

impl ExperimentFile {
    /// Reads and checks an experiment file.
    pub fn load(path: &Path) -> Result<ExperimentFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading experiment file {}", path.display()))?;
        let mut file: ExperimentFile = toml::from_str(&text)
            .with_context(|| format!("parsing experiment file {}", path.display()))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if file.dataset.is_relative() {
                file.dataset = dir.join(&file.dataset);
            }
            file.function.working_dir = Some(dir.to_path_buf());
        }
        if file.name.is_none() {
            file.name = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        }
        if let Some(rate) = file.min_pass_rate
            && !(0.0..=1.0).contains(&rate)
        {
            bail!("min_pass_rate must be between 0 and 1, got {rate}");
        }
        match (&file.function.command, &file.function.url) {
            (Some(_), None) | (None, Some(_)) => {}
            _ => bail!("[function] needs exactly one of `command` or `url`"),
        }
        if file.evaluators.is_empty() {
            bail!("the experiment has no [[evaluators]]");
        }
        Ok(file)
    }

    /// The aggregate function (default average).
    pub fn aggregate(&self) -> Result<Aggregation> {
        Aggregation::parse(self.aggregate.as_deref()).map_err(|_| {
            let known: Vec<&str> = Aggregation::ALL.iter().map(|a| a.as_str()).collect();
            anyhow!(
                "unknown aggregate {:?} ({})",
                self.aggregate.as_deref().unwrap_or_default(),
                known.join(", ")
            )
        })
    }

    /// Builds the evaluators.
    pub fn build_evaluators(&self) -> Result<Vec<Box<dyn Evaluator>>> {
        self.evaluators
            .iter()
            .enumerate()
            .map(|(i, table)| {
                build_evaluator(table).with_context(|| format!("evaluator #{}", i + 1))
            })
            .collect()
    }
}

fn toml_to_json(value: &toml::Value) -> Result<Value> {
    serde_json::to_value(value).context("converting a TOML value")
}

fn take_f64(table: &mut Map<String, Value>, key: &str) -> Result<Option<f64>> {
    match table.remove(key) {
        None => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| anyhow!("`{key}` must be a number, got {v}")),
    }
}

fn take_string(table: &mut Map<String, Value>, key: &str) -> Result<Option<String>> {
    match table.remove(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => bail!("`{key}` must be a string, got {v}"),
    }
}

fn take_strings(table: &mut Map<String, Value>, key: &str) -> Result<Option<Vec<String>>> {
    match table.remove(key) {
        None => Ok(None),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                other => bail!("`{key}` must hold strings, got {other}"),
            })
            .collect::<Result<Vec<_>>>()
            .map(Some),
        Some(v) => bail!("`{key}` must be an array of strings, got {v}"),
    }
}

/// `pass_at_least` / `pass_at_most` as pass criteria.
fn take_criteria(table: &mut Map<String, Value>) -> Result<Option<PassCriteria>> {
    Ok(
        match (
            take_f64(table, "pass_at_least")?,
            take_f64(table, "pass_at_most")?,
        ) {
            (Some(min), Some(max)) => Some(PassCriteria::Between { min, max }),
            (Some(min), None) => Some(PassCriteria::AtLeast(min)),
            (None, Some(max)) => Some(PassCriteria::AtMost(max)),
            (None, None) => None,
        },
    )
}

fn finish(
    evaluator: Box<dyn Evaluator>,
    name: Option<String>,
    criteria: Option<PassCriteria>,
) -> Box<dyn Evaluator> {
    match (name, criteria) {
        (None, None) => evaluator,
        (Some(n), None) => Box::new(evaluator.named(n)),
        (None, Some(c)) => Box::new(evaluator.passing(c)),
        (Some(n), Some(c)) => Box::new(evaluator.named(n).passing(c)),
    }
}

/// One `[[evaluators]]` entry (or a composite's child).
pub fn build_evaluator(table: &toml::Table) -> Result<Box<dyn Evaluator>> {
    let Value::Object(mut table) = toml_to_json(&toml::Value::Table(table.clone()))? else {
        bail!("an evaluator must be a table");
    };
    let name = take_string(&mut table, "name")?;
    let criteria = take_criteria(&mut table)?;
    if let Some(metric) = take_string(&mut table, "metric")? {
        let evaluator = honeyhive_evals::builtin(&metric, &table)
            .with_context(|| format!("metric {metric:?}"))?;
        return Ok(finish(evaluator, name, criteria));
    }
    if let Some(judge_name) = take_string(&mut table, "judge")? {
        return build_judge(judge_name, table, criteria);
    }
    if let Some(composite_name) = take_string(&mut table, "composite")? {
        let combine = match take_string(&mut table, "combine")?.as_deref() {
            None | Some("weighted_mean") | Some("mean") => Combine::WeightedMean,
            Some("min") => Combine::Min,
            Some("max") => Combine::Max,
            Some("all_pass") => Combine::AllPass,
            Some("any_pass") => Combine::AnyPass,
            Some(other) => {
                bail!("unknown combine {other:?} (weighted_mean, min, max, all_pass, any_pass)")
            }
        };
        let mut composite = Composite::new(composite_name, combine);
        let children = match table.remove("children") {
            Some(Value::Array(children)) if !children.is_empty() => children,
            _ => bail!("a composite needs a non-empty `children` array"),
        };
        for (i, child) in children.into_iter().enumerate() {
            let Value::Object(mut child) = child else {
                bail!("composite child #{} must be a table", i + 1);
            };
            let weight = take_f64(&mut child, "weight")?.unwrap_or(1.0);
            let child: toml::Table =
                serde_json::from_value(Value::Object(child)).context("composite child")?;
            let evaluator =
                build_evaluator(&child).with_context(|| format!("composite child #{}", i + 1))?;
            composite = composite.boxed_child(evaluator, weight);
        }
        if let Some(unknown) = table.keys().next() {
            bail!("unknown composite key `{unknown}`");
        }
        return Ok(finish(Box::new(composite), name, criteria));
    }
    bail!("an evaluator needs one of `metric`, `judge` or `composite`")
}

fn build_judge(
    name: String,
    mut table: Map<String, Value>,
    criteria: Option<PassCriteria>,
) -> Result<Box<dyn Evaluator>> {
    let question =
        take_string(&mut table, "criteria")?.ok_or_else(|| anyhow!("a judge needs `criteria`"))?;
    let mut rubric = match (
        table.remove("scale"),
        take_strings(&mut table, "categories")?,
    ) {
        (Some(Value::Array(scale)), None) if scale.len() == 2 => {
            let bound = |v: &Value| v.as_f64().ok_or_else(|| anyhow!("`scale` holds numbers"));
            Rubric::numeric(question, bound(&scale[0])?, bound(&scale[1])?)
        }
        (None, Some(labels)) => Rubric::categories(question, labels),
        (None, None) => Rubric::numeric(question, 1.0, 5.0),
        _ => bail!("a judge takes either `scale = [min, max]` or `categories = [...]`"),
    };
    if let Some(Value::Bool(true)) = table.remove("ground_truth") {
        rubric = rubric.with_ground_truth();
    }
    if let Some(labels) = take_strings(&mut table, "passing_categories")? {
        rubric = rubric.passing_categories(labels);
    }
    if let Some(PassCriteria::AtLeast(min)) = criteria {
        rubric = rubric.passing_at(min);
    }
    if let Some(template) = take_string(&mut table, "template")? {
        rubric = rubric.template(template);
    }
    let mut endpoint = match take_string(&mut table, "base_url")? {
        Some(base) => EndpointConfig::new(base, "gpt-4o-mini"),
        None => EndpointConfig::judge_from_env().context("judge endpoint")?,
    };
    if let Some(model) = take_string(&mut table, "model")? {
        endpoint.model = model;
    }
    if let Some(env) = take_string(&mut table, "api_key_env")? {
        endpoint.api_key =
            Some(std::env::var(&env).with_context(|| format!("reading api key from ${env}"))?);
    }
    if let Some(retries) = take_f64(&mut table, "retries")? {
        endpoint.max_retries = retries.max(0.0) as u32;
    }
    if let Some(unknown) = table.keys().next() {
        bail!("unknown judge key `{unknown}`");
    }
    let judge = LlmJudge::new(name, rubric, endpoint);
    Ok(match criteria {
        Some(c @ (PassCriteria::AtMost(_) | PassCriteria::Between { .. })) => {
            Box::new(judge.passing(c))
        }
        _ => Box::new(judge),
    })
}

/// Calls the function under test with one datapoint's inputs.
#[derive(Debug, Clone)]
pub struct FunctionRunner {
    spec: FunctionSpec,
    agent: ureq::Agent,
    timeout: Duration,
}

impl FunctionRunner {
    /// A runner for this spec.
    pub fn new(spec: FunctionSpec) -> FunctionRunner {
        let timeout = Duration::from_secs(spec.timeout_secs.unwrap_or(60));
        let agent = honeyhive_transport::agent(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(timeout))
                .build(),
        );
        FunctionRunner {
            spec,
            agent,
            timeout,
        }
    }

    /// A short name for the run configuration: the command's program or the URL.
    pub fn display_name(&self) -> String {
        match (&self.spec.command, &self.spec.url) {
            (Some(CommandLine::Shell(s)), _) => s.clone(),
            (Some(CommandLine::Argv(argv)), _) => argv.join(" "),
            (None, Some(url)) => url.clone(),
            (None, None) => "function".into(),
        }
    }

    /// The output for `inputs`, or the error the datapoint is recorded with.
    pub fn call(&self, inputs: &Value) -> Result<Value, String> {
        match (&self.spec.command, &self.spec.url) {
            (Some(command), _) => self.call_command(command, inputs),
            (None, Some(url)) => self.call_http(url, inputs),
            (None, None) => Err("no function configured".into()),
        }
    }

    fn call_http(&self, url: &str, inputs: &Value) -> Result<Value, String> {
        let body = serde_json::to_vec(inputs).map_err(|e| e.to_string())?;
        let mut request = self
            .agent
            .post(url)
            .header("Content-Type", "application/json");
        for (k, v) in &self.spec.headers {
            request = request.header(k, v);
        }
        let mut response = request
            .send(&body[..])
            .map_err(|e| format!("POST {url}: {e}"))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("POST {url}: reading the reply: {e}"))?;
        if !(200..300).contains(&status) {
            let snippet: String = text.chars().take(300).collect();
            return Err(format!("POST {url}: http status {status}: {snippet}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("POST {url}: the reply is not JSON: {e}"))
    }

    fn call_command(&self, command: &CommandLine, inputs: &Value) -> Result<Value, String> {
        let mut cmd = match command {
            CommandLine::Shell(line) => {
                let mut c = Command::new("sh");
                c.arg("-c").arg(line);
                c
            }
            CommandLine::Argv(argv) => {
                let (program, args) = argv.split_first().ok_or("empty command")?;
                let mut c = Command::new(program);
                c.args(args);
                c
            }
        };
        if let Some(dir) = &self.spec.working_dir {
            cmd.current_dir(dir);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting {}: {e}", self.display_name()))?;
        let input = serde_json::to_vec(inputs).map_err(|e| e.to_string())?;
        if let Some(mut stdin) = child.stdin.take() {
            // A command that exits without reading its input is not our failure.
            let _ = stdin.write_all(&input);
        }
        let waited = wait_with_timeout(child, self.timeout)?;
        if !waited.status.success() {
            let stderr = String::from_utf8_lossy(&waited.stderr);
            let tail: String = stderr.trim().chars().take(300).collect();
            return Err(format!("the command exited with {}: {tail}", waited.status));
        }
        let stdout = String::from_utf8_lossy(&waited.stdout);
        serde_json::from_str(stdout.trim())
            .map_err(|e| format!("the command's stdout is not JSON: {e}"))
    }
}

/// Waits for the child, killing it after `timeout`.
fn wait_with_timeout(
    child: std::process::Child,
    timeout: Duration,
) -> Result<std::process::Output, String> {
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(e)) => Err(format!("waiting for the command: {e}")),
        Err(_) => {
            // The child is owned by the waiting thread; end it by its own pid.
            let _ = Command::new("kill").arg("-9").arg(id.to_string()).status();
            Err(format!("the command took longer than {timeout:?}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evaluator(text: &str) -> Result<Box<dyn Evaluator>> {
        build_evaluator(&toml::from_str(text).expect("toml"))
    }

    #[test]
    fn metrics_judges_and_composites_build_from_tables() {
        let f1 = evaluator("metric = \"token_f1\"\nname = \"f1\"\npass_at_least = 0.5").unwrap();
        assert_eq!(f1.name(), "f1");
        assert_eq!(f1.pass_criteria(), Some(&PassCriteria::AtLeast(0.5)));
        let judge = evaluator(
            "judge = \"tone\"\ncriteria = \"polite?\"\ncategories = [\"polite\", \"rude\"]\npassing_categories = [\"polite\"]\nbase_url = \"http://127.0.0.1:9/v1\"",
        )
        .unwrap();
        assert_eq!(judge.name(), "tone");
        let composite = evaluator(
            "composite = \"q\"\ncombine = \"all_pass\"\nchildren = [{metric = \"exact_match\"}, {composite = \"inner\", children = [{metric = \"bleu\", weight = 2}]}]",
        )
        .unwrap();
        assert_eq!(composite.name(), "q");
    }

    #[test]
    fn the_example_file_loads_and_builds() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/experiment.toml");
        let file = ExperimentFile::load(&path).unwrap();
        assert!(file.dataset.ends_with("examples/capitals.jsonl"));
        assert!(file.dataset.exists());
        assert_eq!(file.aggregate().unwrap(), Aggregation::Average);
        let names: Vec<String> = file
            .build_evaluators()
            .unwrap()
            .iter()
            .map(|e| e.name().to_string())
            .collect();
        assert_eq!(names, ["exact_match", "f1", "correctness", "quality"]);
        let runner = FunctionRunner::new(file.function.clone());
        let out = runner
            .call(&serde_json::json!({"country": "France"}))
            .unwrap();
        assert_eq!(out, serde_json::json!({"answer": "Paris"}));
    }

    #[test]
    fn mistakes_are_reported() {
        assert!(evaluator("metric = \"rougeX\"").is_err());
        assert!(evaluator("metric = \"bleu\"\nsmoothing = 1").is_err());
        assert!(evaluator("composite = \"q\"").is_err());
        assert!(evaluator("judge = \"j\"\nbase_url = \"http://x/v1\"").is_err());
        assert!(evaluator("nothing = 1").is_err());
    }
}
