//! Telemetry: JSON logs, OpenTelemetry traces (OTLP export when an endpoint is
//! configured), the W3C trace-context propagator, span attributes for cases, and
//! Prometheus metrics; the span and log policy ([`policy`]) decides what leaves.

use std::collections::HashMap;
use std::sync::OnceLock;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use serde::{Deserialize, Serialize};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

pub mod policy;

pub use prometheus;

/// Span attribute names that follow a case across services and tiers.
pub mod attr {
    pub const CASE_ID: &str = "xf.case_id";
    pub const TIER: &str = "xf.tier";
    pub const JURISDICTION: &str = "xf.jurisdiction";
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    /// OTLP/gRPC endpoint, e.g. http://otel-collector:4317; traces are exported only when set.
    #[serde(default)]
    pub otlp_endpoint: Option<String>,
    /// `json` (default) or `pretty`.
    pub log_format: LogFormat,
    /// An EnvFilter directive, e.g. `info` or `info,xf_bus=debug`.
    pub log_level: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("log level {0:?} is not a valid filter: {1}")]
    Filter(String, String),
    #[error("OTLP exporter: {0}")]
    Exporter(String),
}

/// Keeps the tracer provider alive; flushes spans on drop.
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        let _ = self.provider.shutdown();
    }
}

fn provider(service: &str, otlp: Option<&str>) -> Result<SdkTracerProvider, TelemetryError> {
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service.to_owned())
        .build();
    let mut b = SdkTracerProvider::builder().with_resource(resource);
    if let Some(endpoint) = otlp {
        use opentelemetry_otlp::WithExportConfig;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()
            .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
        // Only what the span policy allows leaves the process.
        b = b.with_batch_exporter(policy::Filtered(exporter));
    }
    Ok(b.build())
}

/// Installs logging and tracing for a service process. Span ids are generated even
/// without an exporter, so trace ids travel across services in any case.
pub fn init(service: &str, s: &TelemetrySettings) -> Result<TelemetryGuard, TelemetryError> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let filter = EnvFilter::try_new(&s.log_level)
        .map_err(|e| TelemetryError::Filter(s.log_level.clone(), e.to_string()))?;
    let provider = provider(service, s.otlp_endpoint.as_deref())?;
    let tracer = provider.tracer("xinfang");
    opentelemetry::global::set_tracer_provider(provider.clone());
    let otel = tracing_opentelemetry::layer().with_tracer(tracer);
    let fmt = match s.log_format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .boxed(),
    };
    // The log filter applies to log output only; spans at INFO and above always reach
    // the tracer, so trace context flows whatever the log level.
    let _ = tracing_subscriber::registry()
        .with(otel.with_filter(tracing_subscriber::filter::LevelFilter::INFO))
        .with(fmt.with_filter(filter))
        .try_init();
    Ok(TelemetryGuard { provider })
}

/// Installs tracing for tests: the propagator and a tracer provider without exporter,
/// logs only when `XINFANG_TEST_LOG` is set. Safe to call many times.
pub fn init_for_tests() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        let provider = SdkTracerProvider::builder().build();
        let tracer = provider.tracer("xinfang-test");
        opentelemetry::global::set_tracer_provider(provider);
        let level = std::env::var("XINFANG_TEST_LOG").unwrap_or_else(|_| "off".into());
        let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("off"));
        let _ = tracing_subscriber::registry()
            .with(
                tracing_opentelemetry::layer()
                    .with_tracer(tracer)
                    .with_filter(tracing_subscriber::filter::LevelFilter::INFO),
            )
            .with(
                tracing_subscriber::fmt::layer()
                    .with_test_writer()
                    .with_filter(filter),
            )
            .try_init();
    });
}

/// The W3C `traceparent` of the current span, if it has a valid context.
pub fn current_traceparent() -> Option<String> {
    let cx = tracing::Span::current().context();
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut carrier: HashMap<String, String> = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    carrier.remove("traceparent")
}

/// The trace id (32 hex digits) of the current span, if it has a valid context.
pub fn current_trace_id() -> Option<String> {
    current_traceparent().and_then(|tp| trace_id_of(&tp).map(str::to_owned))
}

