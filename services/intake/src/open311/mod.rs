//! Open311 GeoReport v2 at `/open311/v2/`: discovery, services (the category
//! taxonomy), service definitions, posting requests (registered as online petitions
//! through [`crate::register`]), reading requests and tokens. JSON and XML; errors are
//! the spec's `[{code, description}]` arrays.
//!
//! Posting needs an `api_key` from the key file (`open311.api_keys_file`) and is open
//! in every category. Reading is public and shows only the categories marked public
//! in the service list (`categories.public`: matters of the place such as roads,
//! never accusations or personal matters), the place coarsened to the township, no
//! personal data. Every route spends the client's budget (`open311.rate_per_minute`,
//! shared by every replica).

pub mod clients;
pub mod location;
pub mod render;
mod requests;

use actix_web::http::StatusCode;
use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, HttpResponse, web};
use sqlx::{PgPool, Row};
use xf_jurisdiction::{Code, Tier, Tree};

pub use clients::{Client, Clients};
use render::{Fail, Format, V, respond};

use crate::settings::Open311Settings;

/// The specification this endpoint implements.
pub const SPECIFICATION: &str = "http://wiki.open311.org/GeoReport_v2";
/// When the service list or definitions last changed shape.
pub const CHANGESET: &str = "2025-01-01T00:00:00Z";
/// Requests listed at most per call.
pub const LIST_CAP: i64 = 1000;
/// The widest start_date..end_date range, in days.
pub const RANGE_DAYS: i64 = 90;

/// What the Open311 routes share.
#[derive(Debug, Clone)]
pub struct Open311 {
    pub clients: Clients,
    pub jurisdiction_id: String,
}

impl Open311 {
    /// Reads the key file named in the settings.
    pub fn load(s: &Open311Settings) -> anyhow::Result<Open311> {
        let clients = Clients::from_file(&s.api_keys_file)
            .map_err(|e| anyhow::anyhow!("open311.api_keys_file: {e}"))?;
        if clients.is_empty() {
            tracing::info!("open311: no API clients; posting requests is refused");
        } else {
            tracing::info!(clients = clients.len(), "open311: API clients loaded");
        }
        Ok(Open311 {
            clients,
            jurisdiction_id: s.jurisdiction_id.clone(),
        })
    }

