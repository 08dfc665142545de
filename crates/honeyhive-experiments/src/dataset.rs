//! Datapoints, where they come from (inline, JSONL, CSV, the server) and the Python
//! SDK's `EXT-` id scheme for datasets that are not stored on the server.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use honeyhive_model::dataset::DatapointObject;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::pyjson::{Item, write_object};
use crate::Error;
use crate::error::RequestError;

/// One row of a dataset: what the function under test gets.
///
/// Serialises like the Python SDK's datapoint dicts (`inputs`, optional
/// `ground_truth` and `id`, plus any extra keys), which is also what inline
/// `EXT-` ids are hashed from.
///
/// ```
/// use honeyhive_experiments::Datapoint;
/// use serde_json::json;
///
/// let dp = Datapoint::new(json!({"question": "abc"})).ground_truth(json!({"answer": "ABC"}));
/// assert_eq!(dp.inputs["question"], "abc");
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Datapoint {
    /// The function's inputs (usually an object).
    #[serde(default)]
    pub inputs: Value,
    /// The expected answer, handed to the evaluators and stored as session feedback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ground_truth: Option<Value>,
    /// A caller-chosen id; inline datasets then use `EXT-<id>` instead of a hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Any other keys of the row (they take part in the `EXT-` hash, as in Python).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Datapoint {
    /// A datapoint with these inputs and nothing else.
    pub fn new(inputs: Value) -> Datapoint {
        Datapoint {
            inputs,
            ..Datapoint::default()
        }
    }

    /// Sets the ground truth.
    #[must_use]
    pub fn ground_truth(mut self, ground_truth: Value) -> Datapoint {
        self.ground_truth = Some(ground_truth);
        self
    }

    /// Sets a caller-chosen id.
    #[must_use]
    pub fn id(mut self, id: impl Into<String>) -> Datapoint {
        self.id = Some(id.into());
        self
    }

    /// Appends `json.dumps(d, sort_keys=True)` of the Python dict `d` this
    /// datapoint stands for (its serde form) to `out`, without building it.
    fn write_python_dict(&self, out: &mut String) {
        let mut entries: Vec<(&str, Item<'_>)> = Vec::with_capacity(3 + self.extra.len());
        entries.push(("inputs", Item::Json(&self.inputs)));
        if let Some(ground_truth) = &self.ground_truth {
            entries.push(("ground_truth", Item::Json(ground_truth)));
        }
        if let Some(id) = &self.id {
            entries.push(("id", Item::Text(id)));
        }
        for (key, value) in &self.extra {
            // A flattened key that repeats a field overrides it, as in the dict.
            match entries.iter_mut().find(|(k, _)| *k == key.as_str()) {
                Some(entry) => entry.1 = Item::Json(value),
                None => entries.push((key, Item::Json(value))),
            }
        }
        write_object(out, entries);
    }

    /// `dp.get("id") or dp.get("datapoint_id")` in the Python SDK.
    fn custom_id(&self) -> Option<&str> {
        self.id.as_deref().filter(|s| !s.is_empty()).or_else(|| {
            self.extra
                .get("datapoint_id")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        })
    }
}

/// Where an experiment's datapoints come from.
///
/// ```
/// use honeyhive_experiments::{Dataset, Datapoint};
/// let inline = Dataset::from(vec![Datapoint::new(serde_json::json!({"q": 1}))]);
/// let file = Dataset::jsonl("eval.jsonl");
/// let stored = Dataset::server("6639e4f2a1b2c3d4e5f60718");
/// # let _ = (inline, file, stored);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Dataset {
    /// Datapoints in memory; ids follow the Python SDK's `EXT-` scheme.
    Inline(Vec<Datapoint>),
    /// A JSON Lines file, one datapoint object per line (`inputs`, `ground_truth`,
    /// `id`); a line without `inputs` is taken whole as the inputs. `EXT-` ids.
    Jsonl(PathBuf),
    /// A CSV file with a header row. `id` → the id, `ground_truth` → the ground
    /// truth (parsed as JSON when it is valid JSON), `ground_truth.<key>` and
    /// `inputs.<key>` → fields of those objects, any other column → an input field.
    /// Cells are strings. `EXT-` ids.
    Csv(PathBuf),
    /// A dataset stored on the server (`GET /v1/datapoints?dataset_id=...`, page
    /// after page); its own datapoint ids are used.
    Server(String),
}

impl From<Vec<Datapoint>> for Dataset {
    fn from(datapoints: Vec<Datapoint>) -> Dataset {
        Dataset::Inline(datapoints)
    }
}

