//! The leaders' dashboard: reporting's panels as charts (ECharts, served by the console)
//! and, for every chart, the same figures as a table; the monthly report's XLSX and
//! CSV downloads, proxied from reporting.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::State;
use crate::api::{ApiError, Svc};
use crate::page::Page;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/dashboard", web::get().to(dashboard))
        .route("/dashboard/report.xlsx", web::get().to(xlsx))
        .route("/dashboard/report.csv", web::get().to(csv));
}

/// A figure of a row, whether reporting nests them under `figures` or not.
pub fn fig(row: &Value, name: &str) -> i64 {
    row["figures"][name]
        .as_i64()
        .or_else(|| row[name].as_i64())
        .unwrap_or(0)
}

fn township_name(code: &str) -> String {
    xf_jurisdiction::Tree::fixture()
        .ok()
        .and_then(|t| {
            let c = xf_jurisdiction::Code::parse(code).ok()?;
            t.name_of(&c).map(str::to_owned)
        })
        .unwrap_or_else(|| code.to_owned())
}

/// One chart: its id, title key, kind, labels and series, also shown as a table.
fn chart(
    id: &str,
    title: &str,
    kind: &str,
    labels: Vec<String>,
    series: Vec<(String, Vec<i64>)>,
) -> Value {
    let rows: Vec<Value> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| {
            json!({"label": l, "values": series.iter().map(|(_, d)| d.get(i).copied().unwrap_or(0)).collect::<Vec<_>>()})
        })
        .collect();
    json!({
        "id": id, "title": title, "kind": kind,
        "labels": labels,
        "series": series.iter().map(|(n, d)| json!({"name": n, "data": d})).collect::<Vec<_>>(),
        "rows": rows,
    })
}

fn this_month() -> String {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y-%m")
        .to_string()
}

async fn dashboard(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let p = match Page::require(&state, &req) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let token = p.token();
    let (overview, trend, categories, townships, units) = tokio::join!(
        state
            .api
            .get(Svc::Reporting, "/v1/dashboard/overview", token, &[]),
        state
            .api
            .get(Svc::Reporting, "/v1/dashboard/trend", token, &[]),
        state
            .api
            .get(Svc::Reporting, "/v1/dashboard/categories", token, &[]),
        state
            .api
            .get(Svc::Reporting, "/v1/dashboard/townships", token, &[]),
        state
            .api
            .get(Svc::Reporting, "/v1/dashboard/units", token, &[]),
    );
    let overview = match overview {
        Ok(v) => v,
        Err(e) => return p.fail(&e),
    };
    let t = |k: &str| state.ui.cat.t(k);
    let names = super::public::categories(&state).await;
    let cat_name = |code: &str| {
        names
            .iter()
            .find(|c| c["code"] == code)
            .and_then(|c| c["name"].as_str())
            .unwrap_or(code)
            .to_owned()
    };
    let rows = |r: &Result<Value, ApiError>| -> Vec<Value> {
        r.as_ref()
            .ok()
            .and_then(|v| v["rows"].as_array().cloned())
            .unwrap_or_default()
    };
    let mut charts = Vec::new();
    let tr = rows(&trend);
    charts.push(chart(
        "trend",
        &t("dashboard.trend"),
        "line",
        tr.iter()
            .map(|r| r["period"].as_str().unwrap_or("").to_owned())
            .collect(),
        vec![
            (
                t("figure.received"),
                tr.iter().map(|r| fig(r, "received")).collect(),
            ),
            (
                t("figure.closed"),
                tr.iter().map(|r| fig(r, "closed")).collect(),
            ),
        ],
    ));
    let cr = rows(&categories);
    charts.push(chart(
        "categories",
        &t("dashboard.categories"),
        "bar",
        cr.iter()
            .map(|r| cat_name(r["category"].as_str().unwrap_or("")))
            .collect(),
        vec![(
            t("figure.received"),
            cr.iter().map(|r| fig(r, "received")).collect(),
        )],
    ));
    let twr = rows(&townships);
    charts.push(chart(
        "townships",
        &t("dashboard.townships"),
        "bar",
        twr.iter()
            .map(|r| match r["township"].as_str().unwrap_or("") {
                "" => t("dashboard.county_level"),
                code => township_name(code),
            })
            .collect(),
        vec![(
            t("figure.received"),
            twr.iter().map(|r| fig(r, "received")).collect(),
        )],
    ));
    let ur = rows(&units);
    charts.push(chart(
        "units",
        &t("dashboard.units"),
        "bar",
        ur.iter()
            .map(|r| {
                r["unit"]
                    .as_str()
                    .or(r["unit_id"].as_str())
                    .map(str::to_owned)
                    .unwrap_or_else(|| t("dashboard.unassigned"))
            })
            .collect(),
        vec![(
            t("figure.overdue"),
            ur.iter().map(|r| fig(r, "overdue")).collect(),
        )],
    ));
    let figures = ["received", "accepted", "closed", "overdue", "on_time"];
    let summary: Vec<Value> = figures
        .iter()
        .map(|f| {
            json!({"label": t(&format!("figure.{f}")),
                "now": fig(&json!({"figures": overview["this_month"]["figures"]}), f)
                    .max(fig(&overview["this_month"], f)),
                "before": fig(&json!({"figures": overview["last_month"]["figures"]}), f)
                    .max(fig(&overview["last_month"], f))})
        })
        .collect();
    // Inside a <script type="application/json">: no "</" may close it early.
    let data = serde_json::to_string(&charts)
        .unwrap_or_else(|_| "[]".into())
        .replace("</", "<\\/");
    p.render(
        "dashboard.html",
        &t("dashboard.title"),
        json!({"charts": charts, "chart_data": data, "summary": summary, "month": this_month()}),
    )
}

