//! OTLP/gRPC `TraceService/Export` on its own listener, sharing the HTTP
//! path's connection bounds, auth, budget, decode pool and store.
//!
//! The key is checked before the message is read, and the message reaches the
//! ingest path as bytes (tonic reads the gRPC framing and decompresses, bounded
//! by the body limit), so its decoding is charged to the budget first, as on
//! HTTP.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::post;
use honeyhive_model::otlp::ExportTraceServiceResponse;
use prost::Message as _;
use tonic::Status;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{BoxFuture, Context, Poll, Service};

use super::otlp::{Message, ingest};
use crate::api::admission::authenticate;
use crate::api::{AppState, over_budget};
use crate::ingest::budget::{Budget, BudgetedBody, RequestBudget};
use crate::ingest::otlp::OtlpEncoding;
use crate::store::Tenant;

/// The one method served.
const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// The gRPC listener's routes.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route(EXPORT_PATH, post(export))
        .fallback(unimplemented)
        .with_state(state)
}

async fn unimplemented() -> Response {
    Status::unimplemented(
        "only opentelemetry.proto.collector.trace.v1.TraceService/Export is served",
    )
    .into_http::<Body>()
}

async fn export(State(state): State<AppState>, req: Request) -> Response {
    let tenant = match authenticate(&state, req.headers()).await {
        Ok(tenant) => tenant,
        Err(e) => return Status::from(e).into_http(),
    };
    let budget = match Budget::try_acquire(&state.budget, 0) {
        Ok(permit) => RequestBudget::new(permit),
        Err(refusal) => return Status::from(over_budget(&state, refusal, 0)).into_http(),
    };
    let body_budget = budget.clone();
    let req = req.map(|body| Body::new(BudgetedBody::new(body, body_budget, 0)));
    let limit = state.config.max_body_bytes;
    let mut grpc = tonic::server::Grpc::new(RawCodec)
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limit);
    let service = Export {
        state: state.clone(),
        tenant,
        budget: budget.clone(),
    };
    let response = grpc.unary(service, req).await;
    // A body refused mid-read reaches tonic as a read error: answer the cause.
    if let Some(refusal) = budget.refusal()
        && !response_is_ok(&response)
    {
        return Status::from(over_budget(&state, refusal, limit)).into_http();
    }
    response.map(Body::new)
}

fn response_is_ok<B>(response: &axum::http::Response<B>) -> bool {
    response
        .headers()
        .get("grpc-status")
        .is_none_or(|s| s.as_bytes() == b"0")
}

/// The unary service tonic calls with the message bytes.
#[derive(Clone)]
struct Export {
    state: AppState,
    tenant: Tenant,
    budget: RequestBudget,
}

impl Service<tonic::Request<Bytes>> for Export {
    type Response = tonic::Response<ExportTraceServiceResponse>;
    type Error = Status;
    type Future = BoxFuture<Self::Response, Status>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let message = Message::Uncharged(request.into_inner());
            let response = ingest(
                &this.state,
                &this.tenant,
                &this.budget,
                message,
                OtlpEncoding::Protobuf,
            )
            .await
            .map_err(Status::from)?;
            this.state.metrics.otlp_request("grpc");
            Ok(tonic::Response::new(response))
        })
    }
}

/// Hands the request message over as bytes and encodes the response with prost.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = ExportTraceServiceResponse;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = ExportTraceServiceResponse;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(format!("encoding the response: {e}")))
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        use bytes::Buf;
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}