impl Dataset {
    /// A JSON Lines file.
    pub fn jsonl(path: impl Into<PathBuf>) -> Dataset {
        Dataset::Jsonl(path.into())
    }

    /// A CSV file.
    pub fn csv(path: impl Into<PathBuf>) -> Dataset {
        Dataset::Csv(path.into())
    }

    /// A dataset stored on the server.
    pub fn server(dataset_id: impl Into<String>) -> Dataset {
        Dataset::Server(dataset_id.into())
    }
}

/// A dataset ready to run: datapoints and their ids.
#[derive(Debug, Clone)]
pub(crate) struct PreparedDataset {
    pub(crate) dataset_id: String,
    pub(crate) datapoints: Vec<Datapoint>,
    pub(crate) datapoint_ids: Vec<String>,
}

impl PreparedDataset {
    /// Whether the dataset lives outside the server (`EXT-` id).
    pub(crate) fn is_external(&self) -> bool {
        self.dataset_id.starts_with("EXT-")
    }

    /// Ids for an external dataset, computed exactly like the Python SDK's
    /// `prepare_external_dataset`.
    ///
    /// Each datapoint's text is written once: it feeds both its own id and the
    /// dataset's, which hashes the list of them (`json.dumps(datapoints, ...)`).
    pub(crate) fn external(datapoints: Vec<Datapoint>) -> PreparedDataset {
        let mut whole = Sha256::new();
        whole.update(b"[");
        let mut text = String::new();
        let mut datapoint_ids = Vec::with_capacity(datapoints.len());
        for (index, dp) in datapoints.iter().enumerate() {
            text.clear();
            dp.write_python_dict(&mut text);
            if index > 0 {
                whole.update(b", ");
            }
            whole.update(text.as_bytes());
            datapoint_ids.push(match dp.custom_id() {
                Some(id) => ext_prefixed(id),
                None => {
                    let _ = write!(text, "{index}");
                    format!("EXT-{}", short_hex(&Sha256::digest(text.as_bytes())))
                }
            });
        }
        whole.update(b"]");
        PreparedDataset {
            dataset_id: format!("EXT-{}", short_hex(&whole.finalize())),
            datapoints,
            datapoint_ids,
        }
    }
}

fn ext_prefixed(id: &str) -> String {
    if id.starts_with("EXT-") {
        id.to_string()
    } else {
        format!("EXT-{id}")
    }
}

/// The first 8 bytes of a SHA-256 digest in hex, as the Python SDK's ids use.
fn short_hex(digest: &[u8]) -> String {
    hex::encode(&digest[..8])
}

/// The `EXT-` ids the Python SDK gives an inline dataset: `(dataset_id, datapoint_ids)`.
///
/// ```
/// use honeyhive_experiments::{external_ids, Datapoint};
/// use serde_json::json;
///
/// let (dataset_id, ids) = external_ids(&[
///     Datapoint::new(json!({"question": "abc"})).ground_truth(json!({"answer": "ABC"})),
/// ]);
/// assert!(dataset_id.starts_with("EXT-") && ids[0].starts_with("EXT-"));
/// ```
pub fn external_ids(datapoints: &[Datapoint]) -> (String, Vec<String>) {
    let prepared = PreparedDataset::external(datapoints.to_vec());
    (prepared.dataset_id, prepared.datapoint_ids)
}

/// Reads a JSON Lines dataset.
pub(crate) fn read_jsonl(path: &Path) -> crate::Result<Vec<Datapoint>> {
    let text = read_file(path)?;
    let mut datapoints = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let invalid = |reason: String| Error::InvalidDataset {
            path: path.to_path_buf(),
            line: index + 1,
            reason,
        };
        let value: Value = serde_json::from_str(line).map_err(|e| invalid(e.to_string()))?;
        let Value::Object(map) = value else {
            return Err(invalid("a line must be a json object".into()));
        };
        datapoints.push(datapoint_from_object(map).map_err(invalid)?);
    }
    Ok(datapoints)
}

fn datapoint_from_object(mut map: Map<String, Value>) -> Result<Datapoint, String> {
    if !map.contains_key("inputs") {
        // A bare row: everything but the reserved keys is the inputs.
        let ground_truth = map.remove("ground_truth");
        let id = map.remove("id");
        let mut wrapped = Map::new();
        wrapped.insert("inputs".into(), Value::Object(map));
        if let Some(gt) = ground_truth {
            wrapped.insert("ground_truth".into(), gt);
        }
        if let Some(id) = id {
            wrapped.insert("id".into(), id);
        }
        map = wrapped;
    }
    if let Some(id) = map.get("id")
        && !id.is_string()
        && !id.is_null()
    {
        let id = id.to_string();
        map.insert("id".into(), Value::String(id));
    }
    serde_json::from_value(Value::Object(map)).map_err(|e| e.to_string())
}

