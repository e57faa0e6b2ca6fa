//! An in-process OTLP/gRPC trace collector: a service under test exports its spans
//! here (`telemetry.otlp_endpoint`), and the test reads what arrived.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};

#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<ExportTraceServiceRequest>>>);

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// One exported span, flattened: name, attributes, events with their attributes.
#[derive(Debug, Clone)]
pub struct ExportedSpan {
    pub service: String,
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub events: Vec<(String, Vec<(String, String)>)>,
    pub status_message: String,
}

impl ExportedSpan {
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Everything the span carries as text, for searching.
    pub fn text(&self) -> String {
        let mut t = format!("{} {} {}", self.service, self.name, self.status_message);
        for (k, v) in &self.attributes {
            t.push_str(&format!(" {k}={v}"));
        }
        for (n, attrs) in &self.events {
            t.push_str(&format!(" event:{n}"));
            for (k, v) in attrs {
                t.push_str(&format!(" {k}={v}"));
            }
        }
        t
    }
}

fn text(v: Option<&AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

/// A running collector.
pub struct Collector {
    addr: SocketAddr,
    sink: Sink,
    task: tokio::task::JoinHandle<()>,
}

impl Collector {
    /// Listens on a free loopback port.
    pub async fn start() -> anyhow::Result<Collector> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let sink = Sink::default();
        let svc = TraceServiceServer::new(sink.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let svc = svc.clone();
                tokio::spawn(async move {
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let service = hyper_util::service::TowerToHyperService::new(svc);
                    let _ = hyper_util::server::conn::auto::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .http2_only()
                    .serve_connection(io, service)
                    .await;
                });
            }
        });
        Ok(Collector { addr, sink, task })
    }

    /// The endpoint to configure as `telemetry.otlp_endpoint`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ExportedSpan> {
        let batches = self
            .sink
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut out = Vec::new();
        for b in batches {
            for rs in b.resource_spans {
                let service = rs
                    .resource
                    .as_ref()
                    .and_then(|r| r.attributes.iter().find(|a| a.key == "service.name"))
                    .map(|a| text(a.value.as_ref()))
                    .unwrap_or_default();
                for ss in rs.scope_spans {
                    for s in ss.spans {
                        out.push(ExportedSpan {
                            service: service.clone(),
                            name: s.name,
                            attributes: s
                                .attributes
                                .iter()
                                .map(|a| (a.key.clone(), text(a.value.as_ref())))
                                .collect(),
                            events: s
                                .events
                                .iter()
                                .map(|e| {
                                    (
                                        e.name.clone(),
                                        e.attributes
                                            .iter()
                                            .map(|a| (a.key.clone(), text(a.value.as_ref())))
                                            .collect(),
                                    )
                                })
                                .collect(),
                            status_message: s.status.map(|st| st.message).unwrap_or_default(),
                        });
                    }
                }
            }
        }
        out
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.task.abort();
    }
}
