//! Where a GraphQL answer gets its errors' codes: our errors ([`ApiError`])
//! become GraphQL errors through the one conversion here, and the errors
//! async-graphql finds itself (syntax, validation, the depth and cost limits,
//! argument types) get a code and a hint in the extension below. Either way
//! an error's `extensions` carry `code` (an [`ErrorCode`]), `hint` when there
//! is one, and `retryAfter` (seconds) when retrying later helps.
//!
//! The extension also refuses a query nested past [`MAX_QUERY_NESTING`]
//! before the parser sees it: the parser recurses once per bracket, and a
//! body of brackets must not reach it.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextSubscribe,
};
use async_graphql::futures_util::stream::{BoxStream, StreamExt};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{ErrorExtensionValues, Response, ServerError, ServerResult, Variables};
use honeyhive_model::ErrorCode;

use super::size::expanded_fields;
use crate::api::ApiError;
use crate::config::GraphqlLimits;

/// Most brackets (`{`, `(`, `[`) a query may nest, counted in its text
/// before it is parsed; any query within the depth limit nests far less.
pub(super) const MAX_QUERY_NESTING: usize = 64;

/// How to find what a query may ask for.
const SCHEMA_HINT: &str = "check the query against the schema: the explorer at GET /graphql runs queries and lists the types";

/// The one conversion of our errors into GraphQL errors: the message a
/// client is shown, and its code, hint and retry delay as extensions.
impl From<ApiError> for async_graphql::Error {
    fn from(e: ApiError) -> async_graphql::Error {
        async_graphql::Error {
            extensions: Some(extensions(&e)),
            message: e.message,
            source: None,
        }
    }
}

/// `e` as an error of a whole request (no path in the answer), for what is
/// refused before anything runs.
pub(super) fn request_error(e: ApiError) -> ServerError {
    ServerError {
        extensions: Some(extensions(&e)),
        message: e.message,
        source: None,
        locations: Vec::new(),
        path: Vec::new(),
    }
}

fn extensions(e: &ApiError) -> ErrorExtensionValues {
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", e.code.as_str());
    if let Some(hint) = &e.hint {
        extensions.set("hint", hint.as_str());
    }
    if let Some(seconds) = e.retry_after {
        extensions.set("retryAfter", seconds);
    }
    extensions
}

/// Whether `error` has a code already (ours always do).
fn is_coded(error: &ServerError) -> bool {
    error
        .extensions
        .as_ref()
        .is_some_and(|e| e.get("code").is_some())
}

/// An error async-graphql found, given our code and hint. Its own messages
/// are the only way to tell its limit errors from the others; an error it
/// adds later reads as a bad request, which is what it is.
fn code_library_error(error: &mut ServerError, limits: &GraphqlLimits) {
    if is_coded(error) {
        return;
    }
    let coded = match error.message.as_str() {
        "Query is nested too deep." => ApiError::new(
            ErrorCode::ResultTooLarge,
            format!(
                "the query nests deeper than the limit of {} levels",
                limits.max_depth
            ),
        )
        .with_hint("select fewer levels of nested fields; read deep trees from a session's flat `events` list"),
        "Query is too complex." => ApiError::new(
            ErrorCode::ResultTooLarge,
            format!(
                "the query costs more than the limit of {}",
                limits.max_complexity
            ),
        )
        .with_hint(
            "ask for smaller pages (limit), fewer fields per row, or fewer reads \
             (sessions, run results) in one query; a field costs 1, a store read 50 or more, \
             and a page its rows times what each row selects",
        ),
        _ => ApiError::bad_request(std::mem::take(&mut error.message)).with_hint(SCHEMA_HINT),
    };
    error.extensions = Some(extensions(&coded));
    error.message = coded.message;
}

/// The schema extension that codes errors (see the module's docs).
pub(super) struct Coded {
    pub(super) limits: GraphqlLimits,
}

impl ExtensionFactory for Coded {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(CodedErrors {
            limits: self.limits,
        })
    }
}

struct CodedErrors {
    limits: GraphqlLimits,
}

