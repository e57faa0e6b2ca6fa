//! HTTP error and input conventions shared by every service.
//!
//! Every error is `application/problem+json` (RFC 9457) with a stable `code` from
//! [`Code`]; bad input is a 4xx that names each failing field in `errors`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, dev::Payload, web};
use futures::StreamExt;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The table of stable error codes: code, HTTP status and title.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    InvalidJson,
    ValidationFailed,
    UnsupportedMediaType,
    PayloadTooLarge,
    Unauthenticated,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    IllegalTransition,
    RateLimited,
    Unavailable,
    Internal,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        self.row().0
    }
    pub fn status(self) -> StatusCode {
        self.row().1
    }
    pub fn title(self) -> &'static str {
        self.row().2
    }
    fn row(self) -> (&'static str, StatusCode, &'static str) {
        match self {
            Code::InvalidJson => (
                "invalid_json",
                StatusCode::BAD_REQUEST,
                "The body is not valid JSON",
            ),
            Code::ValidationFailed => (
                "validation_failed",
                StatusCode::UNPROCESSABLE_ENTITY,
                "Some fields are missing or invalid",
            ),
            Code::UnsupportedMediaType => (
                "unsupported_media_type",
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported content type",
            ),
            Code::PayloadTooLarge => (
                "payload_too_large",
                StatusCode::PAYLOAD_TOO_LARGE,
                "The body is too large",
            ),
            Code::Unauthenticated => (
                "unauthenticated",
                StatusCode::UNAUTHORIZED,
                "A valid bearer token is required",
            ),
            Code::Forbidden => (
                "forbidden",
                StatusCode::FORBIDDEN,
                "Not allowed for this user",
            ),
            Code::NotFound => ("not_found", StatusCode::NOT_FOUND, "Not found"),
            Code::MethodNotAllowed => (
                "method_not_allowed",
                StatusCode::METHOD_NOT_ALLOWED,
                "Method not allowed",
            ),
            Code::Conflict => (
                "conflict",
                StatusCode::CONFLICT,
                "The request conflicts with the current state",
            ),
            Code::IllegalTransition => (
                "illegal_transition",
                StatusCode::CONFLICT,
                "The case's state does not allow this now",
            ),
            Code::RateLimited => (
                "rate_limited",
                StatusCode::TOO_MANY_REQUESTS,
                "Too many requests",
            ),
            Code::Unavailable => (
                "unavailable",
                StatusCode::SERVICE_UNAVAILABLE,
                "Temporarily unavailable",
            ),
            Code::Internal => (
                "internal",
                StatusCode::INTERNAL_SERVER_ERROR,
                "Unexpected error",
            ),
        }
    }
}

/// One failing field.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A problem+json response (RFC 9457).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    /// A stable code: invalid_json, validation_failed, unsupported_media_type,
    /// payload_too_large, unauthenticated, forbidden, not_found, method_not_allowed,
    /// conflict, illegal_transition, rate_limited, unavailable, internal. `type` is
    /// `https://xinfang.dev/problems/<code>`.
    #[schema(value_type = String)]
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Seconds sent in `Retry-After` (429 and 503 answers).
    #[serde(skip)]
    #[schema(ignore)]
    pub retry_after: Option<u16>,
}

