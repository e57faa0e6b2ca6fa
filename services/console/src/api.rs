//! Calls to the five services, made with the signed-in user's token: the console adds
//! no access path of its own, so every answer is what the services allow this user.

use std::time::Duration;

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Svc {
    Intake,
    Routing,
    Supervision,
    Scheduling,
    Reporting,
}

impl Svc {
    pub fn name(self) -> &'static str {
        match self {
            Svc::Intake => "intake",
            Svc::Routing => "routing",
            Svc::Supervision => "supervision",
            Svc::Scheduling => "scheduling",
            Svc::Reporting => "reporting",
        }
    }
}

/// What went wrong with a call, as the pages show it.
#[derive(Debug, Clone)]
pub enum ApiError {
    /// The service did not answer, timed out or said it is unavailable.
    Unavailable(Svc),
    /// The token was refused (expired, most likely): sign in again.
    Unauthenticated,
    Forbidden(String),
    /// Not found, or not for this user (the services do not tell the two apart).
    NotFound,
    /// Not allowed in the case's current state.
    Conflict(String),
    /// Fields refused, each named: (field, message); and the detail.
    Invalid(Vec<(String, String)>, String),
    /// Any other answer: status and detail.
    Other(u16, String),
}

impl ApiError {
    fn from_problem(svc: Svc, status: u16, body: &Value) -> ApiError {
        let detail = body["detail"]
            .as_str()
            .or_else(|| body["title"].as_str())
            .unwrap_or_default()
            .to_owned();
        match status {
            401 => ApiError::Unauthenticated,
            403 => ApiError::Forbidden(detail),
            404 => ApiError::NotFound,
            409 => ApiError::Conflict(detail),
            400 | 422 => {
                // Open311 answers [{code, description: "field: message"}].
                if let Some(list) = body.as_array() {
                    let fields = list
                        .iter()
                        .filter_map(|e| e["description"].as_str())
                        .map(|d| match d.split_once(": ") {
                            Some((f, m)) => (f.to_owned(), m.to_owned()),
                            None => (String::new(), d.to_owned()),
                        })
                        .collect();
                    return ApiError::Invalid(fields, detail);
                }
                let fields = body["errors"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|e| {
                                (
                                    e["field"].as_str().unwrap_or_default().to_owned(),
                                    e["message"].as_str().unwrap_or_default().to_owned(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                ApiError::Invalid(fields, detail)
            }
            502..=504 => ApiError::Unavailable(svc),
            s => ApiError::Other(s, detail),
        }
    }
}

/// The services' base URLs and one HTTP client.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    urls: [String; 5],
}

impl Api {
    pub fn new(s: &crate::config::ServiceUrls) -> anyhow::Result<Api> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(s.timeout_ms))
            .connect_timeout(Duration::from_millis(s.timeout_ms.min(3000)))
            .build()?;
        let trim = |u: &str| u.trim_end_matches('/').to_owned();
        Ok(Api {
            http,
            urls: [
                trim(&s.intake_url),
                trim(&s.routing_url),
                trim(&s.supervision_url),
                trim(&s.scheduling_url),
                trim(&s.reporting_url),
            ],
        })
    }

    pub fn url(&self, svc: Svc, path: &str) -> String {
        let i = match svc {
            Svc::Intake => 0,
            Svc::Routing => 1,
            Svc::Supervision => 2,
            Svc::Scheduling => 3,
            Svc::Reporting => 4,
        };
        format!("{}{path}", self.urls[i])
    }

    /// Sends a request and returns the raw answer when it is a success.
    pub async fn send(
        &self,
        svc: Svc,
        rb: reqwest::RequestBuilder,
        token: Option<&str>,
    ) -> Result<reqwest::Response, ApiError> {
        let rb = match token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        };
        let r = rb.send().await.map_err(|_| ApiError::Unavailable(svc))?;
        let status = r.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(r);
        }
        let body: Value = r.json().await.unwrap_or_default();
        Err(ApiError::from_problem(svc, status, &body))
    }

    async fn json(
        &self,
        svc: Svc,
        rb: reqwest::RequestBuilder,
        token: Option<&str>,
    ) -> Result<Value, ApiError> {
        let r = self.send(svc, rb, token).await?;
        Ok(r.json().await.unwrap_or_default())
    }

    pub async fn get(
        &self,
        svc: Svc,
        path: &str,
        token: Option<&str>,
        query: &[(&str, &str)],
    ) -> Result<Value, ApiError> {
        let rb = self.http.get(self.url(svc, path)).query(query);
        self.json(svc, rb, token).await
    }

    pub async fn post(
        &self,
        svc: Svc,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let mut rb = self.http.post(self.url(svc, path));
        if let Some(b) = body {
            rb = rb.json(b);
        }
        self.json(svc, rb, token).await
    }

    pub async fn post_form(
        &self,
        svc: Svc,
        path: &str,
        form: &[(&str, &str)],
    ) -> Result<Value, ApiError> {
        let rb = self.http.post(self.url(svc, path)).form(form);
        self.json(svc, rb, None).await
    }

    pub async fn get_raw(
        &self,
        svc: Svc,
        path: &str,
        token: Option<&str>,
        query: &[(&str, &str)],
    ) -> Result<reqwest::Response, ApiError> {
        let rb = self.http.get(self.url(svc, path)).query(query);
        self.send(svc, rb, token).await
    }

    /// Whether a service answers its readiness probe.
    pub async fn ready(&self, svc: Svc) -> bool {
        self.http
            .get(self.url(svc, "/health/readyz"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .map(|r| r.status().is_success())
            .unwrap_or(false)
    }
}