#[async_graphql::async_trait::async_trait]
impl Extension for CodedErrors {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        for error in &mut response.errors {
            code_library_error(error, &self.limits);
        }
        response
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let limits = self.limits;
        next.run(ctx, stream)
            .map(move |mut response| {
                for error in &mut response.errors {
                    code_library_error(error, &limits);
                }
                response
            })
            .boxed()
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let nesting = nesting(query);
        if nesting > MAX_QUERY_NESTING {
            return Err(request_error(
                ApiError::bad_request(format!(
                    "the query nests {nesting} brackets deep, more than the {MAX_QUERY_NESTING} it may"
                ))
                .with_hint("send a query with fewer nested selections, arguments and lists"),
            ));
        }
        // Every field costs at least 1, so a query selecting more fields than
        // the cost limit, fragments spread, is over it: refused before the
        // library's checks spread its fragments again and again.
        if let Ok(document) = async_graphql::parser::parse_query(query) {
            let fields = expanded_fields(&document);
            if fields > self.limits.max_complexity {
                return Err(request_error(
                    ApiError::new(
                        ErrorCode::ResultTooLarge,
                        format!(
                            "the query selects {fields} fields once its fragments are spread, \
                             more than the cost limit of {}",
                            self.limits.max_complexity
                        ),
                    )
                    .with_hint("spread fewer fragments, or select fewer fields in them"),
                ));
            }
        }
        next.run(ctx, query, variables).await
    }
}

/// How deep `query` nests its brackets (`{`, `(`, `[`), outside strings and
/// comments. One pass, no allocation: it runs on every query.
pub(super) fn nesting(query: &str) -> usize {
    let bytes = query.as_bytes();
    let (mut depth, mut deepest, mut at) = (0usize, 0usize, 0usize);
    while let Some(&byte) = bytes.get(at) {
        match byte {
            b'{' | b'(' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b')' | b']' => depth = depth.saturating_sub(1),
            b'#' => {
                while bytes.get(at).is_some_and(|b| *b != b'\n') {
                    at += 1;
                }
            }
            b'"' if bytes.get(at..at + 3) == Some(b"\"\"\"") => {
                // A block string ends at the next `"""` not escaped as `\"""`.
                at += 3;
                while at < bytes.len() && bytes.get(at..at + 3) != Some(b"\"\"\"") {
                    at += if bytes.get(at..at + 4) == Some(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                at += 2;
            }
            b'"' => {
                at += 1;
                while let Some(&b) = bytes.get(at) {
                    match b {
                        b'\\' => at += 2,
                        b'"' | b'\n' => break,
                        _ => at += 1,
                    }
                }
            }
            _ => {}
        }
        at += 1;
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_counts_brackets_outside_strings_and_comments() {
        assert_eq!(nesting("{ a { b(x: [1, [2]]) } }"), 5);
        assert_eq!(nesting(r#"{ a(s: "{{{{[[[(") }"#), 2);
        assert_eq!(nesting("{ a # {{{{{{\n }"), 1);
        assert_eq!(nesting(r#"{ a(s: """ {{{ \""" {{ """) }"#), 2);
        assert_eq!(nesting(r#"{ a(s: "\"{{") }"#), 2);
        assert_eq!(nesting(&"{a".repeat(100_000)), 100_000);
        assert_eq!(nesting("}}}{"), 1);
        assert_eq!(nesting("\"unterminated {{{"), 0);
    }

    #[test]
    fn library_errors_get_our_codes_and_ours_keep_theirs() {
        let limits = GraphqlLimits::default();
        let mut deep = ServerError::new("Query is nested too deep.", None);
        code_library_error(&mut deep, &limits);
        let code = |e: &ServerError| {
            e.extensions
                .as_ref()
                .and_then(|x| x.get("code"))
                .map(|v| v.to_string())
        };
        assert_eq!(code(&deep).as_deref(), Some("\"result_too_large\""));
        assert!(deep.message.contains("12"), "{}", deep.message);

        let mut unknown = ServerError::new("Unknown field \"nope\" on type \"Query\".", None);
        code_library_error(&mut unknown, &limits);
        assert_eq!(code(&unknown).as_deref(), Some("\"bad_request\""));
        assert!(unknown.message.contains("nope"));

        let mut ours = request_error(ApiError::not_found("run r1 not found"));
        code_library_error(&mut ours, &limits);
        assert_eq!(code(&ours).as_deref(), Some("\"not_found\""));
        assert_eq!(ours.message, "run r1 not found");
    }
}