/// Reads a CSV dataset (RFC 4180: quoted fields, doubled quotes, newlines in quotes).
pub(crate) fn read_csv(path: &Path) -> crate::Result<Vec<Datapoint>> {
    let text = read_file(path)?;
    let rows = parse_csv(&text).map_err(|(line, reason)| Error::InvalidDataset {
        path: path.to_path_buf(),
        line,
        reason,
    })?;
    let mut rows = rows.into_iter();
    let Some((_, header)) = rows.next() else {
        return Ok(Vec::new());
    };
    let mut datapoints = Vec::new();
    for (line, row) in rows {
        if row.len() == 1 && row[0].is_empty() {
            continue;
        }
        if row.len() != header.len() {
            return Err(Error::InvalidDataset {
                path: path.to_path_buf(),
                line,
                reason: format!("{} fields, the header has {}", row.len(), header.len()),
            });
        }
        let mut inputs = Map::new();
        let mut ground_truth: Option<Value> = None;
        let mut dp = Datapoint::default();
        for (column, cell) in header.iter().zip(row) {
            if column == "id" {
                dp.id = Some(cell).filter(|s| !s.is_empty());
            } else if column == "ground_truth" {
                ground_truth = Some(serde_json::from_str(&cell).unwrap_or(Value::String(cell)));
            } else if let Some(key) = column.strip_prefix("ground_truth.") {
                let gt = ground_truth.get_or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(obj) = gt {
                    obj.insert(key.to_string(), Value::String(cell));
                }
            } else {
                let key = column.strip_prefix("inputs.").unwrap_or(column);
                inputs.insert(key.to_string(), Value::String(cell));
            }
        }
        dp.inputs = Value::Object(inputs);
        dp.ground_truth = ground_truth;
        datapoints.push(dp);
    }
    Ok(datapoints)
}

/// Rows with the 1-based line each starts on.
type CsvRows = Vec<(usize, Vec<String>)>;

fn parse_csv(text: &str) -> Result<CsvRows, (usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut line = 1;
    let mut row_line = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => in_quotes = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push((row_line, std::mem::take(&mut row)));
                line += 1;
                row_line = line;
            }
            _ => field.push(c),
        }
    }
    if in_quotes {
        return Err((row_line, "unterminated quoted field".into()));
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push((row_line, row));
    }
    Ok(rows)
}

fn read_file(path: &Path) -> crate::Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::DatasetFile {
        path: path.to_path_buf(),
        source,
    })
}

/// Rows asked per `GET /v1/datapoints` page: the server's largest page.
pub(crate) const SERVER_PAGE_SIZE: u64 = 7500;
/// Most pages read for one dataset, so a server that always says "more" cannot
/// keep the loop going.
const MAX_SERVER_PAGES: u64 = 100_000;

/// One page of `GET /v1/datapoints`.
#[derive(Deserialize)]
struct DatapointPage {
    datapoints: Vec<DatapointObject>,
    #[serde(default)]
    pagination: Option<Pagination>,
}

#[derive(Deserialize)]
struct Pagination {
    #[serde(default)]
    has_next: bool,
}

/// Every datapoint of a paged `GET /v1/datapoints`: `fetch(page)` gets the
/// 1-based page, and pages are read until one says `pagination.has_next` is not
/// true (a server that does not page answers everything on the first). A page
/// that is not a list of datapoints is an error.
pub(crate) fn server_rows(
    mut fetch: impl FnMut(u64) -> Result<Value, RequestError>,
) -> Result<Vec<DatapointObject>, RequestError> {
    let mut rows = Vec::new();
    for page in 1..=MAX_SERVER_PAGES {
        let body: DatapointPage = serde_json::from_value(fetch(page)?)
            .map_err(|e| RequestError::bad_response("/v1/datapoints", e.to_string()))?;
        let fetched = body.datapoints.len();
        rows.extend(body.datapoints);
        let has_next = body.pagination.is_some_and(|p| p.has_next);
        if !has_next || fetched == 0 {
            break;
        }
    }
    Ok(rows)
}

