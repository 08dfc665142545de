//! Datasets and datapoints as the schema shows them. Times are ms since the epoch.

use async_graphql::SimpleObject;
use serde_json::Value;

use crate::store::{Datapoint, Dataset};

/// A named, ordered list of datapoints.
#[derive(SimpleObject)]
#[graphql(name = "Dataset")]
pub(super) struct DatasetObject {
    /// The dataset's id.
    id: String,
    /// Its name.
    name: String,
    /// Free text.
    description: Option<String>,
    /// Its datapoints, in order.
    datapoint_ids: Vec<String>,
    /// Free-form metadata.
    metadata: Value,
    /// Created, ms since the epoch.
    created_at: f64,
    /// Last updated, ms since the epoch.
    updated_at: f64,
}

impl From<Dataset> for DatasetObject {
    fn from(d: Dataset) -> DatasetObject {
        DatasetObject {
            id: d.id,
            name: d.name,
            description: d.description,
            datapoint_ids: d.datapoint_ids,
            metadata: Value::Object(d.metadata),
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// One input to evaluate with, and what it should give.
#[derive(SimpleObject)]
#[graphql(name = "Datapoint")]
pub(super) struct DatapointObject {
    /// The datapoint's id.
    id: String,
    /// Inputs to the function under test.
    inputs: Value,
    /// Chat history.
    history: Vec<Value>,
    /// Expected outputs.
    ground_truth: Value,
    /// Free-form metadata.
    metadata: Value,
    /// The event it was made from.
    linked_event: Option<String>,
    /// The datasets it belongs to.
    linked_datasets: Vec<String>,
    /// Created, ms since the epoch.
    created_at: f64,
    /// Last updated, ms since the epoch.
    updated_at: f64,
}

impl From<Datapoint> for DatapointObject {
    fn from(d: Datapoint) -> DatapointObject {
        DatapointObject {
            id: d.id,
            inputs: Value::Object(d.inputs),
            history: d.history,
            ground_truth: Value::Object(d.ground_truth),
            metadata: Value::Object(d.metadata),
            linked_event: d.linked_event,
            linked_datasets: d.linked_datasets,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}
