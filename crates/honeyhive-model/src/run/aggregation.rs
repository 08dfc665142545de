//! [`Aggregation`]: how per-datapoint metric values fold into one number.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ModelError;

/// How per-datapoint metric values are folded into one number. The wire
/// names are `average`, `min`, `max`, `median`, `p90`, `p95`, `p99`, `sum` and
/// `count`; reading one also takes `avg`, `mean` and `p50`, in any case.
///
/// ```
/// use honeyhive_model::run::Aggregation;
/// assert_eq!("P90".parse::<Aggregation>(), Ok(Aggregation::P90));
/// assert_eq!(Aggregation::default().as_str(), "average");
/// assert_eq!(serde_json::to_value(Aggregation::Median).unwrap(), "median");
/// assert!("mode".parse::<Aggregation>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggregation {
    /// Arithmetic mean (booleans count as 1/0: the pass rate); the default.
    #[default]
    #[serde(alias = "avg", alias = "mean")]
    Average,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// 50th percentile.
    #[serde(alias = "p50")]
    Median,
    /// 90th percentile.
    P90,
    /// 95th percentile.
    P95,
    /// 99th percentile.
    P99,
    /// Sum.
    Sum,
    /// Number of values.
    Count,
}

impl Aggregation {
    /// Every aggregation.
    pub const ALL: [Aggregation; 9] = [
        Aggregation::Average,
        Aggregation::Min,
        Aggregation::Max,
        Aggregation::Median,
        Aggregation::P90,
        Aggregation::P95,
        Aggregation::P99,
        Aggregation::Sum,
        Aggregation::Count,
    ];

    /// Reads an `aggregate_function` parameter: absent or blank means the
    /// default, [`Aggregation::Average`].
    ///
    /// ```
    /// use honeyhive_model::run::Aggregation;
    /// assert_eq!(Aggregation::parse(Some("p90")), Ok(Aggregation::P90));
    /// assert_eq!(Aggregation::parse(None), Ok(Aggregation::Average));
    /// assert_eq!(Aggregation::parse(Some(" ")), Ok(Aggregation::Average));
    /// assert!(Aggregation::parse(Some("mode")).is_err());
    /// ```
    pub fn parse(s: Option<&str>) -> Result<Aggregation, ModelError> {
        match s.map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(Aggregation::default()),
            Some(s) => s.parse(),
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Aggregation::Average => "average",
            Aggregation::Min => "min",
            Aggregation::Max => "max",
            Aggregation::Median => "median",
            Aggregation::P90 => "p90",
            Aggregation::P95 => "p95",
            Aggregation::P99 => "p99",
            Aggregation::Sum => "sum",
            Aggregation::Count => "count",
        }
    }

    /// Folds `values`; `None` when there are none. Percentiles interpolate linearly
    /// between the closest ranks (numpy's default).
    ///
    /// ```
    /// use honeyhive_model::run::Aggregation;
    /// assert_eq!(Aggregation::Median.apply(&[3.0, 1.0, 2.0, 10.0]), Some(2.5));
    /// assert_eq!(Aggregation::P90.apply(&[1.0, 2.0, 3.0, 4.0, 5.0]), Some(4.6));
    /// assert_eq!(Aggregation::Average.apply(&[]), None);
    /// ```
    pub fn apply(self, values: &[f64]) -> Option<f64> {
        if values.is_empty() {
            return None;
        }
        let n = values.len() as f64;
        Some(match self {
            Aggregation::Average => values.iter().sum::<f64>() / n,
            Aggregation::Sum => values.iter().sum(),
            Aggregation::Count => n,
            Aggregation::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
            Aggregation::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            Aggregation::Median => percentile(values, 0.5),
            Aggregation::P90 => percentile(values, 0.9),
            Aggregation::P95 => percentile(values, 0.95),
            Aggregation::P99 => percentile(values, 0.99),
        })
    }
}

impl fmt::Display for Aggregation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Reads a wire name or an alias (`avg`, `mean`, `p50`), in any case.
impl FromStr for Aggregation {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Aggregation, ModelError> {
        let s = s.trim().to_ascii_lowercase();
        Ok(match s.as_str() {
            "average" | "avg" | "mean" => Aggregation::Average,
            "min" => Aggregation::Min,
            "max" => Aggregation::Max,
            "median" | "p50" => Aggregation::Median,
            "p90" => Aggregation::P90,
            "p95" => Aggregation::P95,
            "p99" => Aggregation::P99,
            "sum" => Aggregation::Sum,
            "count" => Aggregation::Count,
            _ => return Err(ModelError::UnknownAggregation(s)),
        })
    }
}

fn percentile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    let (a, b) = (sorted[lo], sorted[hi.min(sorted.len() - 1)]);
    a + (b - a) * (rank - lo as f64)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn aggregations_round_trip_through_their_wire_names() {
        for aggregation in Aggregation::ALL {
            assert_eq!(aggregation.as_str().parse::<Aggregation>(), Ok(aggregation));
            assert_eq!(
                serde_json::to_value(aggregation).unwrap(),
                aggregation.as_str()
            );
            let read: Aggregation = serde_json::from_value(json!(aggregation.as_str())).unwrap();
            assert_eq!(read, aggregation);
        }
        let alias: Aggregation = serde_json::from_value(json!("p50")).unwrap();
        assert_eq!(alias, Aggregation::Median);
    }
}