/// Turns a server datapoint (`GET /v1/datapoints`) into a [`Datapoint`] and its
/// id; `None` for one without an id. Its ground truth is always an object (the
/// server answers `{}` for none), handed to evaluators as it is.
pub(crate) fn from_server(datapoint: DatapointObject) -> Option<(String, Datapoint)> {
    if datapoint.id.is_empty() {
        return None;
    }
    let dp = Datapoint {
        inputs: Value::Object(datapoint.inputs),
        ground_truth: Some(Value::Object(datapoint.ground_truth)),
        id: Some(datapoint.id.clone()),
        extra: Map::new(),
    };
    Some((datapoint.id, dp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pyjson::write_value;
    use serde_json::json;

    fn fixture_dataset() -> Vec<Datapoint> {
        vec![
            Datapoint::new(json!({"question": "abc"})).ground_truth(json!({"answer": "ABC"})),
            Datapoint::new(json!({"question": "hello"})).ground_truth(json!({"answer": "HELLO!"})),
            Datapoint::new(json!({"question": "x"})).ground_truth(json!({"answer": "X"})),
        ]
    }

    #[test]
    fn server_rows_follow_the_pages_until_the_last() {
        let pages = [
            json!({"datapoints": [{"id": "a"}, {"id": "b"}], "pagination": {"has_next": true}}),
            json!({"datapoints": [{"id": "c"}], "pagination": {"has_next": false}}),
            json!({"datapoints": [{"id": "never read"}]}),
        ];
        let mut asked = Vec::new();
        let rows = server_rows(|page| {
            asked.push(page);
            Ok(pages[usize::try_from(page - 1).unwrap()].clone())
        })
        .unwrap();
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert_eq!(asked, [1, 2]);

        // A server without paging answers once.
        let once = server_rows(|_| Ok(json!({"datapoints": [{"id": "x"}]}))).unwrap();
        assert_eq!(once.len(), 1);
        let bad = server_rows(|_| Ok(json!({"rows": []}))).unwrap_err();
        assert_eq!(bad.code(), "HH-E307");
    }

    #[test]
    fn ext_ids_match_the_python_wire_capture() {
        // From shared/fixtures/honeyhive-wire/02_evaluate_inline_dataset.json.
        let (dataset_id, ids) = external_ids(&fixture_dataset());
        assert_eq!(dataset_id, "EXT-9151de35db353598");
        assert_eq!(
            ids,
            [
                "EXT-c526555695cbd730",
                "EXT-10c83badc3bc68b3",
                "EXT-f8e1295600e97630"
            ]
        );
    }

    #[test]
    fn the_dict_text_is_json_dumps_of_the_serde_form() {
        let mut with_extra = Datapoint::new(json!({"z": [1.5, null], "a": "é"})).id("");
        with_extra.extra.insert("datapoint_id".into(), json!("dp"));
        with_extra
            .extra
            .insert("b".into(), json!({"y": true, "x": 1}));
        let mut overriding = Datapoint::new(json!({"q": 1})).ground_truth(json!("gt"));
        overriding.extra.insert("inputs".into(), json!("replaced"));
        overriding.extra.insert("ground_truth".into(), json!(null));
        for dp in [
            Datapoint::new(json!({"question": "abc"})),
            Datapoint::new(json!(null))
                .ground_truth(json!([1, 2]))
                .id("x\"y"),
            with_extra,
            overriding,
        ] {
            let mut expected = String::new();
            write_value(&mut expected, &serde_json::to_value(&dp).unwrap());
            let mut text = String::new();
            dp.write_python_dict(&mut text);
            assert_eq!(text, expected);
        }
    }

    #[test]
    fn custom_ids_get_the_ext_prefix_once() {
        let dps = vec![
            Datapoint::new(json!({})).id("dp-1"),
            Datapoint::new(json!({})).id("EXT-dp-2"),
        ];
        let (_, ids) = external_ids(&dps);
        assert_eq!(ids, ["EXT-dp-1", "EXT-dp-2"]);
    }

    #[test]
    fn csv_parser_handles_quotes_and_newlines() {
        let rows = parse_csv("a,b\r\n\"x, \"\"y\"\"\",\"multi\nline\"\n1,2").unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1].1, vec!["x, \"y\"", "multi\nline"]);
        assert_eq!(rows[2], (4, vec!["1".to_string(), "2".to_string()]));
        assert!(parse_csv("a\n\"open").is_err());
    }

    #[test]
    fn bare_jsonl_rows_become_inputs() {
        let dp = datapoint_from_object(
            json!({"q": "hi", "ground_truth": "HI", "id": 7})
                .as_object()
                .cloned()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(dp.inputs, json!({"q": "hi"}));
        assert_eq!(dp.ground_truth, Some(json!("HI")));
        assert_eq!(dp.id.as_deref(), Some("7"));
    }
}
