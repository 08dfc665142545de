//! Datasets and datapoints as the REST API answers them (`/v1/datasets`,
//! `/v1/datapoints`): the spec's `Dataset` and `Datapoint`, times as ISO 8601
//! text.
//!
//! Reading one is lenient where the spec allows `null` (`ground_truth`,
//! `metadata`: read as empty) and where a field is left out (its default).
//!
//! ```
//! use honeyhive_model::dataset::DatapointObject;
//! let dp: DatapointObject = serde_json::from_value(serde_json::json!({
//!     "id": "d1", "inputs": {"question": "abc"}, "ground_truth": null, "linked_event": null
//! })).unwrap();
//! assert_eq!(dp.inputs["question"], "abc");
//! assert!(dp.ground_truth.is_empty());
//! ```

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// A dataset: a named, ordered list of datapoint ids.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DatasetObject {
    /// The dataset id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Member datapoint ids, in order.
    pub datapoints: Vec<String>,
    /// Free-form metadata.
    #[serde(deserialize_with = "null_is_empty")]
    pub metadata: Map<String, Value>,
    /// Creation time, ISO 8601.
    pub created_at: String,
    /// Last update time, ISO 8601.
    pub updated_at: String,
}

/// One datapoint: the inputs of a function under test, its expected outputs
/// and where it came from.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DatapointObject {
    /// The datapoint id.
    pub id: String,
    /// Inputs to the function under test.
    pub inputs: Map<String, Value>,
    /// Chat history.
    pub history: Vec<Value>,
    /// Expected outputs.
    #[serde(deserialize_with = "null_is_empty")]
    pub ground_truth: Map<String, Value>,
    /// Free-form metadata.
    #[serde(deserialize_with = "null_is_empty")]
    pub metadata: Map<String, Value>,
    /// The event this datapoint was made from.
    pub linked_event: Option<String>,
    /// Datasets this datapoint belongs to.
    pub linked_datasets: Vec<String>,
    /// Creation time, ISO 8601.
    pub created_at: String,
    /// Last update time, ISO 8601.
    pub updated_at: String,
}

/// An object the spec lets be `null`, read as empty then.
fn null_is_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Map<String, Value>, D::Error> {
    Option::<Map<String, Value>>::deserialize(d).map(Option::unwrap_or_default)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn objects_serialize_in_the_order_the_api_answers() {
        let dataset = DatasetObject {
            id: "ds".into(),
            name: "n".into(),
            ..DatasetObject::default()
        };
        assert_eq!(
            serde_json::to_string(&dataset).unwrap(),
            r#"{"id":"ds","name":"n","description":null,"datapoints":[],"metadata":{},"created_at":"","updated_at":""}"#
        );
        assert_eq!(
            serde_json::to_string(&DatapointObject::default()).unwrap(),
            r#"{"id":"","inputs":{},"history":[],"ground_truth":{},"metadata":{},"linked_event":null,"linked_datasets":[],"created_at":"","updated_at":""}"#
        );
    }

    #[test]
    fn nullable_objects_read_as_empty_and_others_still_must_be_objects() {
        let dataset: DatasetObject =
            serde_json::from_value(json!({"id": "d", "metadata": null})).unwrap();
        assert!(dataset.metadata.is_empty());
        assert!(serde_json::from_value::<DatapointObject>(json!({"ground_truth": 3})).is_err());
    }
}
