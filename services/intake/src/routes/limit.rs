//! The public endpoints' rate limits, one middleware for every public route: the
//! citizen's `/v1/public/…` and Open311's `/open311/v2/…`. Budgets are per client
//! address (kept as a keyed tag) and per bucket, spent in Postgres so that every
//! replica draws on the same budget; over it, 429 with `Retry-After`.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, RETRY_AFTER};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError, web};
use sqlx::PgPool;
use xf_http::{Code, Problem};

use crate::domain::rate::Budget;
use crate::open311::render::{Fail, Format};
use crate::store::rate::{Spent, spend};
use crate::vault::Vault;

/// The budgets of the public buckets.
#[derive(Debug, Clone, Copy)]
pub struct PublicLimits {
    pub citizen: Budget,
    pub open311: Budget,
}

/// Which public surface a request belongs to (its budget and its error format).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Citizen,
    Open311,
}

impl Bucket {
    fn name(self) -> &'static str {
        match self {
            Bucket::Citizen => "citizen",
            Bucket::Open311 => "open311",
        }
    }

    fn budget(self, l: &PublicLimits) -> Budget {
        match self {
            Bucket::Citizen => l.citizen,
            Bucket::Open311 => l.open311,
        }
    }

    /// The refusal in the surface's own error shape.
    fn refuse(self, path: &str, status: StatusCode, detail: &str) -> HttpResponse {
        match self {
            Bucket::Citizen => {
                let code = if status == StatusCode::TOO_MANY_REQUESTS {
                    Code::RateLimited
                } else {
                    Code::Unavailable
                };
                Problem::new(code).detail(detail).error_response()
            }
            Bucket::Open311 => {
                let format = if path.ends_with(".xml") {
                    Format::Xml
                } else {
                    Format::Json
                };
                Fail::new(status, detail).respond(format)
            }
        }
    }
}

/// Spends one request of the client's budget, or answers 429 with `Retry-After`.
pub async fn gate<B: MessageBody + 'static>(
    bucket: Bucket,
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let pool = req.app_data::<web::Data<PgPool>>().cloned();
    let limits = req.app_data::<web::Data<PublicLimits>>().cloned();
    let vault = req.app_data::<web::Data<Vault>>().cloned();
    let (Some(pool), Some(limits), Some(vault)) = (pool, limits, vault) else {
        let resp = bucket.refuse(
            req.path(),
            StatusCode::SERVICE_UNAVAILABLE,
            "the rate limiter is not configured",
        );
        return Ok(req.into_response(resp).map_into_right_body());
    };
    let address = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let tag = vault.client_tag(&address);
    match spend(&pool, bucket.name(), &tag, bucket.budget(&limits)).await {
        Ok(Spent::Allowed) => next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body),
        Ok(Spent::Limited(secs)) => {
            let mut resp = bucket.refuse(
                req.path(),
                StatusCode::TOO_MANY_REQUESTS,
                &format!("too many requests from this client; try again in {secs} s"),
            );
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert(RETRY_AFTER, v);
            }
            Ok(req.into_response(resp).map_into_right_body())
        }
        Err(e) => {
            tracing::error!(error = %e, "rate limiter: database unavailable");
            let mut resp = bucket.refuse(
                req.path(),
                StatusCode::SERVICE_UNAVAILABLE,
                "the service is temporarily unavailable; try again later",
            );
            resp.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("5"));
            Ok(req.into_response(resp).map_into_right_body())
        }
    }
}
