//! The reception calendar (public, no sign-in): the offices, and one office's
//! published sessions as a month view.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{Datelike, Duration, NaiveDate};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::State;
use crate::api::Svc;
use crate::page::Page;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/calendar", web::get().to(offices))
        .route("/calendar/{office}", web::get().to(month));
}

async fn offices(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let p = Page::new(&state, &req);
    let county = state.settings.public.county.clone();
    match state
        .api
        .get(
            Svc::Scheduling,
            "/v1/offices",
            None,
            &[("jurisdiction", county.as_str())],
        )
        .await
    {
        Ok(v) => p.render(
            "offices.html",
            &state.ui.cat.t("calendar.title"),
            json!({"offices": v["items"]}),
        ),
        Err(e) => p.fail(&e),
    }
}

#[derive(Deserialize)]
struct MonthQuery {
    month: Option<String>,
}

/// The weeks (Monday first) of the month `first` begins, each day with its sessions.
pub fn weeks(first: NaiveDate, sessions: &[Value]) -> Vec<Vec<Value>> {
    let start = first - Duration::days(i64::from(first.weekday().num_days_from_monday()));
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    }
    .unwrap_or(first);
    let mut out = Vec::new();
    let mut day = start;
    while day < next {
        let mut week = Vec::new();
        for _ in 0..7 {
            let d = day.format("%Y-%m-%d").to_string();
            let items: Vec<&Value> = sessions
                .iter()
                .filter(|s| s["date"] == d.as_str())
                .collect();
            week.push(
                json!({"date": d, "day": day.day(), "in_month": day.month() == first.month(),
                "sessions": items}),
            );
            day += Duration::days(1);
        }
        out.push(week);
    }
    out
}

async fn month(
    req: HttpRequest,
    state: web::Data<State>,
    path: web::Path<String>,
    q: web::Query<MonthQuery>,
) -> HttpResponse {
    let p = Page::new(&state, &req);
    let office = path.into_inner();
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    let first = q
        .month
        .as_deref()
        .and_then(|m| NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").ok())
        .unwrap_or_else(|| today.with_day(1).unwrap_or(today));
    let last = weeks(first, &[])
        .last()
        .and_then(|w| w.last())
        .and_then(|d| d["date"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let from = first.format("%Y-%m-%d").to_string();
    let enc = percent_encoding::utf8_percent_encode(&office, percent_encoding::NON_ALPHANUMERIC)
        .to_string();
    let (office_path, sessions_path) = (
        format!("/v1/offices/{enc}"),
        format!("/v1/offices/{enc}/reception-sessions"),
    );
    let range = [("from", from.as_str()), ("to", last.as_str())];
    let (info, sessions) = tokio::join!(
        state.api.get(Svc::Scheduling, &office_path, None, &[]),
        state.api.get(Svc::Scheduling, &sessions_path, None, &range),
    );
    let info = match info {
        Ok(v) => v,
        Err(e) => return p.fail(&e),
    };
    let sessions = match sessions {
        Ok(v) => v["items"].as_array().cloned().unwrap_or_default(),
        Err(e) => return p.fail(&e),
    };
    let prev = (first - Duration::days(1)).format("%Y-%m").to_string();
    let next = (first + Duration::days(32)).format("%Y-%m").to_string();
    p.render(
        "calendar.html",
        &state.ui.cat.t("calendar.title"),
        json!({"office": info, "office_id": office, "month": first.format("%Y-%m").to_string(),
            "prev": prev, "next": next, "weeks": weeks(first, &sessions), "count": sessions.len()}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_month_is_whole_weeks_from_monday() {
        let first = NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
        let s = vec![json!({"date": "2026-12-15", "start": "09:00"})];
        let w = weeks(first, &s);
        assert_eq!(w[0][0]["date"], "2026-11-30");
        assert_eq!(w.len(), 5);
        let day = w
            .iter()
            .flatten()
            .find(|d| d["date"] == "2026-12-15")
            .expect("day");
        assert_eq!(day["sessions"].as_array().map(Vec::len), Some(1));
    }
}
