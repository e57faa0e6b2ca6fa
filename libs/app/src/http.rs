//! Routes and middleware every service has: health, metrics, request metrics, and
//! problem+json for extractor errors and unknown routes.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use rdkafka::producer::FutureProducer;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use xf_http::{Code, Problem};

#[derive(Clone)]
pub(crate) struct Readiness {
    pub pool: PgPool,
    pub producer: FutureProducer,
    pub topic: String,
    pub tasks: Tasks,
}

/// The long-running tasks of a service (consumer, relay, background jobs) that ended
/// before shutdown — returned early or panicked. Any of them makes the service unready:
/// a pod whose consumer died must leave the load balancer and be looked at.
#[derive(Clone, Default)]
pub(crate) struct Tasks(Arc<Mutex<Vec<&'static str>>>);

impl Tasks {
    /// A guard to hold inside the task: dropped while `cancel` has not fired (the task
    /// returned or unwound on its own), it records the task as stopped.
    pub fn watch(&self, name: &'static str, cancel: CancellationToken) -> TaskGuard {
        TaskGuard {
            name,
            cancel,
            tasks: self.clone(),
        }
    }
    pub fn stopped(&self) -> Vec<&'static str> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

pub(crate) struct TaskGuard {
    name: &'static str,
    cancel: CancellationToken,
    tasks: Tasks,
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if self.cancel.is_cancelled() {
            return;
        }
        tracing::error!(
            task = self.name,
            "a task of the service stopped; the service is not ready"
        );
        if let Ok(mut v) = self.tasks.0.lock() {
            v.push(self.name);
        }
    }
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
    let stopped = r.tasks.stopped();
    let body = serde_json::json!({
        "database": if db { "ok" } else { "unreachable" },
        "broker": if broker { "ok" } else { "unreachable" },
    });
    // Ready while the database answers and every task runs: with the broker away,
    // writes wait in the outbox and are published when it returns, so the service
    // keeps serving; a consumer or relay that stopped would leave work undone.
    if db && stopped.is_empty() {
        HttpResponse::Ok().json(body)
    } else {
        let mut p = Problem::new(Code::Unavailable).detail(if db {
            "a task of the service stopped"
        } else {
            "the database is unreachable"
        });
        if !db {
            p = p.field("database", "unreachable");
        }
        if !broker {
            p = p.field("broker", "unreachable");
        }
        for t in stopped {
            p = p.field(t, "stopped");
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

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test;

    fn readiness(tasks: Tasks) -> Readiness {
        let url = std::env::var("XINFANG_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://xinfang:xinfang@127.0.0.1:5432/xinfang_test".into());
        let producer: FutureProducer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", "127.0.0.1:1")
            .create()
            .expect("producer");
        Readiness {
            pool: sqlx::postgres::PgPoolOptions::new()
                .connect_lazy(&url)
                .expect("pool"),
            producer,
            topic: "xinfang.case.v1.readyz".into(),
            tasks,
        }
    }

    async fn status(tasks: Tasks) -> (u16, serde_json::Value) {
        let app = test::init_service(
            actix_web::App::new()
                .app_data(web::Data::new(readiness(tasks)))
                .configure(configure),
        )
        .await;
        let res = test::call_service(
            &app,
            test::TestRequest::get().uri("/health/readyz").to_request(),
        )
        .await;
        let code = res.status().as_u16();
        (code, test::read_body_json(res).await)
    }

    /// The failing parts named, apart from the database and broker (which this test
    /// does not control).
    fn stopped_fields(body: &serde_json::Value) -> Vec<(String, String)> {
        body["errors"]
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|e| {
                let s = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
                (s("field"), s("message"))
            })
            .filter(|(f, _)| f != "broker" && f != "database")
            .collect()
    }

    #[actix_web::test]
    async fn a_task_that_dies_makes_the_service_unready() {
        let tasks = Tasks::default();
        let (_, body) = status(tasks.clone()).await;
        assert!(stopped_fields(&body).is_empty(), "{body}");

        // A consumer that panics is recorded by its guard as it unwinds.
        let cancel = CancellationToken::new();
        let guard = tasks.watch("consumer", cancel.clone());
        let died = tokio::spawn(async move {
            let _guard = guard;
            panic!("a handler bug");
        })
        .await;
        assert!(died.is_err());
        // A relay that stops because the service shuts down is not a fault.
        let shutting = CancellationToken::new();
        let relay = tasks.watch("relay", shutting.clone());
        shutting.cancel();
        drop(relay);

        let (code, body) = status(tasks).await;
        assert_eq!((code, body["code"].as_str()), (503, Some("unavailable")));
        assert_eq!(
            stopped_fields(&body),
            [("consumer".to_owned(), "stopped".to_owned())]
        );
    }
}