/// The trace id (32 hex digits) inside a `traceparent` value.
pub fn trace_id_of(traceparent: &str) -> Option<&str> {
    let mut parts = traceparent.split('-');
    let _version = parts.next()?;
    let id = parts.next()?;
    (id.len() == 32).then_some(id)
}

/// Makes `traceparent` the parent of `span` (no-op when it does not parse).
pub fn set_parent(span: &tracing::Span, traceparent: &str) {
    let mut carrier: HashMap<String, String> = HashMap::new();
    carrier.insert("traceparent".into(), traceparent.to_owned());
    let cx = TraceContextPropagator::new().extract(&carrier);
    if cx.span().span_context().is_valid() {
        let _ = span.set_parent(cx);
    }
}

/// The process-wide Prometheus registry.
pub fn registry() -> &'static prometheus::Registry {
    static R: OnceLock<prometheus::Registry> = OnceLock::new();
    R.get_or_init(prometheus::Registry::new)
}

/// Renders the registry in Prometheus text format.
pub fn render_metrics() -> String {
    use prometheus::Encoder;
    let mut buf = Vec::new();
    let enc = prometheus::TextEncoder::new();
    if enc.encode(&registry().gather(), &mut buf).is_err() {
        return String::new();
    }
    String::from_utf8(buf).unwrap_or_default()
}

/// Registers a counter vector once; later calls with the same name return it.
pub fn counter_vec(name: &str, help: &str, labels: &[&str]) -> prometheus::IntCounterVec {
    static CACHE: OnceLock<std::sync::Mutex<HashMap<String, prometheus::IntCounterVec>>> =
        OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(c) = map.get(name) {
        return c.clone();
    }
    let c = prometheus::IntCounterVec::new(prometheus::Opts::new(name, help), labels)
        .unwrap_or_else(|e| panic!("metric {name} is malformed: {e}"));
    let _ = registry().register(Box::new(c.clone()));
    map.insert(name.to_owned(), c.clone());
    c
}

/// Registers a histogram vector once; later calls with the same name return it.
pub fn histogram_vec(name: &str, help: &str, labels: &[&str]) -> prometheus::HistogramVec {
    static CACHE: OnceLock<std::sync::Mutex<HashMap<String, prometheus::HistogramVec>>> =
        OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(c) = map.get(name) {
        return c.clone();
    }
    let h = prometheus::HistogramVec::new(prometheus::HistogramOpts::new(name, help), labels)
        .unwrap_or_else(|e| panic!("metric {name} is malformed: {e}"));
    let _ = registry().register(Box::new(h.clone()));
    map.insert(name.to_owned(), h.clone());
    h
}

/// Registers a gauge vector once; later calls with the same name return it.
pub fn gauge_vec(name: &str, help: &str, labels: &[&str]) -> prometheus::IntGaugeVec {
    static CACHE: OnceLock<std::sync::Mutex<HashMap<String, prometheus::IntGaugeVec>>> =
        OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(c) = map.get(name) {
        return c.clone();
    }
    let g = prometheus::IntGaugeVec::new(prometheus::Opts::new(name, help), labels)
        .unwrap_or_else(|e| panic!("metric {name} is malformed: {e}"));
    let _ = registry().register(Box::new(g.clone()));
    map.insert(name.to_owned(), g.clone());
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_survives_a_hop() {
        init_for_tests();
        let span = tracing::info_span!("origin");
        let tp = span.in_scope(current_traceparent).expect("valid context");
        let id = trace_id_of(&tp).expect("trace id").to_owned();
        let child = tracing::info_span!("consumer");
        set_parent(&child, &tp);
        let tp2 = child.in_scope(current_traceparent).expect("valid context");
        assert_eq!(trace_id_of(&tp2), Some(id.as_str()));
        assert_ne!(tp, tp2, "a new span id on the consuming side");
    }

    #[test]
    fn metrics_render() {
        counter_vec("xf_test_total", "test", &["k"])
            .with_label_values(&["v"])
            .inc();
        assert!(render_metrics().contains("xf_test_total{k=\"v\"} 1"));
    }
}
