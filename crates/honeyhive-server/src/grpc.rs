//! OTLP/gRPC `TraceService/Export` on its own listener (tonic), sharing the
//! HTTP path's auth, budget, decode pool and store.

use honeyhive_model::ErrorCode;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use crate::ServerError;
use crate::api::ingest_otlp::{admit, store_prepared};
use crate::api::{ApiError, AppState};
use crate::ingest::otlp::prepare;

struct GrpcIngest {
    state: AppState,
}

fn status(e: ApiError) -> Status {
    let code = tonic::Code::from_i32(e.code.grpc_code());
    Status::new(code, e.message)
}

#[tonic::async_trait]
impl TraceService for GrpcIngest {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let state = &self.state;
        let key = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.trim()
                    .trim_start_matches("Bearer ")
                    .trim_start_matches("bearer ")
                    .trim()
                    .to_string()
            })
            .filter(|k| !k.is_empty())
            .ok_or_else(|| status(ApiError::new(ErrorCode::Unauthenticated, "missing api key")))?;
        let tenant = state
            .keys
            .authenticate(state.store.as_ref(), &key)
            .await
            .map_err(status)?;
        let request = request.into_inner();
        // tonic already decoded the message; its size is what the budget counts.
        let permit = admit(state, request.encoded_len()).map_err(status)?;
        let prepared = tokio::task::spawn_blocking(move || prepare(&request))
            .await
            .map_err(|e| Status::internal(format!("mapping task failed: {e}")))?;
        let response = store_prepared(state, &tenant, prepared)
            .await
            .map_err(status)?;
        drop(permit);
        state.metrics.otlp_request("grpc");
        Ok(Response::new(response))
    }
}

/// Serves OTLP/gRPC on `listener` until `stopped` turns true.
pub(crate) fn spawn(
    listener: tokio::net::TcpListener,
    state: AppState,
    mut stopped: watch::Receiver<bool>,
) -> JoinHandle<Result<(), ServerError>> {
    let max = state.config.max_body_bytes;
    let service = TraceServiceServer::new(GrpcIngest { state })
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(max);
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener),
                async move {
                    let _ = stopped.wait_for(|s| *s).await;
                },
            )
            .await
            .map_err(|e| ServerError::Task(format!("grpc server: {e}")))
    })
}