impl Problem {
    pub fn new(code: Code) -> Self {
        Problem {
            type_uri: format!("https://xinfang.dev/problems/{}", code.as_str()),
            title: code.title().to_owned(),
            status: code.status().as_u16(),
            code: code.as_str(),
            detail: None,
            errors: Vec::new(),
            retry_after: None,
        }
    }
    pub fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = Some(d.into());
        self
    }
    pub fn field(mut self, field: impl Into<String>, message: impl Into<String>) -> Self {
        self.errors.push(FieldError::new(field, message));
        self
    }
    /// A 422 naming every failing field.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let mut p = Problem::new(Code::ValidationFailed);
        p.detail = Some(
            errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; "),
        );
        p.errors = errors;
        p
    }
    pub fn not_found(what: &str) -> Self {
        Problem::new(Code::NotFound).detail(format!("{what} not found"))
    }
    pub fn forbidden(why: impl Into<String>) -> Self {
        Problem::new(Code::Forbidden).detail(why)
    }
    pub fn conflict(why: impl Into<String>) -> Self {
        Problem::new(Code::Conflict).detail(why)
    }
    /// A 409 for a move the state machine refuses in the state the thing is in now.
    pub fn illegal_transition(why: impl Into<String>) -> Self {
        Problem::new(Code::IllegalTransition).detail(why)
    }
    pub fn unauthenticated(why: impl Into<String>) -> Self {
        Problem::new(Code::Unauthenticated).detail(why)
    }
    /// An unexpected failure: the cause is logged, never shown.
    pub fn internal(cause: &dyn fmt::Display) -> Self {
        tracing::error!(error = %cause, "unexpected error");
        Problem::new(Code::Internal)
    }
    /// A 429 with `Retry-After`: the service takes no new work for now (nothing changed).
    pub fn busy(retry_after_secs: u16, why: impl Into<String>) -> Self {
        let mut p = Problem::new(Code::RateLimited).detail(why);
        p.retry_after = Some(retry_after_secs);
        p
    }
    pub fn unavailable(cause: &dyn fmt::Display) -> Self {
        tracing::warn!(error = %cause, "dependency unavailable");
        Problem::new(Code::Unavailable)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.title, self.code)
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
    fn error_response(&self) -> HttpResponse {
        let mut b = HttpResponse::build(self.status_code());
        b.content_type("application/problem+json");
        if self.status == 401 {
            b.insert_header(("WWW-Authenticate", "Bearer"));
        }
        if let Some(secs) = self.retry_after {
            b.insert_header(("Retry-After", secs.to_string()));
        }
        b.json(self)
    }
}

/// Default body limit when none is configured (bytes).
pub const DEFAULT_BODY_LIMIT: usize = 256 * 1024;

/// The body limit in force, stored in app data by the application builder.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// A JSON body: checks the content type (415), size (413) and syntax (400), and names
/// the field on a missing or wrong-typed value (422).
#[derive(Debug)]
pub struct ValidJson<T>(pub T);

impl<T> ValidJson<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for ValidJson<T> {
    type Error = Problem;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Problem>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<BodyLimit>>()
            .map(|l| l.0)
            .unwrap_or(DEFAULT_BODY_LIMIT);
        let ct_ok = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(is_json_content_type)
            .unwrap_or(false);
        let declared = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if !ct_ok {
                return Err(Problem::new(Code::UnsupportedMediaType)
                    .detail("send the body as application/json"));
            }
            if declared.is_some_and(|n| n > limit) {
                return Err(too_large(limit));
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| {
                    Problem::new(Code::InvalidJson).detail(format!("cannot read body: {e}"))
                })?;
                if body.len() + chunk.len() > limit {
                    return Err(too_large(limit));
                }
                body.extend_from_slice(&chunk);
            }
            parse_json(&body).map(ValidJson)
        })
    }
}

fn too_large(limit: usize) -> Problem {
    Problem::new(Code::PayloadTooLarge).detail(format!("the body may be at most {limit} bytes"))
}

fn is_json_content_type(v: &str) -> bool {
    let essence = v
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses a JSON body into `T`, mapping syntax errors to 400 and data errors to 422
/// naming every failing field at once (missing, wrong-typed or unknown), each by its
/// path.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, Problem> {
    if body.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000"))
        && let Ok(v) = serde_json::from_slice::<serde_json::Value>(body)
        && let Some(path) = nul_at(&v, String::new())
    {
        // No text field may hold NUL, and Postgres cannot store it.
        return Err(Problem::validation(vec![FieldError::new(
            if path.is_empty() {
                "body".to_owned()
            } else {
                path
            },
            "must not contain NUL characters",
        )]));
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(v) => Ok(v),
        Err(e) => {
            let inner = e.inner();
            use serde_json::error::Category;
            match inner.classify() {
                Category::Syntax | Category::Eof | Category::Io => {
                    Err(Problem::new(Code::InvalidJson).detail(inner.to_string()))
                }
                Category::Data => {
                    let errors = match serde_json::from_slice::<serde_json::Value>(body) {
                        Ok(value) => every_error::<T>(value),
                        Err(_) => vec![field_error(&e)],
                    };
                    Err(Problem::validation(errors))
                }
            }
        }
    }
}

