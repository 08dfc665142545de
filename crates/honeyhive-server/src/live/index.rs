//! Which subscribers an event can match, found without testing all of them.
//!
//! A subscriber following "field is some text" (a shard, a session, a user)
//! can only match events whose field holds that very text, so the fan-out
//! looks the event's value up instead of testing every such subscriber:
//! with a hundred subscribers each following its own share, an event costs
//! one lookup and one test, not a hundred tests. Every other subscriber is
//! tested as before. A candidate is still tested with all its filters.

use std::collections::HashMap;
use std::sync::Arc;

use honeyhive_model::Event;
use honeyhive_model::filter::{FieldPath, FilterSet, FilterValue, Operator};
use serde_json::Value;

use super::Subscriber;

/// One project's subscribers, by the text their first `is` filter wants.
#[derive(Default)]
pub(super) struct ProjectIndex {
    /// Subscribers without an `is` filter on text: tested for every event.
    unindexed: Vec<usize>,
    /// Per field, the subscribers (by place) whose first `is` filter on text
    /// names that field, by the text it wants.
    by_field: Vec<(FieldPath, HashMap<String, Vec<usize>>)>,
}

/// The field and text a subscriber's events must hold, if its filters say one.
fn equality_key(filters: &FilterSet) -> Option<(&FieldPath, &str)> {
    filters
        .filters
        .iter()
        .find_map(|f| match (&f.operator, &f.value) {
            (Operator::Is, FilterValue::Text(text)) => Some((&f.field, text.as_str())),
            _ => None,
        })
}

impl ProjectIndex {
    /// The index of `subscribers` (places in that slice).
    pub(super) fn of(subscribers: &[Arc<Subscriber>]) -> ProjectIndex {
        let mut index = ProjectIndex::default();
        for (place, subscriber) in subscribers.iter().enumerate() {
            let Some((field, text)) = equality_key(&subscriber.filters) else {
                index.unindexed.push(place);
                continue;
            };
            let at = match index.by_field.iter().position(|(f, _)| f == field) {
                Some(at) => at,
                None => {
                    index.by_field.push((field.clone(), HashMap::new()));
                    index.by_field.len() - 1
                }
            };
            index.by_field[at]
                .1
                .entry(text.to_string())
                .or_default()
                .push(place);
        }
        index
    }

    /// Fills `matching` with the places of the subscribers whose filters
    /// `event` matches.
    pub(super) fn matching(
        &self,
        subscribers: &[Arc<Subscriber>],
        event: &Event,
        matching: &mut Vec<usize>,
    ) {
        matching.clear();
        let matches = |place: &usize| {
            subscribers
                .get(*place)
                .is_some_and(|s| s.filters.matches(event))
        };
        matching.extend(self.unindexed.iter().filter(|p| matches(p)));
        for (field, by_value) in &self.by_field {
            let Some(Value::String(text)) = field.value_in(event) else {
                continue;
            };
            if let Some(candidates) = by_value.get(&text) {
                matching.extend(candidates.iter().filter(|p| matches(p)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use honeyhive_model::filter::FilterSet;
    use serde_json::json;

    use super::*;
    use crate::live::LiveLimits;

    fn subscriber(filters: serde_json::Value) -> Arc<Subscriber> {
        let filters = FilterSet::from_json(&filters).expect("filters");
        Arc::new(Subscriber::new(0, filters, LiveLimits::default()))
    }

    fn event(shard: &str, name: &str) -> Event {
        let mut e = Event {
            event_name: name.into(),
            ..Event::default()
        };
        e.metadata.insert("shard".into(), json!(shard));
        e
    }

    #[test]
    fn an_event_reaches_exactly_the_subscribers_its_filters_match() {
        let shard = |s: &str| json!([{"field": "metadata.shard", "operator": "is", "value": s, "type": "string"}]);
        let subscribers = vec![
            subscriber(shard("a")),
            subscriber(shard("b")),
            subscriber(json!([])),
            subscriber(json!([
                {"field": "metadata.shard", "operator": "is", "value": "a", "type": "string"},
                {"field": "event_name", "operator": "is", "value": "keep", "type": "string"}
            ])),
            subscriber(
                json!([{"field": "event_name", "operator": "contains", "value": "ee", "type": "string"}]),
            ),
            subscriber(shard("a")),
        ];
        let index = ProjectIndex::of(&subscribers);
        let mut matching = Vec::new();
        for e in [
            event("a", "keep"),
            event("b", "drop"),
            event("c", "x"),
            Event::default(),
        ] {
            index.matching(&subscribers, &e, &mut matching);
            matching.sort_unstable();
            let tested: Vec<usize> = (0..subscribers.len())
                .filter(|&i| subscribers[i].filters.matches(&e))
                .collect();
            assert_eq!(matching, tested, "{:?} {:?}", e.metadata, e.event_name);
        }
        index.matching(&subscribers, &event("a", "keep"), &mut matching);
        matching.sort_unstable();
        assert_eq!(matching, [0, 2, 3, 4, 5]);
    }
}