    /// Records the client list in the admin audit trail when it differs from the one
    /// last recorded: the key file is the deployment's to change, so the change is
    /// seen at the next start, by `deployment`.
    pub async fn audit_clients(
        &self,
        pool: &sqlx::PgPool,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, sqlx::Error> {
        use xf_app::audit;
        let now = self.clients.listing();
        let mut tx = pool.begin().await?;
        sqlx::query("LOCK TABLE admin_audit IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        let before = audit::last_after(&mut *tx, "open311_client", "api_keys_file").await?;
        let empty = now.as_array().is_none_or(Vec::is_empty);
        if before.as_ref() == Some(&now) || (before.is_none() && empty) {
            return Ok(false);
        }
        let change = audit::Change {
            kind: "open311_client",
            key: "api_keys_file",
            jurisdiction_code: "",
            action: audit::Action::upsert(&before),
            before,
            after: Some(now),
        };
        let actor = audit::Actor {
            sub: "deployment",
            unit: None,
            scope: "",
        };
        audit::record_by(
            &mut tx,
            actor,
            Some("open311.api_keys_file read at start"),
            at,
            &change,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A given `jurisdiction_id` must be ours or a county code of the tree.
    fn check_jurisdiction(&self, tree: &Tree, given: Option<&str>) -> Result<(), Fail> {
        let Some(j) = given else { return Ok(()) };
        if j == self.jurisdiction_id {
            return Ok(());
        }
        if let Ok(c) = Code::parse(j)
            && c.tier() == Tier::County
            && tree.contains(&c)
        {
            return Ok(());
        }
        Err(Fail::not_found(format!(
            "jurisdiction_id {} is not served here; use {} or a county code",
            clip(j, 40),
            self.jurisdiction_id
        )))
    }
}

/// At most `n` characters of untrusted text echoed in an error.
fn clip(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Form or query parameters, in order, repeated keys kept.
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    fn parse(s: &str) -> Result<Params, Fail> {
        web::Query::<Vec<(String, String)>>::from_query(s)
            .map(|q| Params(q.into_inner()))
            .map_err(|e| Fail::bad_request(format!("parameters: {e}")))
    }
    fn query(req: &HttpRequest) -> Result<Params, Fail> {
        Params::parse(req.query_string())
    }
    /// The first non-blank value of `key`, trimmed.
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.trim())
            .find(|v| !v.is_empty())
    }
    /// Every value of `key`, repeated or comma-delimited, trimmed, blanks dropped.
    fn list(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// Runs a handler body and answers its failure as an error array in the format asked.
async fn answer<F>(ext: &str, body: impl FnOnce(Format) -> F) -> HttpResponse
where
    F: Future<Output = Result<HttpResponse, Fail>>,
{
    let Some(format) = Format::parse(ext) else {
        return Fail::not_found("unknown format; use .json or .xml").respond(Format::Json);
    };
    match body(format).await {
        Ok(r) => r,
        Err(f) => f.respond(format),
    }
}

#[utoipa::path(
    get, path = "/open311/v2/discovery.{format}", tag = "open311",
    params(("format" = String, Path, description = "json or xml"), ("jurisdiction_id" = Option<String>, Query, description = "xinfang or a county code")),
    responses((status = 200, description = "The discovery document"), (status = 404, description = "Unknown resource or foreign jurisdiction_id: [{code, description}]"), (status = 429, description = "Over this client's budget: [{code, description}], with Retry-After"))
)]
async fn discovery(
    req: HttpRequest,
    ext: web::Path<String>,
    o: web::Data<Open311>,
    tree: web::Data<Tree>,
) -> HttpResponse {
    answer(&ext, |format| async move {
        let p = Params::query(&req)?;
        o.check_jurisdiction(&tree, p.get("jurisdiction_id"))?;
        let ci = req.connection_info();
        let url = format!("{}://{}/open311/v2", ci.scheme(), ci.host());
        let v = V::Obj(vec![
            ("changeset", V::s(CHANGESET)),
            ("contact", V::s("县信访局（信访接待中心）")),
            (
                "key_service",
                V::s("API keys are issued by the county letters-and-visits bureau (县信访局) on written request."),
            ),
            (
                "endpoints",
                V::List(
                    "endpoint",
                    vec![V::Obj(vec![
                        ("specification", V::s(SPECIFICATION)),
                        ("url", V::s(url)),
                        ("changeset", V::s(CHANGESET)),
                        ("type", V::s("production")),
                        (
                            "formats",
                            V::List("format", vec![V::s("text/xml"), V::s("application/json")]),
                        ),
                    ])],
                ),
            ),
        ]);
        Ok(respond(format, StatusCode::OK, "discovery", &v))
    })
    .await
}

/// Said of a public category: its requests are listed publicly.
pub const PUBLIC_NOTE: &str =
    "（公开类别：请求的类别、所在乡镇、状态和描述公开显示，电话和证件号码隐去）";
/// Said of any other: posted requests are never listed.
pub const PRIVATE_NOTE: &str = "（不公开：请求不在公开列表中显示）";

fn class_description(class: &str) -> &'static str {
    match class {
        "suggestion" => "建议意见类信访事项",
        "accusation" => "检举控告类信访事项（内容保密，不公开）",
        _ => "申诉求决类信访事项",
    }
}

#[utoipa::path(
    get, path = "/open311/v2/services.{format}", tag = "open311",
    params(("format" = String, Path, description = "json or xml"), ("jurisdiction_id" = Option<String>, Query, description = "xinfang or a county code")),
    responses((status = 200, description = "The service list: every active category, public ones marked"), (status = 404, description = "Unknown resource or foreign jurisdiction_id: [{code, description}]"), (status = 429, description = "Over this client's budget: [{code, description}], with Retry-After"))
)]
async fn services(
    req: HttpRequest,
    ext: web::Path<String>,
    o: web::Data<Open311>,
    tree: web::Data<Tree>,
    pool: web::Data<PgPool>,
) -> HttpResponse {
    answer(&ext, |format| async move {
        let p = Params::query(&req)?;
        o.check_jurisdiction(&tree, p.get("jurisdiction_id"))?;
        let rows = sqlx::query(
            "SELECT code, name, class, public FROM categories WHERE active ORDER BY code",
        )
        .fetch_all(pool.get_ref())
        .await
        .map_err(|e| Fail::unavailable(&e))?;
        let items = rows
            .iter()
            .map(|r| {
                let class: String = r.get("class");
                let visibility = if r.get::<bool, _>("public") {
                    PUBLIC_NOTE
                } else {
                    PRIVATE_NOTE
                };
                V::Obj(vec![
                    ("service_code", V::s(r.get::<String, _>("code"))),
                    ("service_name", V::s(r.get::<String, _>("name"))),
                    (
                        "description",
                        V::s(format!("{}{visibility}", class_description(&class))),
                    ),
                    // Every service has attributes (urgency, requests, headcount).
                    ("metadata", V::Bool(true)),
                    ("type", V::s("realtime")),
                    ("keywords", V::s("")),
                    ("group", V::s(class)),
                ])
            })
            .collect();
        Ok(respond(
            format,
            StatusCode::OK,
            "services",
            &V::List("service", items),
        ))
    })
    .await
}

