//! The admin audit trail: every change to what steers a service — a category's class,
//! a unit, a routing rule, a deadline policy, a reception office and its rules — is
//! recorded in the owning service (who, when, before, after, reason) and listed at
//! `GET /v1/admin/audit` for administrators and supervisors over the place; a bad
//! reason changes nothing; an unchanged save records nothing.

use reqwest::{StatusCode, Url};
use serde_json::{Value, json};
use xf_auth::roles;
use xf_testkit::{Ctx, call};

const COUNTY: &str = "330122";
const TOWN: &str = "330122002";
const OTHER_TOWN: &str = "330122001";

fn with_reason(base: String, reason: &str) -> String {
    Url::parse_with_params(&base, &[("reason", reason)])
        .expect("url")
        .to_string()
}

async fn audit(ctx: &Ctx, service: &str, token: &str, query: &str) -> (StatusCode, Value) {
    call(
        "GET",
        &ctx.svc(service).url(&format!("/v1/admin/audit{query}")),
        token,
        None,
    )
    .await
}

fn items(v: &Value) -> Vec<Value> {
    v["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn changes_to_categories_units_rules_policies_and_offices_are_recorded_and_listed() {
    let mut ctx = Ctx::new().await.expect("context");
    xf_e2e::start_all(&mut ctx).await.expect("stack starts");
    let sign = |sub: &str, roles: &[&str], scope: &str| {
        ctx.signer()
            .sign(&xf_auth::claims(sub, roles, None, scope, 3600))
            .expect("token")
    };
    let admin = sign("admin-wang", &[roles::ADMIN], COUNTY);
    let supervisor = sign("sup-li", &[roles::SUPERVISOR], COUNTY);
    let clerk = sign("clerk-zhao", &[roles::HANDLER], COUNTY);
    let intake = |p: &str| ctx.svc("intake").url(p);

    // A category is created, then made an accusation class (it seals new cases).
    let cat = intake("/v1/categories/audit_road");
    let (s, v) = call(
        "PUT",
        &cat,
        &admin,
        Some(json!({"name": "道路养护", "class": "claim", "public": true})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let why = "群众反映涉及干部作风，改为检举控告类";
    let (s, v) = call(
        "PUT",
        &with_reason(cat.clone(), why),
        &admin,
        Some(json!({"name": "道路养护", "class": "accusation"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // The same save again changes nothing and records nothing.
    let (s, _) = call(
        "PUT",
        &cat,
        &admin,
        Some(json!({"name": "道路养护", "class": "accusation"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    // A reason past 500 characters is refused, naming it, and nothing changes.
    let (s, v) = call(
        "PUT",
        &with_reason(cat.clone(), &"长".repeat(501)),
        &admin,
        Some(json!({"name": "道路养护", "class": "claim"})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["errors"][0]["field"], "reason", "{v}");

    let (s, v) = audit(&ctx, "intake", &supervisor, "?kind=category&key=audit_road").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let trail = items(&v);
    assert_eq!(trail.len(), 2, "create and one change: {v}");
    let (change, created) = (&trail[0], &trail[1]);
    assert_eq!(change["action"], "update");
    assert_eq!(change["actor"], "admin-wang");
    assert_eq!(change["actor_scope"], COUNTY);
    assert_eq!(change["reason"], why);
    assert_eq!(change["before"]["class"], "claim");
    assert_eq!(change["before"]["public"], true);
    assert_eq!(change["after"]["class"], "accusation");
    assert_eq!(change["after"]["public"], false);
    assert!(change["at"].as_str().is_some_and(|t| t.starts_with("20")));
    assert_eq!(created["action"], "create");
    assert!(created["before"].is_null());
    assert_eq!(created["reason"], Value::Null);

    // Readers are administrators and supervisors; a bad filter is named.
    let (s, _) = audit(&ctx, "intake", &clerk, "").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = audit(&ctx, "intake", "", "").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, v) = audit(&ctx, "intake", &admin, "?key=x&limit=0").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let mut fields: Vec<&str> = v["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["field"].as_str())
        .collect();
    fields.sort_unstable();
    assert_eq!(fields, ["key", "limit"], "every bad filter at once: {v}");

    // Routing: a township's unit and rule, seen by the county and that township,
    // not by another township.
    let routing = |p: &str| ctx.svc("routing").url(p);
    let (s, v) = call(
        "PUT",
        &with_reason(routing("/v1/units/audit-town-gtj"), "新设国土所"),
        &admin,
        Some(
            json!({"name": "镇国土所", "kind": "department", "jurisdiction_code": TOWN,
            "categories": ["land"]}),
        ),
    )
    .await;
    assert!(s.is_success(), "{v}");
    let (s, v) = call(
        "PUT",
        &routing("/v1/rules/audit-land"),
        &admin,
        Some(
            json!({"category": "land", "jurisdiction_code": TOWN, "competent_tier": "township",
            "lead_unit_id": "audit-town-gtj", "effective_from": "2026-01-01T00:00:00Z"}),
        ),
    )
    .await;
    assert!(s.is_success(), "{v}");
    let (s, v) = call(
        "DELETE",
        &with_reason(routing("/v1/rules/audit-land"), "规则停用"),
        &admin,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, v) = audit(&ctx, "routing", &supervisor, "?kind=rule&key=audit-land").await;
    let rule = items(&v);
    assert_eq!(
        rule.iter().map(|e| e["action"].clone()).collect::<Vec<_>>(),
        [json!("retire"), json!("create")],
        "{v}"
    );
    assert_eq!(rule[0]["reason"], "规则停用");
    assert!(rule[0]["before"]["effective_to"].is_null());
    assert!(rule[0]["after"]["effective_to"].is_string());
    assert_eq!(rule[1]["after"]["lead_unit_id"], "audit-town-gtj");
    let town = sign("sup-town", &[roles::SUPERVISOR], TOWN);
    let other = sign("sup-other", &[roles::SUPERVISOR], OTHER_TOWN);
    let (_, v) = audit(&ctx, "routing", &town, "?kind=unit&key=audit-town-gtj").await;
    assert_eq!(items(&v).len(), 1, "{v}");
    assert_eq!(items(&v)[0]["after"]["kind"], "department");
    assert_eq!(items(&v)[0]["reason"], "新设国土所");
    let (_, v) = audit(&ctx, "routing", &other, "?kind=unit&key=audit-town-gtj").await;
    assert!(items(&v).is_empty(), "another township's change: {v}");

    // Supervision: a policy and its next version, before and after.
    let policy = ctx.svc("supervision").url("/v1/policies/audit-acc");
    for (days, from) in [(15, "2026-01-01T00:00:00Z"), (10, "2026-06-01T00:00:00Z")] {
        let (s, v) = call(
            "PUT",
            &policy,
            &admin,
            Some(
                json!({"name": "受理时限", "jurisdiction_code": TOWN, "effective_from": from,
                "stages": {"acceptance": {"days": days, "counting": "working_days"}}}),
            ),
        )
        .await;
        assert!(s.is_success(), "{v}");
    }
    let (_, v) = audit(
        &ctx,
        "supervision",
        &supervisor,
        "?kind=policy&key=audit-acc",
    )
    .await;
    let p = items(&v);
    assert_eq!(p.len(), 2, "{v}");
    assert_eq!(p[0]["action"], "update");
    assert_eq!(p[0]["before"]["version"], 1);
    assert_eq!(p[0]["before"]["stages"]["acceptance"]["days"], 15);
    assert_eq!(p[0]["after"]["version"], 2);
    assert_eq!(p[0]["after"]["stages"]["acceptance"]["days"], 10);

    // Scheduling: an office and a reception rule.
    let keeper = sign("keeper-chen", &[roles::SCHEDULER], COUNTY);
    let office = ctx.svc("scheduling").url("/v1/offices/audit-town");
    let (s, v) = call(
        "PUT",
        &with_reason(office.clone(), "新设镇信访办"),
        &keeper,
        Some(json!({
            "name": "镇信访办", "jurisdiction_code": TOWN, "kind": "township", "place": "镇政府一楼",
            "notice_days": 2, "follow_up_hours": 168,
            "people": [{"id": "zz", "name": "镇长", "post": "镇长", "role": "leader"},
                       {"id": "gb", "name": "干部", "post": "信访干部", "role": "staff"}],
            "duty": {"leaders": ["zz"], "staff": ["gb"], "staff_per_day": 1}})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = call(
        "PUT",
        &format!("{office}/reception-rules/monday"),
        &keeper,
        Some(
            json!({"kind": "weekly", "parameters": {"weekdays": ["monday"]}, "post": "镇长",
            "leaders": ["zz"], "slots": [{"start": "09:00", "end": "11:00"}], "place": "接待室",
            "form": "fixed_point", "capacity": 5, "effective_from": "2027-01-01"}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, v) = audit(&ctx, "scheduling", &admin, "").await;
    let kinds: Vec<(String, String, String)> = items(&v)
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or("").to_owned(),
                e["key"].as_str().unwrap_or("").to_owned(),
                e["actor"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert!(
        kinds.contains(&("office".into(), "audit-town".into(), "keeper-chen".into())),
        "{v}"
    );
    assert!(
        kinds.contains(&(
            "reception_rule".into(),
            "audit-town/monday".into(),
            "keeper-chen".into()
        )),
        "{v}"
    );
    let office_entry = items(&v)
        .into_iter()
        .find(|e| e["kind"] == "office")
        .expect("office entry");
    assert_eq!(office_entry["after"]["people"][0]["post"], "镇长");
    assert_eq!(office_entry["reason"], "新设镇信访办");
    ctx.cleanup().await;
}

/// Open311 clients come from the key file: the list (names and offices, never keys) is
/// recorded when intake starts with a list unlike the last one recorded, once.
#[tokio::test]
async fn the_open311_client_list_is_recorded_when_it_changes() {
    let mut ctx = Ctx::new().await.expect("context");
    let keys = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scripts/open311-client/dev-open311-keys.txt");
    let keys = keys.display().to_string();
    let start = |ctx: &Ctx| {
        ctx.settings::<xf_intake::Ext>(&xf_intake::binary(), &[("open311.api_keys_file", &keys)])
            .expect("settings")
    };
    let app = xf_intake::build(start(&ctx)).await.expect("intake");
    ctx.spawn("intake", app);
    let admin = ctx.token(&[roles::ADMIN], None, COUNTY);
    let (s, v) = audit(&ctx, "intake", &admin, "?kind=open311_client").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let trail = items(&v);
    assert_eq!(trail.len(), 1, "{v}");
    assert_eq!(trail[0]["actor"], "deployment");
    assert_eq!(trail[0]["after"][0]["office"], COUNTY, "{v}");
    assert!(
        !v.to_string().contains("dev-open311-key"),
        "no key in the trail: {v}"
    );
    // The same file at the next start: nothing new.
    ctx.svc_mut("intake").stop().await;
    let app = xf_intake::build(start(&ctx)).await.expect("intake again");
    ctx.spawn("intake", app);
    let (_, v) = audit(&ctx, "intake", &admin, "?kind=open311_client").await;
    assert_eq!(items(&v).len(), 1, "{v}");
    ctx.cleanup().await;
}
