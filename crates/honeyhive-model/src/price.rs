//! Model prices, from the data file `data/prices.json` (easy to update in place).
//!
//! Names are matched to a *family* in the table by the longest family that is a
//! prefix of the name and ends at a separator (`-`, `@`, `:`, `_`, `/`) or at the
//! end, after lower-casing and dropping a provider prefix (`openai/`, `models/`,
//! `anthropic.` ...). So `gpt-4o-2024-08-06` is `gpt-4o`, `gpt-4o-mini-2024-07-18`
//! is `gpt-4o-mini`, `claude-sonnet-4-20250514` is `claude-sonnet-4`, while `gpt-4o`
//! is never priced as `gpt-4`.
//!
//! ```
//! use honeyhive_model::price;
//! // 1M input + 1M output tokens of gpt-4o: $2.50 + $10.00.
//! let cost = price::cost_usd("gpt-4o-2024-08-06", 1_000_000, 1_000_000, 0).unwrap();
//! assert!((cost - 12.5).abs() < 1e-9);
//! assert_eq!(price::cost_usd("my-local-model", 10, 10, 0), None);
//! ```

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;

/// The price of one model family, in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct ModelPrice {
    /// Uncached input (prompt) tokens.
    pub input: f64,
    /// Output (completion) tokens, reasoning included.
    pub output: f64,
    /// Input tokens read from the provider's prompt cache; `None`: no discount.
    #[serde(default)]
    pub cached_input: Option<f64>,
}

#[derive(Deserialize)]
struct PriceFile {
    models: HashMap<String, ModelPrice>,
}

const PRICES_JSON: &str = include_str!("../data/prices.json");

/// Families sorted longest first, so the first match is the most specific.
static TABLE: LazyLock<Vec<(String, ModelPrice)>> = LazyLock::new(|| {
    // A broken data file means "no prices", never a panic; a test guards the file.
    let mut table: Vec<(String, ModelPrice)> = serde_json::from_str::<PriceFile>(PRICES_JSON)
        .map(|file| file.models.into_iter().collect())
        .unwrap_or_default();
    table.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
    table
});

/// Provider prefixes dropped before matching (`openai/gpt-4o`, `models/gemini-2.5-pro`).
const PROVIDER_PREFIXES: &[&str] = &[
    "openai/",
    "anthropic/",
    "google/",
    "gemini/",
    "models/",
    "vertex_ai/",
    "azure/",
    "anthropic.",
    "us.anthropic.",
    "eu.anthropic.",
];

/// The family name and price a model name matches, if any.
///
/// ```
/// let (family, _) = honeyhive_model::price::lookup("Claude-Sonnet-4-20250514").unwrap();
/// assert_eq!(family, "claude-sonnet-4");
/// ```
pub fn lookup(model: &str) -> Option<(&'static str, ModelPrice)> {
    let mut name = model.trim().to_ascii_lowercase();
    while let Some(prefix) = PROVIDER_PREFIXES.iter().find(|p| name.starts_with(*p)) {
        name.drain(..prefix.len());
    }
    TABLE
        .iter()
        .find(|(family, _)| {
            name.strip_prefix(family.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['-', '@', ':', '_', '/']))
        })
        .map(|(family, price)| (family.as_str(), *price))
}

