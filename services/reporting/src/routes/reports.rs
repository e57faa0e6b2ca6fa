//! The monthly report: read (stored, or generated and stored once the month is over),
//! regenerated on demand, downloaded as CSV or XLSX.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;
use xf_app::Clock;
use xf_auth::Authenticated;
use xf_http::{FieldError, Problem, ValidJson};

use super::Format;
use crate::domain::query::{FIGURES, month};
use crate::export::{self, Sheet};
use crate::jobs::monthly;
use crate::store;

#[derive(utoipa::OpenApi)]
#[openapi(paths(get_monthly, regenerate))]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/reports/monthly", web::get().to(get_monthly))
        .route("/v1/reports/monthly", web::post().to(regenerate));
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MonthlyQuery {
    /// The month, YYYY-MM.
    month: String,
    /// The office: a county or township code inside the token's (default the token's).
    jurisdiction: Option<String>,
    /// json (default), csv or xlsx.
    format: Option<String>,
    /// For csv: summary (default), categories, townships or leaders.
    part: Option<String>,
}

fn check_month(m: &str) -> Result<(), Problem> {
    month(m).map(|_| ()).ok_or_else(|| {
        Problem::validation(vec![FieldError::new(
            "month",
            format!("{m:?} is not a month (YYYY-MM)"),
        )])
    })
}

/// True when the month is over by the service's clock.
fn closed(m: &str, clock: &Clock) -> bool {
    month(m).is_some_and(|(first, _)| monthly::bounds(first).1 <= clock.now())
}

/// The stored report, or one generated now (stored when the month is over).
async fn load(pool: &PgPool, clock: &Clock, m: &str, office: &str) -> Result<Value, Problem> {
    let unavailable = |e: sqlx::Error| xf_store::problem(&e);
    if let Some(s) = store::reports::get(pool, m, office)
        .await
        .map_err(unavailable)?
    {
        return Ok(
            json!({"id": s.id, "generated_at": s.generated_at, "final": true, "report": s.body}),
        );
    }
    let body = monthly::generate(pool, m, office)
        .await
        .map_err(unavailable)?
        .unwrap_or(Value::Null);
    if closed(m, clock) {
        let mut tx = pool.begin().await.map_err(unavailable)?;
        store::reports::put(&mut tx, Uuid::now_v7(), m, office, clock.now(), &body)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        // Another request may have stored it first: answer what is stored.
        if let Some(s) = store::reports::get(pool, m, office)
            .await
            .map_err(unavailable)?
        {
            return Ok(
                json!({"id": s.id, "generated_at": s.generated_at, "final": true, "report": s.body}),
            );
        }
    }
    Ok(json!({"id": null, "generated_at": clock.now(), "final": false, "report": body}))
}