/// The location rules, shown to the user as an informational attribute.
pub const LOCATION_NOTE: &str = "位置：address_id 填行政区划代码（县6位、乡镇街道9位、村社区12位），\
或 address_string 写明乡镇（街道）或村（社区）名称；不接受经纬度（lat/long）。";
/// What happens to identity fields.
pub const IDENTITY_NOTE: &str = "反映人：last_name 填姓、first_name 填名，phone 填联系电话；\
身份信息加密保存，不公开。email 不保存。";

struct Attr {
    code: &'static str,
    datatype: &'static str,
    variable: bool,
    description: &'static str,
    datatype_description: &'static str,
    values: &'static [(&'static str, &'static str)],
}

pub const URGENCY_VALUES: &[(&str, &str)] = &[
    ("normal", "一般"),
    ("important", "重要"),
    ("urgent", "紧急"),
];

fn attributes(class: &str) -> Vec<Attr> {
    let mut v = vec![
        Attr {
            code: "location_note",
            datatype: "string",
            variable: false,
            description: LOCATION_NOTE,
            datatype_description: "",
            values: &[],
        },
        Attr {
            code: "identity_note",
            datatype: "string",
            variable: false,
            description: IDENTITY_NOTE,
            datatype_description: "",
            values: &[],
        },
        Attr {
            code: "urgency",
            datatype: "singlevaluelist",
            variable: true,
            description: "轻重缓急（默认一般）",
            datatype_description: "normal, important or urgent",
            values: URGENCY_VALUES,
        },
        Attr {
            code: "requests",
            datatype: "text",
            variable: true,
            description: "诉求：希望解决什么",
            datatype_description: "at most 4000 characters",
            values: &[],
        },
        Attr {
            code: "headcount",
            datatype: "number",
            variable: true,
            description: "反映人数；2人及以上为集体信访（默认1人）",
            datatype_description: "a whole number from 1 to 100000",
            values: &[],
        },
    ];
    if class == "accusation" {
        v.push(Attr {
            code: "accused_unit_id",
            datatype: "string",
            variable: true,
            description: "被检举控告单位的编号（该单位不承办本件）",
            datatype_description: "a unit id",
            values: &[],
        });
    }
    v
}

/// The attribute codes a client may send for a class.
pub(crate) fn accepted_attributes(class: &str) -> Vec<&'static str> {
    attributes(class)
        .into_iter()
        .filter(|a| a.variable)
        .map(|a| a.code)
        .collect()
}

