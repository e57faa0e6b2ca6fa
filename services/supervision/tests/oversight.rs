//! Supervision cards, the overdue sweep, leader ownership, the cross-level monitor and
//! accountability records, against the real Postgres, broker, JWTs and HTTP.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Duration as Days, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;
use xf_events::v1::{CaseDispatched, CaseEscalated, DuplicateLinked, EscalationReason, Stage};
use xf_events::{Event, Payload, Tier};
use xf_testkit::{Ctx, eventually, http, produce_raw, read_topic};

const COUNTY: &str = "330122";
const TOWN: &str = "330122002";
const VILLAGE: &str = "330122002200";
const OTHER_TOWN: &str = "330122003";
const OTHER_VILLAGE: &str = "330122003001";
const OTHER_COUNTY: &str = "330106";

struct World {
    ctx: Ctx,
    produced: AtomicUsize,
    supervisor: String,
}

impl World {
    async fn start() -> World {
        let mut ctx = Ctx::new().await.expect("context");
        let s = ctx
            .settings::<xf_supervision::Ext>(&xf_supervision::binary(), &[])
            .expect("settings");
        let app = xf_supervision::build(s).await.expect("builds");
        ctx.spawn("supervision", app);
        let supervisor = ctx.token(&["supervisor"], None, COUNTY);
        World {
            ctx,
            produced: AtomicUsize::new(0),
            supervisor,
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.ctx.svc("supervision").clock.now()
    }

    fn pool(&self) -> &sqlx::PgPool {
        &self.ctx.svc("supervision").pool
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        xf_testkit::send(method, &self.ctx.svc("supervision").url(path), token, body).await
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        xf_testkit::call(method, &self.ctx.svc("supervision").url(path), token, body).await
    }

    async fn produce_at(
        &self,
        case: Uuid,
        code: &str,
        producer: &str,
        at: DateTime<Utc>,
        p: Payload,
    ) {
        let tier = if code.len() == 4 {
            Tier::City
        } else {
            xf_events::tier_of_code(code)
        };
        let env = xf_events::envelope(case, producer, tier, code, at, p);
        produce_raw(
            &self.ctx.brokers,
            &self.ctx.topic,
            &env.case_id,
            &xf_events::encode(&env),
            &[],
        )
        .await;
        self.produced.fetch_add(1, Ordering::SeqCst);
    }

    /// Routing dispatched `case` to `unit` at `code`.
    async fn dispatch(
        &self,
        case: Uuid,
        code: &str,
        unit: &str,
        at: DateTime<Utc>,
        f: impl FnOnce(&mut CaseDispatched),
    ) {
        let mut d = CaseDispatched {
            unit_id: unit.into(),
            unit_name: format!("单位{unit}"),
            tier: xf_events::tier_of_code(code) as i32,
            jurisdiction_code: code.into(),
            rule_id: "test".into(),
            ..Default::default()
        };
        f(&mut d);
        self.produce_at(case, code, "routing", at, Payload::CaseDispatched(d))
            .await;
    }

    async fn moves_count(&self, case: Uuid) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM tier_moves WHERE case_id = $1")
            .bind(case)
            .fetch_one(self.pool())
            .await
            .expect("count")
    }

    /// Waits until the registry holds `n` dispatches of `case`.
    async fn wait_moves(&self, case: Uuid, n: i64) {
        eventually(
            &format!("{n} moves of {case}"),
            Duration::from_secs(60),
            || async move { (self.moves_count(case).await >= n).then_some(()) },
        )
        .await;
    }

    /// Every event on the topic (what was produced here and what supervision published),
    /// once the outbox is drained.
    async fn events(&self) -> Vec<Event> {
        let pool = self.pool().clone();
        let published: i64 = eventually("the outbox drained", Duration::from_secs(60), || {
            let pool = pool.clone();
            async move {
                let (all, pending): (i64, i64) = sqlx::query_as(
                    "SELECT count(*), count(*) FILTER (WHERE published_at IS NULL) FROM outbox",
                )
                .fetch_one(&pool)
                .await
                .ok()?;
                (pending == 0).then_some(all)
            }
        })
        .await;
        let want = self.produced.load(Ordering::SeqCst) + usize::try_from(published).unwrap_or(0);
        read_topic(
            &self.ctx.brokers,
            &self.ctx.topic,
            want,
            Duration::from_secs(30),
        )
        .await
        .iter()
        .filter_map(|r| xf_events::decode(&r.payload).ok())
        .collect()
    }

    async fn card(&self, id: &str) -> Value {
        let (s, v) = self
            .call("GET", &format!("/v1/cards/{id}"), &self.supervisor, None)
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }
}