/// The month's report for an office.
#[utoipa::path(get, path = "/v1/reports/monthly", tag = "reports", params(MonthlyQuery),
    responses(
        (status = 200, description = "format=json (default): {id, generated_at, final, report}; final reports (a month that is over) are stored and read back unchanged. format=csv: one part of the report (part=summary|categories|townships|leaders), no row cap. format=xlsx: sheets Summary, Categories, Townships, Leaders.",
            content(("application/json"), ("text/csv"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "month, jurisdiction, format or part invalid", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn get_monthly(
    user: Authenticated,
    q: web::Query<MonthlyQuery>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    check_month(&q.month)?;
    let fmt = super::format(q.format.as_deref())?;
    let part = q.part.as_deref().unwrap_or("summary");
    if !["summary", "categories", "townships", "leaders"].contains(&part) {
        return Err(Problem::validation(vec![FieldError::new(
            "part",
            "one of summary, categories, townships, leaders",
        )]));
    }
    let office = super::scope(&user.0, q.jurisdiction.as_deref(), &pool).await?;
    let v = load(&pool, &clock, &q.month, &office).await?;
    let name = format!("report-{office}-{}", q.month);
    Ok(match fmt {
        Format::Json => HttpResponse::Ok().json(v),
        Format::Csv => {
            let s = sheets(&v["report"]);
            let i = ["summary", "categories", "townships", "leaders"]
                .iter()
                .position(|p| *p == part)
                .unwrap_or(0);
            let sh = &s[i];
            super::download(
                export::CSV,
                &format!("{name}-{part}.csv"),
                export::csv(&sh.header, &sh.rows),
            )
        }
        Format::Xlsx => {
            let bytes = export::xlsx(&sheets(&v["report"])).map_err(|e| Problem::internal(&e))?;
            super::download(export::XLSX, &format!("{name}.xlsx"), bytes)
        }
    })
}

fn figure_rows(rows: &Value, key: &str) -> (Vec<String>, Vec<Vec<Value>>) {
    let mut header = vec![key.to_owned()];
    header.extend(FIGURES.iter().map(|(n, _)| (*n).to_owned()));
    let rows = rows
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| header.iter().map(|h| r[h.as_str()].clone()).collect())
                .collect()
        })
        .unwrap_or_default();
    (header, rows)
}

/// The report as four tables.
pub fn sheets(r: &Value) -> Vec<Sheet<'static>> {
    let st = &r["statistics"];
    let summary = Sheet {
        name: "Summary",
        header: vec![
            "figure".into(),
            "this_month".into(),
            "previous_month".into(),
            "same_month_last_year".into(),
        ],
        rows: FIGURES
            .iter()
            .map(|(n, _)| {
                vec![
                    json!(n),
                    st["this_month"][n].clone(),
                    st["previous_month"]["figures"][n].clone(),
                    st["same_month_last_year"]["figures"][n].clone(),
                ]
            })
            .collect(),
    };
    let (h, rows) = figure_rows(&r["by_category"], "category");
    let cats = Sheet {
        name: "Categories",
        header: h,
        rows,
    };
    let (h, rows) = figure_rows(&r["by_township"], "township");
    let towns = Sheet {
        name: "Townships",
        header: h,
        rows,
    };
    let cols = [
        "registration_no",
        "category",
        "status",
        "tier",
        "unit_id",
        "overdue",
        "registered_at",
    ];
    let mut lrows = Vec::new();
    for l in r["leaders"].as_array().into_iter().flatten() {
        for c in l["cases"].as_array().into_iter().flatten() {
            let mut row = vec![l["leader_id"].clone()];
            row.extend(cols.iter().map(|k| c[*k].clone()));
            lrows.push(row);
        }
    }
    let mut lh = vec!["leader_id".to_owned()];
    lh.extend(cols.iter().map(|c| (*c).to_owned()));
    let leaders = Sheet {
        name: "Leaders",
        header: lh,
        rows: lrows,
    };
    vec![summary, cats, towns, leaders]
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegenerateBody {
    /// YYYY-MM.
    month: String,
    /// The office (default the token's jurisdiction).
    jurisdiction: Option<String>,
}

/// Generates the report again and compares it with the stored one.
#[utoipa::path(post, path = "/v1/reports/monthly", tag = "reports", request_body = RegenerateBody,
    responses(
        (status = 200, description = "{report (generated now), stored (the stored report or null), identical}"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn regenerate(
    user: Authenticated,
    body: ValidJson<RegenerateBody>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    check_month(&b.month)?;
    let office = match b.jurisdiction.as_deref() {
        Some(j) => super::scope(&user.0, Some(j), &pool).await?,
        None => super::acting_scope(&user.0, &pool).await?,
    };
    let unavailable = |e: sqlx::Error| xf_store::problem(&e);
    let now = monthly::generate(&pool, &b.month, &office)
        .await
        .map_err(unavailable)?
        .unwrap_or(Value::Null);
    let stored = store::reports::get(&pool, &b.month, &office)
        .await
        .map_err(unavailable)?
        .map(|s| s.body);
    let identical = stored.as_ref() == Some(&now);
    Ok(HttpResponse::Ok().json(json!({"report": now, "stored": stored, "identical": identical})))
}