/// The path of the first string (or key) in `v` holding a NUL character.
fn nul_at(v: &serde_json::Value, at: String) -> Option<String> {
    use serde_json::Value;
    match v {
        Value::String(s) if s.contains('\0') => Some(at),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, x)| nul_at(x, format!("{at}[{i}]"))),
        Value::Object(m) => m.iter().find_map(|(k, x)| {
            let path = if at.is_empty() {
                k.clone()
            } else {
                format!("{at}.{k}")
            };
            if k.contains('\0') {
                Some(path)
            } else {
                nul_at(x, path)
            }
        }),
        _ => None,
    }
}

/// The failing field of one data error, by its path.
fn field_error(e: &serde_path_to_error::Error<serde_json::Error>) -> FieldError {
    let path = e.path().to_string();
    let msg = strip_position(&e.inner().to_string());
    let field = match (missing_field(&msg), path.as_str()) {
        (Some(f), "." | "") => f.to_owned(),
        (Some(f), p) => format!("{p}.{f}"),
        (None, p) if p == "." || p.is_empty() => "body".to_owned(),
        (None, p) => p.to_owned(),
    };
    FieldError::new(field, msg)
}

/// Values tried in place of a failing field so that deserialisation can go on and
/// report the next one.
fn stand_ins() -> [serde_json::Value; 9] {
    use serde_json::json;
    [
        json!("00000000-0000-0000-0000-000000000000"),
        json!("2000-01-01T00:00:00Z"),
        json!("2000-01-01"),
        json!("x"),
        json!(1),
        json!(true),
        json!([]),
        json!({}),
        serde_json::Value::Null,
    ]
}

/// Every data error of `value` as `T`: after each, the failing field is removed (when
/// unknown) or given a stand-in, and deserialisation runs again, up to 32 fields.
fn every_error<T: DeserializeOwned>(mut value: serde_json::Value) -> Vec<FieldError> {
    use serde_path_to_error::Segment;
    let mut errors: Vec<FieldError> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for _ in 0..32 {
        let Err(e) = serde_path_to_error::deserialize::<_, T>(value.clone()) else {
            break;
        };
        let fe = field_error(&e);
        if seen.contains(&fe.field) {
            break;
        }
        seen.push(fe.field.clone());
        let current = fe.field.clone();
        // A field inside one already named (its stand-in's own fields) is not news.
        let inside = errors.iter().any(|x| {
            current.starts_with(&format!("{}.", x.field))
                || current.starts_with(&format!("{}[", x.field))
        });
        let msg = e.inner().to_string();
        let mut segs: Vec<String> = Vec::new();
        let mut indexable = true;
        for s in e.path().iter() {
            match s {
                Segment::Map { key } => segs.push(key.clone()),
                Segment::Seq { index } => segs.push(format!("[{index}]")),
                _ => indexable = false,
            }
        }
        if !inside {
            errors.push(fe);
        }
        if !indexable {
            break;
        }
        let unknown = msg.starts_with("unknown field `");
        if let Some(f) = missing_field(&msg) {
            segs.push(f.to_owned());
        } else if unknown {
            // The path already ends at the unknown key's parent or the key itself.
            let key = msg
                .trim_start_matches("unknown field `")
                .split('`')
                .next()
                .unwrap_or("")
                .to_owned();
            if segs.last() != Some(&key) {
                segs.push(key);
            }
        }
        let Some((last, parents)) = segs.split_last() else {
            break;
        };
        if unknown {
            match object_at(&mut value, parents) {
                Some(map) => {
                    map.remove(last.as_str());
                    continue;
                }
                None => break,
            }
        }
        // The stand-in that moves the error elsewhere.
        let mut moved = false;
        for v in stand_ins() {
            match object_at(&mut value, parents) {
                Some(map) => {
                    map.insert(last.clone(), v);
                }
                None => break,
            }
            match serde_path_to_error::deserialize::<_, T>(value.clone()) {
                Ok(_) => {
                    moved = true;
                    break;
                }
                Err(e2) if field_error(&e2).field != current => {
                    moved = true;
                    break;
                }
                Err(_) => {}
            }
        }
        if !moved {
            break;
        }
    }
    errors
}

/// The object at `path` (keys and `[i]` indexes) inside `v`.
fn object_at<'a>(
    v: &'a mut serde_json::Value,
    path: &[String],
) -> Option<&'a mut serde_json::Map<String, serde_json::Value>> {
    let mut slot = v;
    for p in path {
        slot = match p.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
            Some(i) => slot.get_mut(i.parse::<usize>().ok()?)?,
            None => slot.get_mut(p.as_str())?,
        };
    }
    slot.as_object_mut()
}