/// The cost in USD of a call, or `None` if the model is not in the price table.
///
/// `input_tokens` counts all input tokens *including* the `cached_input_tokens`
/// read from the prompt cache (the OTel `gen_ai.usage.input_tokens` meaning);
/// cached tokens are billed at the family's cache-read price.
pub fn cost_usd(
    model: &str,
    input_tokens: u64,
    output_tokens: u64,
    cached_input_tokens: u64,
) -> Option<f64> {
    let (_, price) = lookup(model)?;
    let cached = cached_input_tokens.min(input_tokens);
    let uncached = input_tokens - cached;
    let cached_price = price.cached_input.unwrap_or(price.input);
    let micro_dollars = uncached as f64 * price.input
        + cached as f64 * cached_price
        + output_tokens as f64 * price.output;
    Some(micro_dollars / 1_000_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_file_parses_and_is_sane() {
        let file: PriceFile =
            serde_json::from_str(PRICES_JSON).expect("data/prices.json must parse");
        assert!(
            file.models.len() >= 30,
            "expected the OpenAI, Anthropic and Gemini families"
        );
        for (family, price) in &file.models {
            assert_eq!(
                family,
                &family.to_ascii_lowercase(),
                "families are lower-case"
            );
            assert!(
                price.input >= 0.0 && price.output >= 0.0,
                "{family} has a negative price"
            );
            if let Some(cached) = price.cached_input {
                assert!(
                    cached <= price.input,
                    "{family}: cache reads cost more than input"
                );
            }
        }
        assert_eq!(TABLE.len(), file.models.len());
    }

    #[test]
    fn dated_and_suffixed_names_match_their_family() {
        let cases = [
            ("gpt-4o", "gpt-4o"),
            ("gpt-4o-2024-08-06", "gpt-4o"),
            ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
            ("gpt-4-0613", "gpt-4"),
            ("gpt-4.1-2025-04-14", "gpt-4.1"),
            ("openai/gpt-5-mini", "gpt-5-mini"),
            ("o3-mini-2025-01-31", "o3-mini"),
            ("claude-sonnet-4-20250514", "claude-sonnet-4"),
            ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
            ("claude-3-5-sonnet-latest", "claude-3-5-sonnet"),
            ("anthropic.claude-3-haiku-20240307-v1:0", "claude-3-haiku"),
            ("claude-opus-4-1@20250805", "claude-opus-4-1"),
            ("models/gemini-2.5-pro", "gemini-2.5-pro"),
            ("gemini-2.5-flash-preview-05-20", "gemini-2.5-flash"),
            ("gemini-2.5-flash-lite", "gemini-2.5-flash-lite"),
            ("GPT-4O", "gpt-4o"),
        ];
        for (name, family) in cases {
            assert_eq!(lookup(name).map(|(f, _)| f), Some(family), "{name}");
        }
    }

    #[test]
    fn names_that_only_share_a_prefix_do_not_match() {
        for name in [
            "gpt-4oo",
            "o1x",
            "claude",
            "gemini",
            "llama-3-70b",
            "",
            "  ",
        ] {
            assert_eq!(lookup(name), None, "{name}");
        }
        // gpt-4o is its own family, not gpt-4 with a suffix.
        assert_eq!(lookup("gpt-4o").map(|(_, p)| p.input), Some(2.5));
    }

    #[test]
    fn cached_tokens_are_billed_at_the_cache_price() {
        // claude-sonnet-4: $3 input, $0.30 cache read, $15 output per 1M.
        let cost = cost_usd("claude-sonnet-4-20250514", 1_000_000, 0, 400_000).unwrap();
        assert!((cost - (0.6 * 3.0 + 0.4 * 0.3)).abs() < 1e-9, "{cost}");
        // More cached than input is clamped: all input billed as cached.
        let clamped = cost_usd("gpt-4o", 100, 0, 1_000).unwrap();
        assert!((clamped - 100.0 * 1.25 / 1e6).abs() < 1e-12, "{clamped}");
        // No cache discount known: cached tokens cost full input price.
        let plain = cost_usd("gpt-4", 1_000, 0, 500).unwrap();
        assert!((plain - 1_000.0 * 30.0 / 1e6).abs() < 1e-12, "{plain}");
    }

    #[test]
    fn output_tokens_use_the_output_price() {
        let cost = cost_usd("gemini-2.5-flash", 0, 2_000_000, 0).unwrap();
        assert!((cost - 5.0).abs() < 1e-9, "{cost}");
        assert_eq!(cost_usd("gpt-4o-mini", 0, 0, 0), Some(0.0));
    }
}
