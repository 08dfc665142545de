//! The filters the sessions, events and live pages share: event type, name,
//! source and errors, read from the page's query string, turned into the
//! `GET /events` filter JSON, carried in pager links and shown as a form;
//! and the page number of any paged list.

use honeyhive_model::EventType;
use honeyhive_model::filter::FilterSet;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::ApiError;

/// `?page=N` (1-based) of a paged list.
#[derive(Deserialize, Default)]
pub(super) struct PageQuery {
    page: Option<u64>,
}

/// The deepest page a list serves: reading past it makes the store step over
/// every row before it, so a deeper look is a narrower filter instead.
pub(super) const MAX_PAGE: u64 = 1_000;

impl PageQuery {
    /// The page asked for, 1 if none, at most [`MAX_PAGE`].
    pub(super) fn number(&self) -> u64 {
        self.page.unwrap_or(1).clamp(1, MAX_PAGE)
    }
}

/// The event types a form offers.
const EVENT_TYPES: [&str; 4] = ["session", "chain", "model", "tool"];

/// `?event_type=&q=&source=&errors=`: each optional, empty meaning unset.
#[derive(Deserialize, Default)]
pub(super) struct ListFilters {
    /// Only events of this type.
    event_type: Option<String>,
    /// Only events whose name contains this.
    q: Option<String>,
    /// Only events of this source (`production`, `dev`, ...).
    source: Option<String>,
    /// Only events that failed.
    errors: Option<String>,
}

/// Which of the fields a page offers (the sessions page fixes the type).
#[derive(Clone, Copy)]
pub(super) struct Offered {
    pub(super) event_type: bool,
    pub(super) source_and_errors: bool,
}

fn set(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl ListFilters {
    /// The filter JSON of these fields; an unknown event type is a 400.
    pub(super) fn json(&self) -> Result<Value, ApiError> {
        let mut filters = Vec::new();
        if let Some(kind) = set(&self.event_type) {
            let kind = EventType::parse(kind).ok_or_else(|| {
                ApiError::bad_request(format!("{kind:?} is not an event type"))
                    .with_hint("pick session, chain, model or tool")
            })?;
            filters.push(json!({"field": "event_type", "operator": "is", "value": kind.as_str(), "type": "string"}));
        }
        if let Some(q) = set(&self.q) {
            filters.push(json!({"field": "event_name", "operator": "contains", "value": q, "type": "string"}));
        }
        if let Some(source) = set(&self.source) {
            filters.push(
                json!({"field": "source", "operator": "is", "value": source, "type": "string"}),
            );
        }
        if self.errors.is_some() {
            filters.push(json!({"field": "error", "operator": "exists", "type": "string"}));
        }
        Ok(Value::Array(filters))
    }

    /// These fields and `fixed` (filter JSON objects) as one filter set.
    pub(super) fn filter_set(&self, fixed: &[Value]) -> Result<FilterSet, ApiError> {
        let Value::Array(mut filters) = self.json()? else {
            return Err(ApiError::bad_request("filters"));
        };
        filters.extend_from_slice(fixed);
        FilterSet::from_json(&Value::Array(filters))
            .map_err(|e| ApiError::bad_request(e.to_string()))
    }

    /// The fields that are set, for links to other pages of the same list.
    pub(super) fn params(&self) -> Vec<(&'static str, &str)> {
        [
            ("event_type", &self.event_type),
            ("q", &self.q),
            ("source", &self.source),
            ("errors", &self.errors),
        ]
        .into_iter()
        .filter_map(|(name, value)| set(value).map(|v| (name, v)))
        .collect()
    }

    /// The filter form of the page at `action`, showing the `offered` fields
    /// with their current values; `extra` goes after the submit button.
    pub(super) fn form(&self, action: &str, offered: Offered, extra: Markup) -> Markup {
        let selected = set(&self.event_type).unwrap_or("");
        html! {
            form.filters method="get" action=(action) {
                @if offered.event_type {
                    select name="event_type" aria-label="event type" {
                        option value="" selected[selected.is_empty()] { "any type" }
                        @for kind in EVENT_TYPES {
                            option value=(kind) selected[selected == kind] { (kind) }
                        }
                    }
                }
                input type="search" name="q" placeholder="name contains" value=[set(&self.q)];
                @if offered.source_and_errors {
                    input type="text" name="source" placeholder="source" value=[set(&self.source)];
                    label { input type="checkbox" name="errors" value="1" checked[self.errors.is_some()]; " errors only" }
                }
                button type="submit" { "Filter" }
                (extra)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_past_the_deepest_is_the_deepest() {
        let page = |n: Option<u64>| PageQuery { page: n }.number();
        assert_eq!(page(None), 1);
        assert_eq!(page(Some(0)), 1);
        assert_eq!(page(Some(7)), 7);
        assert_eq!(page(Some(u64::MAX)), MAX_PAGE);
        let last = super::super::view::pager("/ui/events", &[], MAX_PAGE, 100, u64::MAX);
        assert!(
            !last.into_string().contains("rel=\"next\""),
            "no page past the deepest"
        );
    }
}
