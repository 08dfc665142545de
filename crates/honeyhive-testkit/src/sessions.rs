//! Reading a session back as the REST API answers it.

use serde_json::Value;

/// Every node of a session tree (`GET /v1/sessions/{id}`: the session event with its
/// `children`, nested), depth first, the session event first.
///
/// ```
/// use serde_json::json;
///
/// let tree = json!({"event_name": "s", "children": [
///     {"event_name": "a", "children": [{"event_name": "b", "children": []}]},
///     {"event_name": "c", "children": []}
/// ]});
/// let names: Vec<_> = honeyhive_testkit::sessions::tree_nodes(&tree)
///     .iter()
///     .map(|e| e["event_name"].as_str().unwrap())
///     .collect();
/// assert_eq!(names, ["s", "a", "b", "c"]);
/// ```
pub fn tree_nodes(tree: &Value) -> Vec<&Value> {
    let mut out = vec![tree];
    for child in tree["children"].as_array().into_iter().flatten() {
        out.extend(tree_nodes(child));
    }
    out
}
