//! The span and log policy every service runs under.
//!
//! **Spans.** A request's root span is named `METHOD /route/{template}` and records the
//! route template (`http.route`, e.g. `/v1/public/cases/{registration_no}`), never the
//! raw path or the query string: a path carries registration numbers, a query carries
//! a citizen's query code or the reason given for a vault read. What leaves the process
//! is decided by one allow-list, [`ALLOWED`]: the exporter ([`Filtered`]) drops every
//! other attribute of every span and span event, whatever the code recorded, and blanks
//! error descriptions. Case attributes (`xf.case_id`, `xf.tier`, `xf.jurisdiction`) are
//! ids and codes.
//!
//! **Logs.** Log lines are JSON events on stderr. Span fields are never written into
//! them (no current span, no span list), so the request's route and the case
//! attributes stay in traces. A failed request is logged by [`RootSpan`] with its
//! method, route template, status and stable problem code only — never the error's
//! text, the path or the query. Log events name ids and codes, never personal data or
//! free text; `services/intake/tests/logs.rs` and `traces.rs` check it on the real
//! binary.

use std::borrow::Cow;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use opentelemetry::KeyValue;
use opentelemetry::trace::Status;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use tracing::Span;
use tracing_actix_web::RootSpanBuilder;

/// The only span and span-event attributes exported.
pub const ALLOWED: &[&str] = &[
    // HTTP, by route template.
    "http.request.method",
    "http.route",
    "http.response.status_code",
    "http.flavor",
    "xf.problem",
    // The case, by id and code.
    crate::attr::CASE_ID,
    crate::attr::TIER,
    crate::attr::JURISDICTION,
    // Events on the bus.
    "xf.event_id",
    "xf.event_type",
    "xf.service",
    "messaging.system",
    "messaging.destination.name",
    "messaging.operation",
    // Span bookkeeping.
    "otel.kind",
    "busy_ns",
    "idle_ns",
    "level",
    "target",
];

/// True when `key` may leave the process on a span.
pub fn allowed(key: &str) -> bool {
    ALLOWED.contains(&key)
}

/// Applies the allow-list to one span: attributes and event attributes outside it are
/// dropped (and counted as dropped), an error status keeps its code but not its text.
pub fn scrub(mut span: SpanData) -> SpanData {
    let before = span.attributes.len();
    span.attributes
        .retain(|kv: &KeyValue| allowed(kv.key.as_str()));
    span.dropped_attributes_count += u32::try_from(before - span.attributes.len()).unwrap_or(0);
    for e in span.events.events.iter_mut() {
        let before = e.attributes.len();
        e.attributes.retain(|kv| allowed(kv.key.as_str()));
        e.dropped_attributes_count += u32::try_from(before - e.attributes.len()).unwrap_or(0);
    }
    for l in span.links.links.iter_mut() {
        l.attributes.retain(|kv| allowed(kv.key.as_str()));
    }
    if let Status::Error { .. } = span.status {
        span.status = Status::Error {
            description: Cow::Borrowed(""),
        };
    }
    span
}

/// An exporter that sends only what [`scrub`] leaves.
#[derive(Debug)]
pub struct Filtered<E>(pub E);

impl<E: SpanExporter> SpanExporter for Filtered<E> {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        self.0.export(batch.into_iter().map(scrub).collect())
    }
    fn shutdown_with_timeout(&self, timeout: std::time::Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }
    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.0.set_resource(resource);
    }
}

/// The route template of a request, or `unmatched`: never its path.
pub fn route_of(req: &actix_web::HttpRequest) -> String {
    req.match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned())
}

/// The request root span of every service (for `tracing_actix_web::TracingLogger`).
pub struct RootSpan;

impl RootSpanBuilder for RootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let route = route_of(request.request());
        let method = request.method().as_str().to_owned();
        let span = tracing::info_span!(
            "http.request",
            otel.name = %format!("{method} {route}"),
            otel.kind = "server",
            http.request.method = %method,
            http.route = %route,
            http.flavor = ?request.version(),
            http.response.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            xf.problem = tracing::field::Empty,
        );
        if let Some(tp) = request
            .headers()
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
        {
            crate::set_parent(&span, tp);
        }
        span
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        let (status, route, method, error) = match outcome {
            Ok(r) => (
                r.status(),
                route_of(r.request()),
                r.request().method().as_str().to_owned(),
                r.response().error(),
            ),
            Err(e) => (
                e.as_response_error().status_code(),
                String::from("unmatched"),
                String::new(),
                Some(e),
            ),
        };
        span.record("http.response.status_code", status.as_u16());
        let code = error
            .and_then(|e| e.as_error::<xf_http::Problem>())
            .map(|p| p.code);
        if let Some(c) = code {
            span.record("xf.problem", c);
        }
        if status.is_server_error() {
            span.record("otel.status_code", "ERROR");
            span.in_scope(|| {
                tracing::error!(
                    method = %method, route = %route, status = status.as_u16(),
                    problem = code.unwrap_or(""), "request failed"
                );
            });
        } else if status.is_client_error() {
            span.in_scope(|| {
                tracing::debug!(
                    method = %method, route = %route, status = status.as_u16(),
                    problem = code.unwrap_or(""), "request refused"
                );
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanContext, SpanId, SpanKind, TraceFlags, TraceId, TraceState};

    fn span(attrs: Vec<KeyValue>) -> SpanData {
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(1u128),
                SpanId::from(1u64),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Server,
            name: "GET /v1/public/cases/{registration_no}".into(),
            start_time: std::time::SystemTime::now(),
            end_time: std::time::SystemTime::now(),
            attributes: attrs,
            dropped_attributes_count: 0,
            events: opentelemetry_sdk::trace::SpanEvents::default(),
            links: opentelemetry_sdk::trace::SpanLinks::default(),
            status: Status::error("database said: 张三 13800138000"),
            instrumentation_scope: Default::default(),
        }
    }

    #[test]
    fn only_allowed_attributes_leave_and_errors_lose_their_text() {
        let s = scrub(span(vec![
            KeyValue::new("http.route", "/v1/public/cases/{registration_no}"),
            KeyValue::new(
                "http.target",
                "/v1/public/cases/330122-2026-000001?code=ABCD2345",
            ),
            KeyValue::new("url.query", "reason=核实身份"),
            KeyValue::new("xf.case_id", "0190d5a4-0000-7000-8000-000000000000"),
            KeyValue::new("name", "张三"),
        ]));
        let keys: Vec<&str> = s.attributes.iter().map(|k| k.key.as_str()).collect();
        assert_eq!(keys, ["http.route", "xf.case_id"]);
        assert_eq!(s.dropped_attributes_count, 3);
        assert_eq!(
            s.status,
            Status::Error {
                description: Cow::Borrowed("")
            }
        );
        assert!(allowed("xf.jurisdiction") && !allowed("http.target"));
    }
}