fn fields(v: &Value) -> Vec<String> {
    let mut f: Vec<String> = v["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    f.sort_unstable();
    f
}

fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Percent-encodes a query value (RFC 3339 times carry `+` and `:`).
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn cards_follow_their_state_machine_within_scope_and_unit() {
    let w = World::start().await;
    let case = Uuid::now_v7();
    w.dispatch(case, VILLAGE, "v-committee", w.now(), |_| {})
        .await;
    w.wait_moves(case, 1).await;

    let unit = w.ctx.token(&["handler"], Some("jxj-zf"), TOWN);
    let other_unit = w.ctx.token(&["handler"], Some("jxj-gt"), TOWN);
    let far_unit = w.ctx.token(&["handler"], Some("xh-zf"), OTHER_COUNTY);
    let far_supervisor = w.ctx.token(&["supervisor"], None, OTHER_COUNTY);
    let due = w.now() + Days::days(10);
    let good = json!({"case_id": case, "instruction": "请于十日内核实土地纠纷并报告结果",
        "undertaking_unit_id": "jxj-zf", "due_at": rfc(due)});

    // Bad input, named: empty instruction and unit, a deadline in the past.
    let (s, v) = w
        .call(
            "POST",
            "/v1/cards",
            &w.supervisor,
            Some(
                json!({"case_id": case, "instruction": " ", "undertaking_unit_id": "",
                "due_at": rfc(w.now() - Days::hours(1))}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        fields(&v),
        ["due_at", "instruction", "undertaking_unit_id"],
        "{v}"
    );
    let long = "督".repeat(2001);
    let (s, v) = w
        .call(
            "POST",
            "/v1/cards",
            &w.supervisor,
            Some(
                json!({"case_id": case, "instruction": long, "undertaking_unit_id": "jxj-zf",
                "due_at": rfc(due)}),
            ),
        )
        .await;
    assert_eq!(
        (s, fields(&v)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["instruction".to_owned()]
        )
    );
    let (s, v) = w
        .call(
            "POST",
            "/v1/cards",
            &w.supervisor,
            Some(
                json!({"case_id": case, "instruction": "x", "undertaking_unit_id": "jxj-zf",
                "due_at": "next tuesday"}),
            ),
        )
        .await;
    assert_eq!(
        (s, fields(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["due_at".to_owned()])
    );
    let (s, v) = w
        .call(
            "POST",
            "/v1/cards",
            &w.supervisor,
            Some(
                json!({"case_id": "not-a-uuid", "instruction": "x", "undertaking_unit_id": "u",
                "due_at": rfc(due)}),
            ),
        )
        .await;
    assert_eq!(
        (s, fields(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["case_id".to_owned()])
    );
    // A case the registry does not know; a case outside the issuer's jurisdiction; a
    // role that does not issue cards.
    let mut unknown = good.clone();
    unknown["case_id"] = json!(Uuid::now_v7());
    let (s, _) = w
        .call("POST", "/v1/cards", &w.supervisor, Some(unknown))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = w
        .call("POST", "/v1/cards", &far_supervisor, Some(good.clone()))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "outside: no such case");
    let (s, _) = w.call("POST", "/v1/cards", &unit, Some(good.clone())).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let cards: i64 = sqlx::query_scalar("SELECT count(*) FROM cards")
        .fetch_one(w.pool())
        .await
        .expect("count");
    assert_eq!(cards, 0, "refused requests store nothing");

    // Issued.
    let (s, card) = w.call("POST", "/v1/cards", &w.supervisor, Some(good)).await;
    assert_eq!(s, StatusCode::CREATED, "{card}");
    assert_eq!(card["state"], "issued");
    assert_eq!(card["undertaking_unit_id"], "jxj-zf");
    assert_eq!(card["jurisdiction_code"], VILLAGE);
    let id = card["id"].as_str().expect("id").to_owned();
    let path = |a: &str| format!("/v1/cards/{id}/{a}");

    // Who sees it: the unit and overseers; another unit, in the county or elsewhere,
    // and a supervisor elsewhere do not learn it exists.
    let (s, _) = w.call("GET", &format!("/v1/cards/{id}"), &unit, None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = w
        .call("GET", &format!("/v1/cards/{id}"), &other_unit, None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = w
        .call("GET", &format!("/v1/cards/{id}"), &far_unit, None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = w
        .call("GET", &format!("/v1/cards/{id}"), &far_supervisor, None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Illegal moves before acknowledging: 409, nothing changed.
    let before = w.card(&id).await;
    let (s, v) = w
        .call(
            "POST",
            &path("progress"),
            &unit,
            Some(json!({"text": "已开始核实"})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, _) = w
        .call(
            "POST",
            &path("complete"),
            &unit,
            Some(json!({"result": "已办结"})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(w.card(&id).await, before, "a refused move changes nothing");

    // Another unit may not acknowledge; the undertaking unit does, once.
    let (s, _) = w
        .call("POST", &path("acknowledge"), &other_unit, None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = w.call("POST", &path("acknowledge"), &far_unit, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = w.call("POST", &path("acknowledge"), &unit, None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["state"], "acknowledged");
    assert!(v["acknowledged_at"].is_string());
    let (s, _) = w
        .call("POST", &path("acknowledge"), &w.supervisor, None)
        .await;
    assert_eq!(s, StatusCode::CONFLICT);

    // Progress: only the unit; the text is named when missing.
    let (s, v) = w
        .call("POST", &path("progress"), &unit, Some(json!({"text": ""})))
        .await;
    assert_eq!(
        (s, fields(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["text".to_owned()])
    );
    let (s, v) = w
        .call("POST", &path("progress"), &unit, Some(json!({"txt": "x"})))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, _) = w
        .call(
            "POST",
            &path("progress"),
            &w.supervisor,
            Some(json!({"text": "代报"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = w
        .call(
            "POST",
            &path("progress"),
            &other_unit,
            Some(json!({"text": "x"})),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = w
        .call(
            "POST",
            &path("progress"),
            &unit,
            Some(json!({"text": "已约谈双方，正在丈量"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["state"], "in_progress");
    let (s, v) = w
        .call(
            "POST",
            &path("progress"),
            &unit,
            Some(json!({"text": "丈量完成"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["reports"].as_array().map(Vec::len), Some(2));

    // Urging (催办): supervisors only.
    let (s, _) = w
        .call("POST", &path("urge"), &unit, Some(json!({"note": "x"})))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = w
        .call(
            "POST",
            &path("urge"),
            &w.supervisor,
            Some(json!({"note": "请加快办理"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["urge_count"], 1);
    assert_eq!(v["urges"][0]["note"], "请加快办理");

    // Completed; then nothing more moves.
    let (s, v) = w
        .call(
            "POST",
            &path("complete"),
            &unit,
            Some(json!({"result": " "})),
        )
        .await;
    assert_eq!(
        (s, fields(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["result".to_owned()])
    );
    let (s, v) = w
        .call(
            "POST",
            &path("complete"),
            &unit,
            Some(json!({"result": "已协调解决，双方签字确认"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["state"], "completed");
    let done = w.card(&id).await;
    for (action, body) in [
        ("urge", json!({"note": "再催"})),
        ("progress", json!({"text": "补充"})),
        ("complete", json!({"result": "再办结"})),
        ("acknowledge", Value::Null),
    ] {
        let token = if action == "urge" {
            &w.supervisor
        } else {
            &unit
        };
        let body = (!body.is_null()).then_some(body);
        let (s, v) = w.call("POST", &path(action), token, body).await;
        assert_eq!(s, StatusCode::CONFLICT, "{action}: {v}");
    }
    assert_eq!(w.card(&id).await, done, "refused moves change nothing");
    let actions: Vec<&str> = done["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|h| h["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "issued",
            "acknowledged",
            "progress_reported",
            "progress_reported",
            "urged",
            "completed"
        ]
    );

    // Lists: overseers by jurisdiction and state, units their own cards.
    let (s, v) = w
        .call("GET", "/v1/cards?state=completed", &w.supervisor, None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["items"].as_array().map(Vec::len), Some(1));
    let (_, v) = w.call("GET", "/v1/cards", &other_unit, None).await;
    assert_eq!(v["items"].as_array().map(Vec::len), Some(0));
    let (_, v) = w.call("GET", "/v1/cards", &unit, None).await;
    assert_eq!(v["items"][0]["id"], id.as_str());
    let (_, v) = w
        .call(
            "GET",
            &format!("/v1/cards?jurisdiction={OTHER_TOWN}"),
            &w.supervisor,
            None,
        )
        .await;
    assert_eq!(v["items"].as_array().map(Vec::len), Some(0));
    let (s, v) = w
        .call("GET", "/v1/cards?state=lost", &w.supervisor, None)
        .await;
    assert_eq!(
        (s, fields(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["state".to_owned()])
    );
    let (s, _) = w
        .call(
            "GET",
            &format!("/v1/cards?jurisdiction={OTHER_COUNTY}"),
            &w.supervisor,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // The issue was announced once, for the case's jurisdiction.
    let issued: Vec<Event> = w
        .events()
        .await
        .into_iter()
        .filter(|e| e.case_id == case && e.type_name() == "SupervisionCardIssued")
        .collect();
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].envelope.jurisdiction_code, VILLAGE);
    let Some(Payload::SupervisionCardIssued(p)) = issued[0].payload() else {
        panic!("payload");
    };
    assert_eq!(
        (p.card_id.as_str(), p.unit_id.as_str()),
        (id.as_str(), "jxj-zf")
    );
    assert_eq!(
        xf_events::from_timestamp(p.due_at.as_ref()).map(|t| t.timestamp()),
        Some(due.timestamp())
    );
    w.ctx.cleanup().await;
}

async fn issue(w: &World, case: Uuid, unit: &str, due: DateTime<Utc>) -> String {
    let (s, v) = w
        .call(
            "POST",
            "/v1/cards",
            &w.supervisor,
            Some(
                json!({"case_id": case, "instruction": "限期办结", "undertaking_unit_id": unit,
                "due_at": rfc(due)}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_str().expect("id").to_owned()
}

async fn sweep_once(w: &World, now: DateTime<Utc>) -> u64 {
    let outbox = xf_bus::Outbox::new(&w.ctx.topic);
    let mut tx = w.pool().begin().await.expect("tx");
    let n = xf_supervision::oversight::sweep(&mut tx, now, &outbox)
        .await
        .expect("sweep");
    tx.commit().await.expect("commit");
    n
}

#[tokio::test]
async fn an_overdue_card_escalates_its_case_exactly_once() {
    let w = World::start().await;
    let case = Uuid::now_v7();
    w.dispatch(case, VILLAGE, "v-committee", w.now(), |_| {})
        .await;
    w.wait_moves(case, 1).await;
    let outbox = xf_bus::Outbox::new(&w.ctx.topic);
    // Due in an hour by the service's clock; the sweeps below look two hours ahead, so
    // the service's own sweeper (at the present) leaves the cards alone.
    let due = w.now() + Days::hours(1);
    let later = w.now() + Days::hours(2);
    let first = issue(&w, case, "jxj-zf", due).await;
    assert_eq!(sweep_once(&w, w.now()).await, 0, "not due yet");

    // A sweep that crashes before committing leaves no trace.
    {
        let mut tx = w.pool().begin().await.expect("tx");
        let n = xf_supervision::oversight::sweep(&mut tx, later, &outbox)
            .await
            .expect("sweep");
        assert_eq!(n, 1);
        tx.rollback().await.expect("rollback");
    }
    assert_eq!(w.card(&first).await["overdue"], false);

    // Two sweepers at once: the one holding the card fires, the other skips it without
    // waiting; after the commit nobody fires it again.
    let mut a = w.pool().begin().await.expect("tx a");
    let mut b = w.pool().begin().await.expect("tx b");
    let fired_a = xf_supervision::oversight::sweep(&mut a, later, &outbox)
        .await
        .expect("sweep a");
    let fired_b = tokio::time::timeout(
        Duration::from_secs(5),
        xf_supervision::oversight::sweep(&mut b, later, &outbox),
    )
    .await
    .expect("a locked card is skipped, not waited for")
    .expect("sweep b");
    assert_eq!((fired_a, fired_b), (1, 0));
    a.commit().await.expect("commit a");
    b.commit().await.expect("commit b");
    assert_eq!(sweep_once(&w, later).await, 0, "fired once only");

    // More cards, swept by two concurrent sweepers on their own connections.
    let mut ids = Vec::new();
    for unit in ["u-1", "u-2", "u-3", "u-4"] {
        ids.push(issue(&w, case, unit, due).await);
    }
    let run = || {
        let pool = w.pool().clone();
        let outbox = outbox.clone();
        tokio::spawn(async move {
            let mut tx = pool.begin().await.expect("tx");
            let n = xf_supervision::oversight::sweep(&mut tx, later, &outbox)
                .await
                .expect("sweep");
            tx.commit().await.expect("commit");
            n
        })
    };
    let (x, y) = tokio::join!(run(), run());
    assert_eq!(x.expect("join") + y.expect("join"), 4);
    assert_eq!(sweep_once(&w, later).await, 0);

    // A completed card never goes overdue.
    let unit = w.ctx.token(&["handler"], Some("u-done"), TOWN);
    let done = issue(&w, case, "u-done", due).await;
    for (a, body) in [
        ("acknowledge", None),
        ("complete", Some(json!({"result": "按期办结"}))),
    ] {
        let (s, v) = w
            .call("POST", &format!("/v1/cards/{done}/{a}"), &unit, body)
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    assert_eq!(sweep_once(&w, later).await, 0);
    assert_eq!(w.card(&done).await["overdue"], false);

    let card = w.card(&first).await;
    assert_eq!(card["overdue"], true, "{card}");
    assert_eq!(card["state"], "issued");
    let (_, v) = w
        .call("GET", "/v1/cards?overdue=true", &w.supervisor, None)
        .await;
    assert_eq!(v["items"].as_array().map(Vec::len), Some(5));

    // Exactly one escalation per overdue card, from the case's place, with the unit.
    let escalations: Vec<Event> = w
        .events()
        .await
        .into_iter()
        .filter(|e| e.case_id == case && e.type_name() == "CaseEscalated")
        .collect();
    let mut units: Vec<String> = escalations
        .iter()
        .map(|e| {
            let Some(Payload::CaseEscalated(c)) = e.payload() else {
                panic!("payload");
            };
            assert_eq!(c.reason, EscalationReason::CardOverdue as i32);
            assert_eq!(c.stage, Stage::Card as i32);
            assert_eq!(c.from_jurisdiction_code, VILLAGE);
            assert_eq!(c.from_tier, Tier::Village as i32);
            assert_eq!(
                (c.to_tier, c.to_jurisdiction_code.as_str()),
                (Tier::Township as i32, TOWN)
            );
            assert_eq!(e.envelope.jurisdiction_code, VILLAGE);
            assert_eq!(e.envelope.producer, "supervision");
            c.from_unit_id.clone()
        })
        .collect();
    units.sort_unstable();
    assert_eq!(units, ["jxj-zf", "u-1", "u-2", "u-3", "u-4"]);
    w.ctx.cleanup().await;
}

#[tokio::test]
async fn a_leader_owns_a_case_until_replaced_or_released() {
    let w = World::start().await;
    let case = Uuid::now_v7();
    w.dispatch(case, TOWN, "jxj-zf", w.now(), |_| {}).await;
    w.wait_moves(case, 1).await;
    let leader = w.ctx.token(&["leader"], None, COUNTY);
    let path = format!("/v1/cases/{case}/ownership");

    // Refused: bad duties (named), a handler, a leader elsewhere, an unknown case.
    let (s, v) = w
        .call(
            "POST",
            &path,
            &leader,
            Some(json!({"leader_id": "", "leader_title": "镇长",
                "duties": ["situation", "hug", "situation"]})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&v), ["duties[1]", "duties[2]", "leader_id"], "{v}");
    let body = json!({"leader_id": "zhang-sj", "leader_title": "镇党委书记"});
    let handler = w.ctx.token(&["handler"], Some("jxj-zf"), TOWN);
    let (s, _) = w.call("POST", &path, &handler, Some(body.clone())).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let far = w.ctx.token(&["leader"], None, OTHER_COUNTY);
    let (s, _) = w.call("POST", &path, &far, Some(body.clone())).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "outside: no such case");
    let (s, _) = w
        .call(
            "POST",
            &format!("/v1/cases/{}/ownership", Uuid::now_v7()),
            &leader,
            Some(body.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Assigned with all five duties by default; the same leader again is a conflict.
    let (s, v) = w.call("POST", &path, &leader, Some(body.clone())).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["active"]["leader_id"], "zhang-sj");
    assert_eq!(
        v["active"]["duties"],
        json!([
            "situation",
            "persuasion",
            "resolution",
            "stability",
            "closure"
        ])
    );
    assert_eq!(v["active"]["duty_names"][4], "包息诉罢访");
    let (s, _) = w.call("POST", &path, &w.supervisor, Some(body)).await;
    assert_eq!(s, StatusCode::CONFLICT);

    // A second leader replaces the first, kept in the history.
    let (s, v) = w
        .call(
            "POST",
            &path,
            &w.supervisor,
            Some(json!({"leader_id": "li-zz", "leader_title": "镇长",
                "duties": ["closure", "stability"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["active"]["leader_id"], "li-zz");
    assert_eq!(v["active"]["duties"], json!(["stability", "closure"]));
    let history = v["history"].as_array().expect("history");
    assert_eq!(history.len(), 2);
    assert_eq!(history[1]["leader_id"], "zhang-sj");
    assert_eq!(history[1]["end_kind"], "replaced");

    // Reports: the active owners under a jurisdiction, and the ended ones.
    let (s, v) = w
        .call("GET", "/v1/ownerships?active=true", &leader, None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let active: Vec<&str> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|o| o["leader_id"].as_str())
        .collect();
    assert_eq!(active, ["li-zz"]);
    let (_, v) = w
        .call("GET", "/v1/ownerships?active=false", &leader, None)
        .await;
    assert_eq!(v["items"][0]["leader_id"], "zhang-sj");
    let (_, v) = w
        .call(
            "GET",
            &format!("/v1/ownerships?jurisdiction={OTHER_TOWN}"),
            &leader,
            None,
        )
        .await;
    assert_eq!(v["items"].as_array().map(Vec::len), Some(0));
    let (s, _) = w
        .call(
            "GET",
            &format!("/v1/ownerships?jurisdiction={OTHER_COUNTY}"),
            &leader,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Released when settled; a second release has nothing to end.
    let release = format!("{path}/release");
    let (s, v) = w
        .call("POST", &release, &leader, Some(json!({"reason": ""})))
        .await;
    assert_eq!(
        (s, fields(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["reason".to_owned()])
    );
    let (s, v) = w
        .call(
            "POST",
            &release,
            &leader,
            Some(json!({"reason": "已息诉罢访"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["active"].is_null());
    assert_eq!(v["history"][0]["end_kind"], "released");
    let (s, _) = w
        .call("POST", &release, &leader, Some(json!({"reason": "again"})))
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (_, v) = w
        .call("GET", "/v1/ownerships?active=true", &leader, None)
        .await;
    assert_eq!(v["items"].as_array().map(Vec::len), Some(0));

    // Each assignment was announced with the leader's title (intake shows it), and
    // the release too (intake stops showing it).
    let titles: Vec<(String, String)> = w
        .events()
        .await
        .iter()
        .filter(|e| e.case_id == case)
        .filter_map(|e| match e.payload() {
            Some(Payload::LeaderOwnershipAssigned(o)) => {
                assert_eq!(e.envelope.jurisdiction_code, TOWN);
                Some((o.leader_id.clone(), o.leader_title.clone()))
            }
            Some(Payload::LeaderOwnershipReleased(o)) => {
                Some((o.leader_id.clone(), "released".to_owned()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        titles,
        [
            ("zhang-sj".to_owned(), "镇党委书记".to_owned()),
            ("li-zz".to_owned(), "镇长".to_owned()),
            ("li-zz".to_owned(), "released".to_owned())
        ]
    );
    w.ctx.cleanup().await;
}

#[tokio::test]
async fn the_monitor_shows_cases_moving_up_the_tiers_with_reasons_and_time_per_tier() {
    let w = World::start().await;
    let now = w.now();
    let t0 = now - Days::days(10);
    let t1 = now - Days::days(6);
    let t2 = now - Days::days(1);

    // Filed at the township office although the village is competent (越级), then
    // overdue at the village, then review requested at the township.
    let a = Uuid::now_v7();
    w.dispatch(a, VILLAGE, "v-committee", t0, |d| d.skip_level = true)
        .await;
    w.produce_at(
        a,
        VILLAGE,
        "routing",
        t0,
        Payload::CaseEscalated(CaseEscalated {
            reason: EscalationReason::SkipLevel as i32,
            from_tier: Tier::Village as i32,
            from_jurisdiction_code: VILLAGE.into(),
            to_tier: Tier::Township as i32,
            to_jurisdiction_code: TOWN.into(),
            ..Default::default()
        }),
    )
    .await;
    w.dispatch(a, TOWN, "jxj-zf", t1, |d| {
        d.reason = EscalationReason::Overdue as i32;
    })
    .await;
    w.dispatch(a, COUNTY, "tlx-zrzy", t2, |d| {
        d.reason = EscalationReason::ReviewRequested as i32;
        d.review_level = 1;
    })
    .await;
    // Another township of the county: overdue two days ago.
    let b = Uuid::now_v7();
    w.dispatch(b, OTHER_VILLAGE, "v2", now - Days::days(20), |_| {})
        .await;
    w.dispatch(b, OTHER_TOWN, "t2", now - Days::days(2), |d| {
        d.reason = EscalationReason::Overdue as i32;
    })
    .await;
    // Another county; and a case of this county that never moved up.
    let c = Uuid::now_v7();
    w.dispatch(c, "330106001", "x1", now - Days::days(9), |_| {})
        .await;
    w.dispatch(c, OTHER_COUNTY, "x2", now - Days::days(3), |d| {
        d.reason = EscalationReason::Overdue as i32;
    })
    .await;
    let still = Uuid::now_v7();
    w.dispatch(still, VILLAGE, "v-committee", now - Days::days(5), |_| {})
        .await;
    w.wait_moves(a, 3).await;
    w.wait_moves(b, 2).await;
    w.wait_moves(c, 2).await;
    w.wait_moves(still, 1).await;
    eventually("the skip-level notice", Duration::from_secs(60), || async {
        let n: i64 =
            sqlx::query_scalar("SELECT count(*) FROM escalation_notices WHERE case_id = $1")
                .bind(a)
                .fetch_one(w.pool())
                .await
                .ok()?;
        (n == 1).then_some(())
    })
    .await;

    let period = format!(
        "from={}&to={}",
        enc(&rfc(now - Days::days(30))),
        enc(&rfc(now + Days::minutes(1)))
    );
    let (s, v) = w
        .call("GET", &format!("/v1/monitor?{period}"), &w.supervisor, None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let ids: Vec<&str> = v["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .filter_map(|c| c["case_id"].as_str())
        .collect();
    let (a_s, b_s) = (a.to_string(), b.to_string());
    assert_eq!(ids, [a_s.as_str(), b_s.as_str()], "newest move first; {v}");
    assert_eq!(v["total_cases"], 2);
    assert_eq!(v["totals"]["overdue"], json!({"cases": 2, "moves": 2}));
    assert_eq!(v["totals"]["skip_level"], json!({"cases": 1, "moves": 1}));
    assert_eq!(
        v["totals"]["review_requested"],
        json!({"cases": 1, "moves": 1})
    );
    assert_eq!(v["totals"]["card_overdue"], json!({"cases": 0, "moves": 0}));

    let ca = &v["cases"][0];
    assert_eq!(
        ca["reasons"],
        json!(["skip_level", "overdue", "review_requested"])
    );
    assert_eq!(ca["filed_above"], TOWN);
    let chain = ca["chain"].as_array().expect("chain");
    let steps: Vec<(&str, &str, &str)> = chain
        .iter()
        .map(|s| {
            (
                s["tier"].as_str().unwrap_or(""),
                s["jurisdiction_code"].as_str().unwrap_or(""),
                s["unit_id"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("village", VILLAGE, "v-committee"),
            ("township", TOWN, "jxj-zf"),
            ("county", COUNTY, "tlx-zrzy")
        ]
    );
    assert_eq!(chain[0]["seconds"], 4 * 86_400);
    assert_eq!(chain[1]["seconds"], 5 * 86_400);
    let at_county = chain[2]["seconds"].as_i64().expect("seconds");
    assert!((86_400..86_400 + 300).contains(&at_county), "{at_county}");
    assert!(chain[2]["left_at"].is_null());
    let tiers: Vec<(&str, i64)> = ca["time_per_tier"]
        .as_array()
        .expect("tiers")
        .iter()
        .map(|t| {
            (
                t["tier"].as_str().unwrap_or(""),
                t["seconds"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        tiers[..2],
        [("village", 4 * 86_400), ("township", 5 * 86_400)]
    );
    assert_eq!(tiers[2].0, "county");
    let moves = ca["moves"].as_array().expect("moves");
    assert_eq!(moves.len(), 3);
    assert_eq!(moves[1]["reason"], "overdue");
    assert_eq!(moves[1]["from_jurisdiction_code"], VILLAGE);
    assert_eq!(moves[1]["from_unit_id"], "v-committee");
    assert_eq!(moves[1]["to_jurisdiction_code"], TOWN);
    assert_eq!(ca["escalations"][0]["reason"], "skip_level");
    assert_eq!(ca["current"]["jurisdiction_code"], COUNTY);

    // The township's supervisor sees the case that left its township, not the other.
    let town = w.ctx.token(&["supervisor"], None, TOWN);
    let (_, v) = w
        .call("GET", &format!("/v1/monitor?{period}"), &town, None)
        .await;
    let ids: Vec<&str> = v["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .filter_map(|c| c["case_id"].as_str())
        .collect();
    assert_eq!(ids, [a_s.as_str()]);
    // A narrower period: only the moves inside it count.
    let (_, v) = w
        .call(
            "GET",
            &format!(
                "/v1/monitor?jurisdiction={TOWN}&from={}",
                enc(&rfc(now - Days::days(3)))
            ),
            &w.ctx.token(&["analyst"], None, COUNTY),
            None,
        )
        .await;
    assert_eq!(v["cases"][0]["reasons"], json!(["review_requested"]), "{v}");
    assert_eq!(v["cases"][0]["chain"].as_array().map(Vec::len), Some(3));
    assert_eq!(v["totals"]["overdue"]["cases"], 0);

    // Refused: outside the token's jurisdiction, bad dates (named), a handler.
    let (s, _) = w
        .call(
            "GET",
            &format!("/v1/monitor?jurisdiction={OTHER_COUNTY}"),
            &w.supervisor,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = w.call("GET", "/v1/monitor", &town, None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = w
        .call(
            "GET",
            &format!("/v1/monitor?jurisdiction={COUNTY}"),
            &town,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = w
        .call(
            "GET",
            "/v1/monitor?from=yesterday&to=2026-13-01",
            &w.supervisor,
            None,
        )
        .await;
    assert_eq!(
        (s, fields(&v)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["from".to_owned(), "to".to_owned()]
        )
    );
    let (s, v) = w
        .call(
            "GET",
            &format!(
                "/v1/monitor?from={}&to={}",
                enc(&rfc(now)),
                enc(&rfc(now - Days::days(1)))
            ),
            &w.supervisor,
            None,
        )
        .await;
    assert_eq!(
        (s, fields(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["from".to_owned()])
    );
    let (s, _) = w
        .call(
            "GET",
            "/v1/monitor",
            &w.ctx.token(&["handler"], Some("jxj-zf"), TOWN),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // One case's chain.
    let (s, v) = w
        .call("GET", &format!("/v1/cases/{a}/moves"), &w.supervisor, None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["reasons"],
        json!(["skip_level", "overdue", "review_requested"])
    );
    assert_eq!(v["chain"].as_array().map(Vec::len), Some(3));
    let (s, _) = w
        .call(
            "GET",
            &format!("/v1/cases/{}/moves", Uuid::now_v7()),
            &w.supervisor,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = w
        .call(
            "GET",
            &format!("/v1/cases/{a}/moves"),
            &w.ctx.token(&["supervisor"], None, OTHER_COUNTY),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = w
        .call("GET", "/v1/cases/not-a-uuid/moves", &w.supervisor, None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    w.ctx.cleanup().await;
}

/// Parses CSV (RFC 4180: quoted fields, doubled quotes, CRLF).
fn parse_csv(s: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    if !cell.is_empty() || !row.is_empty() {
        row.push(cell);
        rows.push(row);
    }
    rows
}

#[tokio::test]
async fn missed_deadlines_followed_by_repeat_petitions_are_recorded_and_exported() {
    let w = World::start().await;
    let now = w.now();
    let original = Uuid::now_v7();
    let original2 = Uuid::now_v7();
    let odd_unit = "村委会,第\"一\"组";
    // The clock rows are written directly, so that the test does not depend on the
    // clocks logic's timing: the original's handling deadline was missed by seven days
    // before it stopped, its acceptance was on time; the second original's handling is
    // still running, breached three days ago; its review window (the petitioner's) ran
    // out and is not a unit's deadline.
    for (case, stage, unit, started, due, stopped, state, breached) in [
        (
            original,
            "acceptance",
            "v-committee",
            now - Days::days(80),
            now - Days::days(65),
            Some(now - Days::days(70)),
            "stopped",
            None,
        ),
        (
            original,
            "handling",
            "v-committee",
            now - Days::days(70),
            now - Days::days(10),
            Some(now - Days::days(3)),
            "stopped",
            Some(now - Days::days(10)),
        ),
        (
            original2,
            "handling",
            odd_unit,
            now - Days::days(63),
            now - Days::days(3),
            None,
            "breached",
            Some(now - Days::days(3)),
        ),
        (
            original2,
            "review_window",
            odd_unit,
            now - Days::days(40),
            now - Days::days(10),
            None,
            "breached",
            Some(now - Days::days(10)),
        ),
    ] {
        sqlx::query(
            "INSERT INTO clocks (case_id, stage, tier, jurisdiction_code, unit_id, started_at,
                 due_at, stopped_at, state, period_days, policy, breached_at)
             VALUES ($1, $2, 'village', $3, $4, $5, $6, $7, $8, 60, 'statutory', $9)",
        )
        .bind(case)
        .bind(stage)
        .bind(VILLAGE)
        .bind(unit)
        .bind(started)
        .bind(due)
        .bind(stopped)
        .bind(state)
        .bind(breached)
        .execute(w.pool())
        .await
        .expect("clock row");
    }
    let repeat = Uuid::now_v7();
    let skip = Uuid::now_v7();
    let linked = |original: Uuid, skip_level: bool, unit: &str| {
        Payload::DuplicateLinked(DuplicateLinked {
            original_case_id: original.to_string(),
            similarity: 0.93,
            repeat_petition: true,
            skip_level,
            original_unit_id: unit.into(),
            original_jurisdiction_code: VILLAGE.into(),
        })
    };
    w.produce_at(
        repeat,
        VILLAGE,
        "routing",
        now,
        linked(original, false, "v-committee"),
    )
    .await;
    // The same link published again (a new event id) records nothing new.
    w.produce_at(
        repeat,
        VILLAGE,
        "routing",
        now,
        linked(original, false, "v-committee"),
    )
    .await;
    w.produce_at(
        skip,
        TOWN,
        "routing",
        now,
        linked(original2, true, odd_unit),
    )
    .await;
    eventually(
        "the accountability records",
        Duration::from_secs(60),
        || async {
            let n: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM inbox WHERE event_type = 'DuplicateLinked'",
            )
            .fetch_one(w.pool())
            .await
            .ok()?;
            (n == 3).then_some(())
        },
    )
    .await;

    // Through the clocks logic itself: a case dispatched twenty days ago missed its
    // acceptance deadline; once the sweeper marked the clock breached, a repeat
    // petition records it.
    let real = Uuid::now_v7();
    w.dispatch(real, VILLAGE, "v-real", now - Days::days(20), |_| {})
        .await;
    eventually(
        "the acceptance clock breached",
        Duration::from_secs(60),
        || async {
            let n: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM clocks WHERE case_id = $1 AND breached_at IS NOT NULL",
            )
            .bind(real)
            .fetch_one(w.pool())
            .await
            .ok()?;
            (n > 0).then_some(())
        },
    )
    .await;
    let real_repeat = Uuid::now_v7();
    w.produce_at(
        real_repeat,
        VILLAGE,
        "routing",
        now,
        linked(real, false, "v-real"),
    )
    .await;
    let rec = eventually(
        "the record of the real clock",
        Duration::from_secs(60),
        || async {
            let (s, v) = w
                .call(
                    "GET",
                    "/v1/accountability?unit_id=v-real",
                    &w.supervisor,
                    None,
                )
                .await;
            (s == StatusCode::OK && v["items"].as_array().is_some_and(|a| a.len() == 1))
                .then(|| v["items"][0].clone())
        },
    )
    .await;
    assert_eq!(rec["stage"], "acceptance", "{rec}");
    assert_eq!(rec["original_case_id"], real.to_string());
    assert_eq!(rec["new_case_id"], real_repeat.to_string());
    // Due 15 days after the dispatch, or later when that day is a rest day (the period
    // then ends with the next working day): five days late at most, and late.
    let late = rec["overdue_secs"].as_i64().expect("secs");
    assert!((1..6 * 86_400).contains(&late), "{late}");

    let (s, v) = w
        .call("GET", "/v1/accountability", &w.supervisor, None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let items = v["items"].as_array().expect("items");
    assert_eq!(items.len(), 3, "{v}");
    let first = items
        .iter()
        .find(|i| i["unit_id"] == "v-committee")
        .expect("repeat record");
    assert_eq!(first["unit_id"], "v-committee");
    assert_eq!(first["original_case_id"], original.to_string());
    assert_eq!(first["new_case_id"], repeat.to_string());
    assert_eq!(first["stage"], "handling");
    assert_eq!(first["overdue_secs"], 7 * 86_400);
    let second = items
        .iter()
        .find(|i| i["followed_by"] == "skip_level")
        .expect("skip-level record");
    assert_eq!(second["unit_id"], odd_unit);
    assert_eq!(second["new_case_id"], skip.to_string());
    let secs = second["overdue_secs"].as_i64().expect("secs");
    assert!((3 * 86_400..3 * 86_400 + 300).contains(&secs), "{secs}");
    assert_eq!(v["by_unit"].as_array().map(Vec::len), Some(3));

    // Filters: one unit; a period without records; bad input named; out of scope.
    let (_, v) = w
        .call(
            "GET",
            "/v1/accountability?unit_id=v-committee",
            &w.supervisor,
            None,
        )
        .await;
    assert_eq!(v["items"].as_array().map(Vec::len), Some(1));
    let (_, v) = w
        .call(
            "GET",
            &format!("/v1/accountability?to={}", enc(&rfc(now - Days::days(1)))),
            &w.supervisor,
            None,
        )
        .await;
    assert_eq!(v["items"].as_array().map(Vec::len), Some(0));
    let (_, v) = w
        .call(
            "GET",
            &format!("/v1/accountability?jurisdiction={OTHER_TOWN}"),
            &w.supervisor,
            None,
        )
        .await;
    assert_eq!(v["items"].as_array().map(Vec::len), Some(0));
    let (s, v) = w
        .call(
            "GET",
            "/v1/accountability?from=soon&format=xml",
            &w.supervisor,
            None,
        )
        .await;
    assert_eq!(
        (s, fields(&v)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["format".to_owned(), "from".to_owned()]
        )
    );
    let far = w.ctx.token(&["analyst"], None, OTHER_COUNTY);
    let (s, _) = w
        .call(
            "GET",
            &format!("/v1/accountability?jurisdiction={COUNTY}"),
            &far,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, v) = w.call("GET", "/v1/accountability", &far, None).await;
    assert_eq!(v["items"].as_array().map(Vec::len), Some(0));
    let (s, _) = w
        .call(
            "GET",
            "/v1/accountability",
            &w.ctx.token(&["handler"], Some("v-committee"), VILLAGE),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // The CSV export, by Accept header and by format parameter, parsed back.
    let by_header = http()
        .get(w.ctx.svc("supervision").url("/v1/accountability"))
        .bearer_auth(&w.supervisor)
        .header("accept", "text/csv")
        .send()
        .await
        .expect("request");
    assert_eq!(by_header.status(), StatusCode::OK);
    assert_eq!(
        by_header
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/csv; charset=utf-8")
    );
    let csv = by_header.text().await.expect("body");
    let by_param = w
        .send("GET", "/v1/accountability?format=csv", &w.supervisor, None)
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(csv, by_param);
    let body = csv
        .strip_prefix('\u{feff}')
        .expect("a UTF-8 byte order mark");
    let rows = parse_csv(body);
    assert_eq!(rows.len(), 4, "{csv}");
    let header = &rows[0];
    assert_eq!(header[0], "unit_id");
    let col = |name: &str| header.iter().position(|h| h == name).expect(name);
    assert!(rows.iter().all(|r| r.len() == header.len()));
    let odd = rows
        .iter()
        .find(|r| r[col("followed_by")] == "skip_level")
        .expect("skip-level row");
    assert_eq!(odd[col("unit_id")], odd_unit);
    assert_eq!(odd[col("stage_name")], "办理");
    assert_eq!(odd[col("followed_by_name")], "越级信访");
    assert_eq!(odd[col("new_case_id")], skip.to_string());
    let plain = rows
        .iter()
        .find(|r| r[col("unit_id")] == "v-committee")
        .expect("repeat row");
    assert_eq!(plain[col("overdue_seconds")], (7 * 86_400).to_string());
    assert_eq!(plain[col("overdue_days")], "7.0");
    assert_eq!(plain[col("original_case_id")], original.to_string());
    assert!(DateTime::parse_from_rfc3339(&plain[col("due_at")]).is_ok());
    w.ctx.cleanup().await;
}

#[tokio::test]
async fn the_accused_unit_never_sees_the_case_in_supervision() {
    let w = World::start().await;
    let case = Uuid::now_v7();
    let accused = "jxj-gt";
    // An accusation against the township's land office, handled by discipline.
    w.produce_at(
        case,
        VILLAGE,
        "intake",
        w.now(),
        Payload::CaseRegistered(xf_events::v1::CaseRegistered {
            registration_no: "330122002-2026-000777".into(),
            category: "accusation".into(),
            matter_jurisdiction_code: VILLAGE.into(),
            office_jurisdiction_code: TOWN.into(),
            confidential: true,
            excluded_unit_id: accused.into(),
            ..Default::default()
        }),
    )
    .await;
    // Filed above the competent tier, so the monitor shows it.
    w.dispatch(case, TOWN, "jxj-jw", w.now(), |d| d.skip_level = true)
        .await;
    w.wait_moves(case, 1).await;
    // A repeat petition long after the acceptance deadline: an accountability record.
    let repeat = Uuid::now_v7();
    w.produce_at(
        repeat,
        TOWN,
        "routing",
        w.now() + Days::days(40),
        Payload::DuplicateLinked(DuplicateLinked {
            original_case_id: case.to_string(),
            similarity: 0.9,
            repeat_petition: true,
            original_unit_id: "jxj-jw".into(),
            original_jurisdiction_code: TOWN.into(),
            ..Default::default()
        }),
    )
    .await;
    eventually(
        "an accountability record",
        Duration::from_secs(60),
        || async {
            let n: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM accountability_records WHERE original_case_id = $1",
            )
            .bind(case)
            .fetch_one(w.pool())
            .await
            .ok()?;
            (n > 0).then_some(())
        },
    )
    .await;

    // A card to the accused unit is refused, naming the field; nothing is stored.
    let due = rfc(w.now() + Days::days(10));
    let (s, v) = w
        .call(
            "POST",
            "/v1/cards",
            &w.supervisor,
            Some(json!({"case_id": case, "instruction": "请核查",
                "undertaking_unit_id": accused, "due_at": due})),
        )
        .await;
    assert_eq!(
        (s, fields(&v)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["undertaking_unit_id".to_owned()]
        ),
        "{v}"
    );
    let (s, card) = w
        .call(
            "POST",
            "/v1/cards",
            &w.supervisor,
            Some(json!({"case_id": case, "instruction": "请按期办结",
                "undertaking_unit_id": "jxj-jw", "due_at": due})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{card}");
    let card_id = card["id"].as_str().expect("id").to_owned();
    let (s, v) = w
        .call(
            "POST",
            &format!("/v1/cases/{case}/ownership"),
            &w.supervisor,
            Some(json!({"leader_id": "li-sj", "leader_title": "镇纪委书记"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    // The lead unit and the supervisor see it.
    let lead = w.ctx.token(&["handler"], Some("jxj-jw"), TOWN);
    let (s, _) = w
        .call("GET", &format!("/v1/cases/{case}/deadlines"), &lead, None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = w
        .call("GET", &format!("/v1/cards/{card_id}"), &lead, None)
        .await;
    assert_eq!(s, StatusCode::OK);

    // From the accused unit's token — as a handler, or with every overseeing role —
    // nothing: single reads are 404, lists leave it out.
    for roles in [
        &["handler"][..],
        &["handler", "supervisor", "leader", "admin", "analyst"][..],
    ] {
        let t = w.ctx.token(roles, Some(accused), TOWN);
        for path in [
            format!("/v1/cases/{case}/deadlines"),
            format!("/v1/cases/{case}/moves"),
            format!("/v1/cases/{case}/ownership"),
            format!("/v1/cards/{card_id}"),
        ] {
            let (s, v) = w.call("GET", &path, &t, None).await;
            // A handler's token lacks the overseeing role some reads need: refused
            // before the case is looked up. With every role: no such case.
            let role_refused = roles.len() == 1 && s == StatusCode::FORBIDDEN;
            assert!(
                s == StatusCode::NOT_FOUND || role_refused,
                "{roles:?} {path}: {s} {v}"
            );
            assert!(!v.to_string().contains(&case.to_string()), "{v}");
        }
        let (s, v) = w
            .call(
                "POST",
                &format!("/v1/cases/{case}/clocks/acceptance/pause"),
                &t,
                Some(json!({"reason": "x"})),
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{roles:?}: {v}");
        for path in [
            "/v1/cards",
            "/v1/ownerships",
            "/v1/monitor",
            "/v1/accountability",
        ] {
            let (s, v) = w.call("GET", path, &t, None).await;
            if s == StatusCode::OK {
                assert!(
                    !v.to_string().contains(&case.to_string()),
                    "{roles:?} {path} lists the case: {v}"
                );
            } else {
                assert_eq!(s, StatusCode::FORBIDDEN, "{roles:?} {path}: {v}");
            }
        }
    }
    // The same overseeing roles without the accused unit see it in every list.
    for path in [
        "/v1/cards",
        "/v1/ownerships",
        "/v1/monitor",
        "/v1/accountability",
    ] {
        let (s, v) = w.call("GET", path, &w.supervisor, None).await;
        assert_eq!(s, StatusCode::OK, "{path}: {v}");
        assert!(v.to_string().contains(&case.to_string()), "{path}: {v}");
    }
    w.ctx.cleanup().await;
}

#[tokio::test]
async fn cards_are_drafted_approved_issued_transferred_urged_and_answered() {
    let w = World::start().await;
    let case = Uuid::now_v7();
    w.dispatch(case, VILLAGE, "v-committee", w.now(), |_| {})
        .await;
    w.wait_moves(case, 1).await;
    let second = w
        .ctx
        .signer()
        .sign(&xf_auth::claims(
            "sup-2",
            &["supervisor"],
            None,
            COUNTY,
            600,
        ))
        .expect("token");
    let due = w.now() + Days::days(10);
    // 拟办: a draft, not yet the unit's business.
    let (s, v) = w
        .call(
            "POST",
            "/v1/cards",
            &w.supervisor,
            Some(
                json!({"case_id": case, "instruction": "请核实并报告处理结果",
                "undertaking_unit_id": "jxj-zf", "due_at": rfc(due), "draft": true}),
            ),
        )
        .await;
    assert_eq!(
        (s, v["state"].as_str()),
        (StatusCode::CREATED, Some("draft")),
        "{v}"
    );
    let id = v["id"].as_str().expect("id").to_owned();
    let path = |a: &str| format!("/v1/cards/{id}/{a}");
    let urge = json!({"note": "请抓紧办理"});
    let (s, v) = w
        .call("POST", &path("urge"), &w.supervisor, Some(urge.clone()))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "a draft is not urged");
    assert_eq!(v["code"], "illegal_transition", "{v}");
    assert_eq!(v["detail"], "cannot urge a card that is draft", "{v}");
    let (s, _) = w.call("POST", &path("issue"), &w.supervisor, None).await;
    assert_eq!(s, StatusCode::CONFLICT, "not approved yet");
    let (s, _) = w.call("POST", &path("approve"), &w.supervisor, None).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "the drafter does not approve its own draft"
    );
    let (s, v) = w.call("POST", &path("approve"), &second, None).await;
    assert_eq!(
        (s, v["state"].as_str()),
        (StatusCode::OK, Some("approved")),
        "{v}"
    );
    assert_eq!(v["approved_by"], "sup-2");
    let (s, v) = w.call("POST", &path("issue"), &w.supervisor, None).await;
    assert_eq!(
        (s, v["state"].as_str()),
        (StatusCode::OK, Some("issued")),
        "{v}"
    );
    // 转办: to another unit, the deadline kept; bad input named, nothing changed.
    let (s, v) = w
        .call(
            "POST",
            &path("transfer"),
            &w.supervisor,
            Some(json!({"to_unit_id": "jxj-zf", "reason": ""})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(fields(&v), ["reason"]);
    let (s, v) = w
        .call(
            "POST",
            &path("transfer"),
            &w.supervisor,
            Some(json!({"to_unit_id": "jxj-zf", "reason": "同一单位"})),
        )
        .await;
    assert_eq!(
        (s, fields(&v)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["to_unit_id".to_owned()]
        )
    );
    let unit = w.ctx.token(&["handler"], Some("jxj-zf"), TOWN);
    let (s, _) = w
        .call(
            "POST",
            &path("transfer"),
            &unit,
            Some(json!({"to_unit_id": "jxj-gt", "reason": "不属本单位职责"})),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "the unit does not transfer its own card"
    );
    let (s, v) = w
        .call(
            "POST",
            &path("transfer"),
            &w.supervisor,
            Some(json!({"to_unit_id": "jxj-gt", "reason": "属国土所职责"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["undertaking_unit_id"], "jxj-gt");
    assert_eq!(v["transfers"], 1);
    assert_eq!(v["state"], "issued");
    // 催办, then answered; an answered card is not urged.
    let (s, _) = w
        .call("POST", &path("urge"), &w.supervisor, Some(urge.clone()))
        .await;
    assert_eq!(s, StatusCode::OK);
    let gt = w.ctx.token(&["handler"], Some("jxj-gt"), TOWN);
    let (s, _) = w.call("POST", &path("acknowledge"), &gt, None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = w
        .call(
            "POST",
            &path("complete"),
            &gt,
            Some(json!({"result": "已核实处理完毕"})),
        )
        .await;
    assert_eq!(
        (s, v["state"].as_str()),
        (StatusCode::OK, Some("completed")),
        "{v}"
    );
    let (s, _) = w
        .call("POST", &path("urge"), &w.supervisor, Some(urge))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "an answered card is not urged");
    // Issued twice: to the first unit, then to the unit it was transferred to.
    let issued: Vec<String> = w
        .events()
        .await
        .iter()
        .filter(|e| e.case_id == case)
        .filter_map(|e| match e.payload() {
            Some(Payload::SupervisionCardIssued(c)) => Some(c.unit_id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(issued, ["jxj-zf", "jxj-gt"]);
    w.ctx.cleanup().await;
}
