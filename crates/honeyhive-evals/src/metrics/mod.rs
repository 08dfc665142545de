//! Built-in evaluators. Scores of match-type checks are 1.0 / 0.0 (so they average
//! into rates); similarity metrics are 0–1 except BLEU (0–100, as sacrebleu).

mod bleu;
mod compared;
mod embedding;
mod event;
mod json;
mod matching;
mod porter;
mod rouge;
mod schema;
mod similarity;
mod tool_calls;

pub use bleu::{Bleu, BleuComparison, BleuScore, sentence_bleu, tokenize_13a};
pub use compared::{Compared, Comparison};
pub use embedding::{EmbeddingSimilarity, cosine_similarity};
pub use event::{EventBudget, EventQuantity};
pub use json::{JsonSchema, JsonValid};
pub use matching::{Contains, ExactMatch, ExactMatchComparison, RegexMatch};
pub use porter::porter_stem;
pub use rouge::{Rouge, RougeComparison, RougeKind, RougeScore, rouge, rouge_tokenize};
pub use schema::validate_schema;
pub use similarity::{
    Levenshtein, LevenshteinComparison, TokenF1, TokenF1Comparison, levenshtein_distance,
    levenshtein_similarity, token_f1,
};
pub use tool_calls::{
    ActualToolCall, ArgumentMatch, ExpectedToolCall, ToolCallCorrectness, extract_tool_calls,
};
