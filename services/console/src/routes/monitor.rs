//! The supervision monitor (supervision offices, leaders): the cases that moved up a
//! tier and why, overdue cases by unit, and the supervision cards.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use crate::State;
use crate::api::{ApiError, Svc};
use crate::page::Page;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/monitor", web::get().to(monitor));
}

async fn monitor(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let p = match Page::require(&state, &req) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let token = p.token();
    let (moves, cards, units) = tokio::join!(
        state
            .api
            .get(Svc::Supervision, "/v1/monitor", token, &[("limit", "100")]),
        state
            .api
            .get(Svc::Supervision, "/v1/cards", token, &[("limit", "100")]),
        state
            .api
            .get(Svc::Reporting, "/v1/dashboard/units", token, &[]),
    );
    let moves = match moves {
        Ok(v) => v,
        Err(e) => return p.fail(&e),
    };
    let mut banners = Vec::new();
    for r in [&cards, &units] {
        if let Err(ApiError::Unavailable(svc)) = r {
            banners.push(format!(
                "{}（{}）",
                state.ui.cat.t("error.unavailable"),
                state.ui.cat.t(&format!("svc.{}", svc.name()))
            ));
        }
    }
    let totals: Vec<Value> = moves["totals"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| json!({"reason": k, "cases": v["cases"], "moves": v["moves"]}))
                .collect()
        })
        .unwrap_or_default();
    let units: Vec<Value> = units
        .ok()
        .and_then(|v| v["rows"].as_array().cloned())
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            let unassigned = state.ui.cat.t("dashboard.unassigned");
            json!({"unit": r["unit"].as_str().or(r["unit_id"].as_str()).unwrap_or(&unassigned),
                "overdue": super::dashboard::fig(&r, "overdue"),
                "received": super::dashboard::fig(&r, "received")})
        })
        .collect();
    p.render(
        "monitor.html",
        &state.ui.cat.t("monitor.title"),
        json!({
            "moves": moves["cases"],
            "total_cases": moves["total_cases"],
            "totals": totals,
            "from": moves["from"], "to": moves["to"],
            "cards": cards.ok().map(|c| c["items"].clone()),
            "units": units,
            "banners": banners,
        }),
    )
}
