//! How many fields a query selects once its fragments are spread, counted
//! with each fragment's size computed once. The library's own depth and cost
//! checks spread every fragment again wherever it is used, so ten fragments
//! each spreading the next sixteen times (a 2 KB query) would make them visit
//! 16¹⁰ fields; this count refuses such a query first, in linear time.

use std::collections::{HashMap, HashSet};

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};

/// Fields selected by every operation of `document`, fragments spread,
/// saturating (a fragment spread inside itself counts nothing; validation
/// refuses such a query anyway).
pub(super) fn expanded_fields(document: &ExecutableDocument) -> usize {
    let mut sizes = Sizes {
        document,
        known: HashMap::new(),
        spreading: HashSet::new(),
    };
    document
        .operations
        .iter()
        .map(|(_, operation)| sizes.of(&operation.node.selection_set.node))
        .fold(0, usize::saturating_add)
}

struct Sizes<'d> {
    document: &'d ExecutableDocument,
    known: HashMap<&'d str, usize>,
    spreading: HashSet<&'d str>,
}

impl<'d> Sizes<'d> {
    fn of(&mut self, set: &'d SelectionSet) -> usize {
        set.items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(field) => {
                    1usize.saturating_add(self.of(&field.node.selection_set.node))
                }
                Selection::InlineFragment(inline) => self.of(&inline.node.selection_set.node),
                Selection::FragmentSpread(spread) => self.fragment(&spread.node.fragment_name.node),
            })
            .fold(0, usize::saturating_add)
    }

    fn fragment(&mut self, name: &'d str) -> usize {
        if let Some(size) = self.known.get(name) {
            return *size;
        }
        let Some(fragment) = self.document.fragments.get(name) else {
            return 0;
        };
        if !self.spreading.insert(name) {
            return 0;
        }
        let size = self.of(&fragment.node.selection_set.node);
        self.spreading.remove(name);
        self.known.insert(name, size);
        size
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;

    use super::*;

    #[test]
    fn fragments_count_as_often_as_they_are_spread_and_are_counted_once() {
        let plain = parse_query("{ a { b c } d }").expect("query");
        assert_eq!(expanded_fields(&plain), 4);
        let spread = parse_query(
            "query { ...F ...F x { ...F } } fragment F on Query { a b ... on Query { c } }",
        )
        .expect("query");
        assert_eq!(expanded_fields(&spread), 3 + 3 + 1 + 3);

        // Ten levels of sixteen spreads each: 16^9 fields, counted at once.
        let mut text = String::from("query { ...F0 }");
        for level in 0..9 {
            text.push_str(&format!(" fragment F{level} on Query {{"));
            for _ in 0..16 {
                text.push_str(&format!(" ...F{}", level + 1));
            }
            text.push_str(" }");
        }
        text.push_str(" fragment F9 on Query { __typename }");
        let bomb = parse_query(&text).expect("query");
        assert_eq!(expanded_fields(&bomb), 16usize.pow(9));

        let cycle = parse_query("{ ...A } fragment A on Query { a ...A }").expect("query");
        assert_eq!(expanded_fields(&cycle), 1);
    }
}
