//! Routes and middleware every service has: health, metrics, request metrics, and
//! problem+json for extractor errors and unknown routes.

use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use rdkafka::producer::FutureProducer;
use sqlx::PgPool;
use xf_http::{Code, Problem};

#[derive(Clone)]
pub(crate) struct Readiness {
    pub pool: PgPool,
    pub producer: FutureProducer,
    pub topic: String,
}

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health/livez", web::get().to(livez))
        .route("/health/livez", web::head().to(livez))
        .route("/health/readyz", web::get().to(readyz))
        .route("/health/readyz", web::head().to(readyz))
        .route("/metrics", web::get().to(metrics))
        .route("/v1/admin/audit", web::get().to(crate::audit::list));
}

/// The frame's own endpoints, merged into every service's OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(livez, readyz, metrics, crate::audit::list))]
pub(crate) struct FrameDoc;

/// Alive: the process answers.
#[utoipa::path(get, path = "/health/livez", tag = "health",
    responses((status = 200, description = "The process is alive")))]
async fn livez() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// Ready: the database is reachable; the broker's state is reported beside it.
#[utoipa::path(get, path = "/health/readyz", tag = "health",
    responses((status = 200, description = "The database answers: {database, broker}; with the broker unreachable, writes wait in the outbox"),
        (status = 503, description = "The database is unreachable", body = xf_http::Problem,
            content_type = "application/problem+json")))]
async fn readyz(r: web::Data<Readiness>) -> HttpResponse {
    let db = tokio::time::timeout(
        Duration::from_secs(2),
        sqlx::query("SELECT 1").execute(&r.pool),
    )
    .await
    .map(|x| x.is_ok())
    .unwrap_or(false);
    let broker = xf_bus::broker_reachable(&r.producer, &r.topic, Duration::from_secs(2)).await;
    let body = serde_json::json!({
        "database": if db { "ok" } else { "unreachable" },
        "broker": if broker { "ok" } else { "unreachable" },
    });
    // Ready while the database answers: with the broker away, writes wait in the
    // outbox and are published when it returns, so the service keeps serving.
    if db {
        HttpResponse::Ok().json(body)
    } else {
        let mut p = Problem::new(Code::Unavailable)
            .detail("the database is unreachable")
            .field("database", "unreachable");
        if !broker {
            p = p.field("broker", "unreachable");
        }
        HttpResponse::ServiceUnavailable()
            .content_type("application/problem+json")
            .json(p)
    }
}

/// Prometheus metrics (text format).
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Metrics in the Prometheus text format", content_type = "text/plain")))]
async fn metrics() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(xf_telemetry::render_metrics())
}

/// Counts requests and their latency by route pattern and status.
pub(crate) async fn track(
    service: &'static str,
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let method = req.method().to_string();
    let res = next.call(req).await?;
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = res.status().as_u16().to_string();
    xf_telemetry::counter_vec(
        "xf_http_requests_total",
        "HTTP requests by route and status",
        &["service", "method", "route", "status"],
    )
    .with_label_values(&[service, method.as_str(), route.as_str(), status.as_str()])
    .inc();
    xf_telemetry::histogram_vec(
        "xf_http_request_duration_seconds",
        "HTTP request latency",
        &["service", "route"],
    )
    .with_label_values(&[service, route.as_str()])
    .observe(start.elapsed().as_secs_f64());
    Ok(res)
}

/// Refuses a request whose path or query carries a NUL character (`%00`), which no
/// text field may hold and Postgres cannot store: 422 naming the parameter.
pub(crate) async fn refuse_nul(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::EitherBody<impl MessageBody>>, actix_web::Error> {
    let field =
        if req.path().contains('\0') || req.uri().path().to_ascii_lowercase().contains("%00") {
            Some("path".to_owned())
        } else if req.query_string().to_ascii_lowercase().contains("%00") {
            let pairs = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
                .map(|q| q.into_inner())
                .unwrap_or_default();
            Some(
                pairs
                    .into_iter()
                    .find(|(k, v)| k.contains('\0') || v.contains('\0'))
                    .map_or_else(|| "query".to_owned(), |(k, _)| k),
            )
        } else {
            None
        };
    match field {
        Some(f) => {
            let p = Problem::validation(vec![xf_http::FieldError::new(
                f,
                "must not contain NUL characters",
            )]);
            Ok(req
                .into_response(actix_web::ResponseError::error_response(&p))
                .map_into_right_body())
        }
        None => Ok(next.call(req).await?.map_into_left_body()),
    }
}

/// Path, query and form extractor errors as problem+json.
pub(crate) fn extractor_errors(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::PathConfig::default()
            .error_handler(|e, _| Problem::new(Code::NotFound).detail(e.to_string()).into()),
    )
    .app_data(web::QueryConfig::default().error_handler(|e, _| {
        Problem::validation(vec![xf_http::FieldError::new("query", e.to_string())]).into()
    }))
    .app_data(web::FormConfig::default().error_handler(|e, _| {
        Problem::validation(vec![xf_http::FieldError::new("form", e.to_string())]).into()
    }))
    .app_data(
        web::JsonConfig::default()
            .error_handler(|e, _| Problem::new(Code::InvalidJson).detail(e.to_string()).into()),
    );
}
