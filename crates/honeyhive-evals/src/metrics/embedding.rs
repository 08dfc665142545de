//! Cosine similarity of prediction and reference embeddings from an
//! OpenAI-compatible `/embeddings` endpoint.

use serde_json::{Value, json};

use crate::evaluator::offload;
use crate::{
    EndpointConfig, EvalError, EvalFuture, EvalInput, EvalResult, Evaluator, Fields, PassCriteria,
};

/// Cosine similarity of two vectors; 0.0 when either is all zeros or lengths differ.
///
/// ```
/// use honeyhive_evals::metrics::cosine_similarity;
/// assert!((cosine_similarity(&[1.0, 0.0], &[1.0, 1.0]) - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-12);
/// ```
pub fn cosine_similarity(a: &[f64], b: &[f64]) -> f64 {
    if a.len() != b.len() {
        return 0.0;
    }
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f64>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

/// Embeds prediction and reference in one request and scores their cosine
/// similarity (−1..=1).
///
/// ```no_run
/// use honeyhive_evals::{EndpointConfig, EvalInput, Evaluator, metrics::EmbeddingSimilarity};
/// use serde_json::json;
/// let eval = EmbeddingSimilarity::new(EndpointConfig::embeddings_from_env()?).threshold(0.8);
/// let (out, inp, truth) = (json!("A feline sat."), json!({}), json!("The cat sat."));
/// let r = eval.score(&EvalInput::new(&out, &inp).with_ground_truth(Some(&truth)))?;
/// # Ok::<(), honeyhive_evals::EvalError>(())
/// ```
#[derive(Debug, Clone)]
pub struct EmbeddingSimilarity {
    endpoint: EndpointConfig,
    fields: Fields,
    criteria: Option<PassCriteria>,
}

impl EmbeddingSimilarity {
    /// Uses this endpoint (its `model` is the embedding model).
    pub fn new(endpoint: EndpointConfig) -> Self {
        EmbeddingSimilarity {
            endpoint,
            fields: Fields::default(),
            criteria: None,
        }
    }

    /// Which parts of outputs and ground truth are compared.
    pub fn fields(mut self, fields: Fields) -> Self {
        self.fields = fields;
        self
    }

    /// Passes when the similarity is at least `threshold`.
    pub fn threshold(mut self, threshold: f64) -> Self {
        self.criteria = Some(PassCriteria::AtLeast(threshold));
        self
    }

    fn compare(&self, prediction: String, reference: String) -> Result<EvalResult, EvalError> {
        let body = json!({"model": self.endpoint.model, "input": [prediction, reference]});
        let (vectors, stats) =
            self.endpoint
                .post_with_retries("/embeddings", &body, |response| {
                    let mut items: Vec<&Value> = response
                        .get("data")
                        .and_then(Value::as_array)
                        .map(|d| d.iter().collect())
                        .unwrap_or_default();
                    items
                        .sort_by_key(|item| item.get("index").and_then(Value::as_u64).unwrap_or(0));
                    let vectors: Vec<Vec<f64>> = items
                        .iter()
                        .filter_map(|item| {
                            item.get("embedding")?
                                .as_array()
                                .map(|v| v.iter().filter_map(Value::as_f64).collect())
                        })
                        .collect();
                    if vectors.len() == 2 {
                        Ok(vectors)
                    } else {
                        Err(EvalError::Endpoint {
                            url: self.endpoint.url("/embeddings"),
                            attempts: 1,
                            message: format!("expected 2 embeddings, got {}", vectors.len()),
                        })
                    }
                })?;
        Ok(
            EvalResult::number(cosine_similarity(&vectors[0], &vectors[1]))
                .with_extra("model", self.endpoint.model.clone())
                .with_extra("latency_ms", stats.latency_ms),
        )
    }

    fn texts(&self, input: &EvalInput<'_>) -> Result<(String, String), EvalError> {
        let prediction = self.fields.prediction_text(input).unwrap_or_default();
        let reference = self.fields.reference_text(input).ok_or_else(|| {
            EvalError::invalid_input(self.name(), "reference field not found in ground truth")
        })?;
        Ok((prediction, reference))
    }
}

impl Evaluator for EmbeddingSimilarity {
    fn name(&self) -> &str {
        "embedding_similarity"
    }
    fn needs_ground_truth(&self) -> bool {
        true
    }
    fn pass_criteria(&self) -> Option<&PassCriteria> {
        self.criteria.as_ref()
    }
    fn evaluate(&self, input: &EvalInput<'_>) -> Result<EvalResult, EvalError> {
        let (p, r) = self.texts(input)?;
        self.compare(p, r)
    }
    fn evaluate_async<'a>(&'a self, input: EvalInput<'a>) -> EvalFuture<'a> {
        let texts = self.texts(&input);
        let this = self.clone();
        Box::pin(async move {
            let (p, r) = texts?;
            offload(move || this.compare(p, r))
                .await
                .map_err(|message| EvalError::Failed {
                    evaluator: "embedding_similarity".into(),
                    message,
                })?
        })
    }
}