fn missing_field(msg: &str) -> Option<&str> {
    let rest = msg.strip_prefix("missing field `")?;
    rest.split('`').next()
}

fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

/// Default handler for unknown routes: a 404 problem.
pub async fn not_found() -> HttpResponse {
    Problem::new(Code::NotFound)
        .detail("no such resource")
        .error_response()
}

/// Checks a required free text: not blank and at most `max` characters.
pub fn require_text(errs: &mut Vec<FieldError>, field: &str, v: &str, max: usize) {
    if v.trim().is_empty() {
        errs.push(FieldError::new(field, "must not be empty"));
    } else {
        limit_text(errs, field, v, max);
    }
}

/// Checks an optional free text: at most `max` characters.
pub fn limit_text(errs: &mut Vec<FieldError>, field: &str, v: &str, max: usize) {
    if v.chars().count() > max {
        errs.push(FieldError::new(field, format!("at most {max} characters")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        code: String,
    }
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        summary: String,
        age: Option<u8>,
        place: Option<Inner>,
    }

    #[test]
    fn syntax_errors_are_400() {
        let p = parse_json::<Body>(b"{not json").expect_err("refused");
        assert_eq!(p.status, 400);
        assert_eq!(p.code, "invalid_json");
    }

    #[test]
    fn missing_and_wrong_typed_fields_are_named() {
        let p = parse_json::<Body>(b"{}").expect_err("refused");
        assert_eq!((p.status, p.errors[0].field.as_str()), (422, "summary"));
        let p = parse_json::<Body>(br#"{"summary":"x","age":"old"}"#).expect_err("refused");
        assert_eq!(p.errors[0].field, "age");
        let p = parse_json::<Body>(br#"{"summary":"x","place":{}}"#).expect_err("refused");
        assert_eq!(p.errors[0].field, "place.code");
        let p = parse_json::<Body>(br#"{"summary":"x","extra":1}"#).expect_err("refused");
        assert_eq!(p.status, 422);
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Card {
        case_id: uuid::Uuid,
        undertaking_unit_id: String,
        instruction: String,
        due_at: chrono::DateTime<chrono::Utc>,
        count: u32,
        place: Inner,
    }

    fn named(p: &Problem) -> Vec<String> {
        let mut f: Vec<String> = p.errors.iter().map(|e| e.field.clone()).collect();
        f.sort();
        f
    }

    #[test]
    fn every_failing_field_is_named_at_once() {
        let p = parse_json::<Card>(b"{}").expect_err("refused");
        assert_eq!(
            named(&p),
            [
                "case_id",
                "count",
                "due_at",
                "instruction",
                "place",
                "undertaking_unit_id"
            ]
        );
        let p = parse_json::<Card>(
            br#"{"case_id":"nope","undertaking_unit_id":"u","instruction":7,"due_at":"2026-13-01",
                 "count":-1,"place":{"code":1,"x":2},"extra":true}"#,
        )
        .expect_err("refused");
        assert_eq!(
            named(&p),
            [
                "case_id",
                "count",
                "due_at",
                "extra",
                "instruction",
                "place.code",
                "place.x"
            ]
        );
        let p = parse_json::<Body>(br#"{"summary":1,"age":"old","place":{}}"#).expect_err("no");
        assert_eq!(named(&p), ["age", "place.code", "summary"]);
        let p =
            parse_json::<Body>(br#"{"summary":"a\u0000b","place":{"code":"x"}}"#).expect_err("NUL");
        assert_eq!(named(&p), ["summary"]);
    }

    #[test]
    fn json_content_types() {
        assert!(is_json_content_type("application/json; charset=utf-8"));
        assert!(is_json_content_type("application/merge-patch+json"));
        assert!(!is_json_content_type("text/plain"));
    }
}

/// OpenAPI helpers every service's document uses.
pub mod openapi {
    use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

    /// Adds the `bearer` (JWT) security scheme that secured operations name.
    pub struct BearerSecurity;

    impl utoipa::Modify for BearerSecurity {
        fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
            let components = openapi.components.get_or_insert_with(Default::default);
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .build(),
                ),
            );
        }
    }
}