#[utoipa::path(
    get, path = "/open311/v2/services/{code}.{format}", tag = "open311",
    params(("format" = String, Path, description = "json or xml"), ("jurisdiction_id" = Option<String>, Query, description = "xinfang or a county code"), ("code" = String, Path, description = "service_code")),
    responses((status = 200, description = "The service definition (attributes)"), (status = 404, description = "Unknown resource or foreign jurisdiction_id: [{code, description}]"), (status = 429, description = "Over this client's budget: [{code, description}], with Retry-After"))
)]
async fn definition(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    o: web::Data<Open311>,
    tree: web::Data<Tree>,
    pool: web::Data<PgPool>,
) -> HttpResponse {
    let (code, ext) = path.into_inner();
    answer(&ext, |format| async move {
        let p = Params::query(&req)?;
        o.check_jurisdiction(&tree, p.get("jurisdiction_id"))?;
        let class = crate::store::register::category(&pool, &code)
            .await
            .map_err(|e| Fail::unavailable(&e.title))?
            .map(|c| c.class)
            .ok_or_else(|| {
                Fail::not_found(format!("service_code {}: no such service", clip(&code, 40)))
            })?;
        let attrs = attributes(&class)
            .into_iter()
            .enumerate()
            .map(|(i, a)| {
                let mut f = vec![
                    ("variable", V::Bool(a.variable)),
                    ("code", V::s(a.code)),
                    ("datatype", V::s(a.datatype)),
                    ("required", V::Bool(false)),
                    ("datatype_description", V::s(a.datatype_description)),
                    ("order", V::Int(i as i64 + 1)),
                    ("description", V::s(a.description)),
                ];
                if !a.values.is_empty() {
                    let values = a
                        .values
                        .iter()
                        .map(|(k, n)| V::Obj(vec![("key", V::s(*k)), ("name", V::s(*n))]))
                        .collect();
                    f.push(("values", V::List("value", values)));
                }
                V::Obj(f)
            })
            .collect();
        let v = V::Obj(vec![
            ("service_code", V::s(code.as_str())),
            ("attributes", V::List("attribute", attrs)),
        ]);
        Ok(respond(format, StatusCode::OK, "service_definition", &v))
    })
    .await
}

#[utoipa::path(
    get, path = "/open311/v2/tokens/{token}.{format}", tag = "open311",
    params(("format" = String, Path, description = "json or xml"), ("jurisdiction_id" = Option<String>, Query, description = "xinfang or a county code"), ("token" = String, Path)),
    responses((status = 200, description = "The request id of a token"), (status = 404, description = "Unknown resource or foreign jurisdiction_id: [{code, description}]"), (status = 429, description = "Over this client's budget: [{code, description}], with Retry-After"))
)]
async fn token(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    o: web::Data<Open311>,
    tree: web::Data<Tree>,
    pool: web::Data<PgPool>,
) -> HttpResponse {
    let (token, ext) = path.into_inner();
    answer(&ext, |format| async move {
        let p = Params::query(&req)?;
        o.check_jurisdiction(&tree, p.get("jurisdiction_id"))?;
        let missing = || Fail::not_found(format!("token {}: not found", clip(&token, 40)));
        let id = uuid::Uuid::parse_str(&token).map_err(|_| missing())?;
        let no: String = sqlx::query(
            "SELECT c.registration_no FROM open311_requests o JOIN cases c ON c.id = o.case_id
             WHERE o.case_id = $1",
        )
        .bind(id)
        .fetch_optional(pool.get_ref())
        .await
        .map_err(|e| Fail::unavailable(&e))?
        .ok_or_else(missing)?
        .get(0);
        let v = V::List(
            "request",
            vec![V::Obj(vec![
                ("service_request_id", V::s(no)),
                ("token", V::s(token.as_str())),
            ])],
        );
        Ok(respond(format, StatusCode::OK, "service_requests", &v))
    })
    .await
}

async fn unknown() -> HttpResponse {
    Fail::not_found("no such Open311 resource; see discovery.json").respond(Format::Json)
}

/// The Open311 part of intake's OpenAPI document (public: no token).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    discovery,
    services,
    definition,
    token,
    requests::post,
    requests::list,
    requests::one
))]
pub struct Doc;

/// Registers the Open311 routes and their state.
pub fn configure(cfg: &mut web::ServiceConfig, o: &Open311) {
    cfg.service(
        web::scope("/open311/v2")
            .wrap(from_fn(|req, next| {
                crate::routes::limit::gate(crate::routes::limit::Bucket::Open311, req, next)
            }))
            .app_data(web::Data::new(o.clone()))
            .route("/discovery.{format}", web::get().to(discovery))
            .route("/services.{format}", web::get().to(services))
            .route("/services/{code}.{format}", web::get().to(definition))
            .route("/requests.{format}", web::get().to(requests::list))
            .route("/requests.{format}", web::post().to(requests::post))
            .route("/requests/{id}.{format}", web::get().to(requests::one))
            .route("/tokens/{token}.{format}", web::get().to(token))
            .default_service(web::to(unknown)),
    );
}