#[derive(Deserialize)]
struct MonthQuery {
    month: Option<String>,
    part: Option<String>,
}

async fn download(
    req: HttpRequest,
    state: web::Data<State>,
    q: web::Query<MonthQuery>,
    format: &str,
) -> HttpResponse {
    let p = match Page::require(&state, &req) {
        Ok(p) => p,
        Err(r) => return r,
    };
    // Only what a month and a part can be travel on, and into the file name.
    let month: String = q
        .month
        .clone()
        .unwrap_or_else(this_month)
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '-')
        .take(7)
        .collect();
    let part: String = q
        .part
        .clone()
        .unwrap_or_else(|| "summary".into())
        .chars()
        .filter(char::is_ascii_lowercase)
        .take(20)
        .collect();
    let mut query = vec![("month", month.as_str()), ("format", format)];
    if format == "csv" {
        query.push(("part", part.as_str()));
    }
    match state
        .api
        .get_raw(Svc::Reporting, "/v1/reports/monthly", p.token(), &query)
        .await
    {
        Ok(r) => {
            let ct = r
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/octet-stream")
                .to_owned();
            match r.bytes().await {
                Ok(b) => {
                    let name = if format == "csv" {
                        format!("report-{month}-{part}.csv")
                    } else {
                        format!("report-{month}.xlsx")
                    };
                    HttpResponse::Ok()
                        .content_type(ct)
                        .insert_header((
                            "Content-Disposition",
                            format!("attachment; filename=\"{name}\""),
                        ))
                        .body(b)
                }
                Err(_) => p.fail(&ApiError::Unavailable(Svc::Reporting)),
            }
        }
        Err(e) => p.fail(&e),
    }
}

async fn xlsx(
    req: HttpRequest,
    state: web::Data<State>,
    q: web::Query<MonthQuery>,
) -> HttpResponse {
    download(req, state, q, "xlsx").await
}

async fn csv(req: HttpRequest, state: web::Data<State>, q: web::Query<MonthQuery>) -> HttpResponse {
    download(req, state, q, "csv").await
}
