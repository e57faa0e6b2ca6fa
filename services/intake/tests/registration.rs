//! Full registration, the vault, the citizen's side, against the real Postgres and broker.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use xf_auth::roles;
use xf_testkit::{Ctx, eventually, produce_raw, read_topic};

const COUNTY: &str = "330122";
const VILLAGE: &str = "330122002200";
const NAME: &str = "欧阳明远";
const PHONE: &str = "13957112345";
const ID_NO: &str = "11010519491231002X";
const ADDRESS: &str = "桐庐县旧县街道旧县村五组18号";

async fn start(extra: &[(&str, &str)]) -> Ctx {
    let mut ctx = Ctx::new().await.expect("test context");
    let s = ctx
        .settings::<xf_intake::Ext>(&xf_intake::binary(), extra)
        .expect("settings");
    let app = xf_intake::build(s).await.expect("intake builds");
    ctx.spawn("intake", app);
    ctx
}

fn person() -> Value {
    json!({"name": NAME, "gender": "male", "age": 56, "occupation": "农民", "political_status": "群众",
           "address": ADDRESS, "phone": PHONE, "id_number": ID_NO})
}

fn letter() -> Value {
    json!({
        "channel": "letter", "jurisdiction_code": VILLAGE, "category": "land",
        "summary": "承包地被征收后补偿款未发放", "requests": "要求足额发放补偿款", "urgency": "important",
        "petitioners": [person()],
        "letter": {"received_on": "2026-11-02", "dated": "2026-10-28", "envelope_condition": "intact",
                   "attachments": [{"name": "征收协议.pdf", "media_type": "application/pdf", "size_bytes": 20480, "content_ref": "archive/2026/11/a1"}]}
    })
}

fn visit() -> Value {
    json!({
        "channel": "visit", "jurisdiction_code": VILLAGE, "category": "labour_wages",
        "summary": "工地拖欠工资", "petitioners": [person()],
        "visit": {"receiving_staff": ["staff-1", "staff-2"], "materials": ["欠条复印件"]}
    })
}

async fn post(ctx: &Ctx, token: &str, body: &Value) -> (StatusCode, Value) {
    let r = xf_testkit::http()
        .post(ctx.svc("intake").url("/v1/cases"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("request");
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

fn registrar(ctx: &Ctx) -> String {
    ctx.token(&[roles::REGISTRAR], Some("330122-xfb"), COUNTY)
}

fn fields(p: &Value) -> Vec<String> {
    let mut f: Vec<String> = p["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    f.sort();
    f
}

async fn count(ctx: &Ctx, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(&ctx.svc("intake").pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn identity_is_sealed_in_tables_events_and_pseudonymous_elsewhere() {
    let ctx = start(&[]).await;
    let t = registrar(&ctx);
    let (s, receipt) = post(&ctx, &t, &letter()).await;
    assert_eq!(s, StatusCode::CREATED, "{receipt}");
    assert_eq!(receipt["query_code"].as_str().map(str::len), Some(8));

    // Raw rows of every table hold no plaintext identity.
    let pool = &ctx.svc("intake").pool;
    for table in [
        "cases",
        "petitioners",
        "outbox",
        "case_timeline",
        "idempotency",
    ] {
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT row_to_json(t)::text FROM {table} t"
        )))
        .fetch_all(pool)
        .await
        .expect("rows");
        for row in rows {
            for secret in [NAME, PHONE, ID_NO, ADDRESS, "5711234"] {
                assert!(!row.contains(secret), "{table} holds {secret}: {row}");
            }
        }
    }
    let sealed: Vec<Vec<u8>> = sqlx::query_scalar("SELECT sealed FROM petitioners")
        .fetch_all(pool)
        .await
        .expect("rows");
    for b in &sealed {
        assert!(!b.windows(NAME.len()).any(|w| w == NAME.as_bytes()));
    }

    // Events on the topic carry a pseudonymous id only.
    let records = read_topic(&ctx.brokers, &ctx.topic, 1, Duration::from_secs(30)).await;
    assert_eq!(records.len(), 1);
    let raw = &records[0].payload;
    for secret in [NAME, PHONE, ID_NO, ADDRESS] {
        assert!(
            !raw.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "event holds {secret}"
        );
    }
    let ev = xf_events::decode(raw).expect("decodes");
    let Some(xf_events::Payload::CaseRegistered(r)) = ev.payload() else {
        panic!("not a registration")
    };
    assert!(r.petitioner_pid.starts_with("p1_"), "{}", r.petitioner_pid);

    // The same person by ID number in another registration gets the same pseudonym.
    let mut again = visit();
    again["petitioners"][0] = json!({"name": "欧阳 明远", "id_number": ID_NO.to_lowercase()});
    let (s, second) = post(&ctx, &t, &again).await;
    assert_eq!(s, StatusCode::CREATED, "{second}");
    let pids: Vec<Option<String>> =
        sqlx::query_scalar("SELECT petitioner_pid FROM cases ORDER BY created_at")
            .fetch_all(pool)
            .await
            .expect("pids");
    assert_eq!(pids[0], pids[1]);
    ctx.cleanup().await;
}

#[tokio::test]
async fn decrypted_reads_need_the_role_and_scope_and_are_audited() {
    let ctx = start(&[]).await;
    let (_, receipt) = post(&ctx, &registrar(&ctx), &letter()).await;
    let id = receipt["case_id"].as_str().expect("id");
    let http = xf_testkit::http();
    let url = ctx.svc("intake").url(&format!(
        "/v1/cases/{id}/petitioners?reason=核实信访人身份以便答复"
    ));

    let no_role = ctx.token(&[roles::SUPERVISOR], None, COUNTY);
    assert_eq!(
        http.get(&url)
            .bearer_auth(&no_role)
            .send()
            .await
            .expect("req")
            .status(),
        StatusCode::FORBIDDEN
    );
    let elsewhere = ctx.token(&[roles::VAULT_READER], None, "330122003");
    assert_eq!(
        http.get(&url)
            .bearer_auth(&elsewhere)
            .send()
            .await
            .expect("req")
            .status(),
        StatusCode::NOT_FOUND,
        "outside the reader's jurisdiction the case does not exist"
    );
    assert_eq!(
        count(&ctx, "vault_audit").await,
        0,
        "refused reads are not reads"
    );
    let reader = ctx.token(&[roles::VAULT_READER], Some("330122-xfb"), "330122002");
    let no_reason = ctx
        .svc("intake")
        .url(&format!("/v1/cases/{id}/petitioners?reason=x"));
    assert_eq!(
        http.get(&no_reason)
            .bearer_auth(&reader)
            .send()
            .await
            .expect("req")
            .status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );

    let r = http
        .get(&url)
        .bearer_auth(&reader)
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["petitioners"][0]["identity"]["name"], NAME);
    assert_eq!(body["petitioners"][0]["identity"]["id_number"], ID_NO);
    let _ = http
        .get(&url)
        .bearer_auth(&reader)
        .send()
        .await
        .expect("req");
    assert_eq!(count(&ctx, "vault_audit").await, 2, "every read is audited");

    let auditor = ctx.token(&[roles::SUPERVISOR], None, COUNTY);
    let trail: Value = http
        .get(
            ctx.svc("intake")
                .url(&format!("/v1/vault/audit?case_id={id}")),
        )
        .bearer_auth(&auditor)
        .send()
        .await
        .expect("req")
        .json()
        .await
        .expect("json");
    assert_eq!(trail["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(trail["items"][0]["reader"], "test-user");
    assert_eq!(trail["items"][0]["reason"], "核实信访人身份以便答复");
    ctx.cleanup().await;
}

#[tokio::test]
async fn sixty_four_concurrent_registrations_get_consecutive_numbers() {
    let ctx = start(&[("database.max_connections", "16")]).await;
    let t = registrar(&ctx);
    let mut tasks = Vec::new();
    for i in 0..64 {
        let url = ctx.svc("intake").url("/v1/cases");
        let t = t.clone();
        let mut body = visit();
        body["summary"] = json!(format!("第{i}件"));
        tasks.push(tokio::spawn(async move {
            let r = xf_testkit::http()
                .post(url)
                .bearer_auth(t)
                .json(&body)
                .send()
                .await
                .expect("req");
            assert_eq!(r.status(), StatusCode::CREATED);
            let v: Value = r.json().await.expect("json");
            v["registration_no"].as_str().expect("no").to_owned()
        }));
    }
    let mut seqs = Vec::new();
    for task in tasks {
        let no = task.await.expect("task");
        seqs.push(
            no.rsplit('-')
                .next()
                .and_then(|s| s.parse::<u32>().ok())
                .expect("sequence"),
        );
    }
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=64).collect::<Vec<_>>(),
        "distinct, consecutive, gap-free"
    );
    ctx.cleanup().await;
}

#[tokio::test]
async fn an_idempotent_retry_registers_once() {
    let ctx = start(&[]).await;
    let t = registrar(&ctx);
    let http = xf_testkit::http();
    let send = |body: Value| {
        http.post(ctx.svc("intake").url("/v1/cases"))
            .bearer_auth(&t)
            .header("Idempotency-Key", "retry-7f3a")
            .json(&body)
            .send()
    };
    let first = send(visit()).await.expect("req");
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.expect("json");
    let again = send(visit()).await.expect("req");
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(
        again
            .headers()
            .get("Idempotent-Replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let again: Value = again.json().await.expect("json");
    assert_eq!(first, again);
    let mut other = visit();
    other["summary"] = json!("另一件事");
    assert_eq!(
        send(other).await.expect("req").status(),
        StatusCode::CONFLICT
    );
    assert_eq!(count(&ctx, "cases").await, 1);
    assert_eq!(count(&ctx, "outbox").await, 1);
    ctx.cleanup().await;
}

#[tokio::test]
async fn every_bad_input_is_refused_with_its_fields_and_writes_nothing() {
    let ctx = start(&[]).await;
    let t = registrar(&ctx);
    let with = |base: Value, f: &dyn Fn(&mut Value)| {
        let mut v = base;
        f(&mut v);
        v
    };
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        (
            "letter without its details",
            with(letter(), &|v| {
                v.as_object_mut().expect("o").remove("letter");
            }),
            vec!["letter"],
        ),
        (
            "letter details missing",
            with(letter(), &|v| v["letter"] = json!({})),
            vec!["letter.envelope_condition", "letter.received_on"],
        ),
        (
            "one receiving staff",
            with(visit(), &|v| {
                v["visit"]["receiving_staff"] = json!(["staff-1", "staff-1"])
            }),
            vec!["visit.receiving_staff"],
        ),
        (
            "over-long summary",
            with(visit(), &|v| v["summary"] = json!("长".repeat(4001))),
            vec!["summary"],
        ),
        (
            "future dates",
            with(letter(), &|v| {
                v["received_at"] = json!("2999-01-01T00:00:00Z");
                v["letter"]["received_on"] = json!("2999-01-01");
            }),
            vec!["letter.received_on", "received_at"],
        ),
        (
            "age",
            with(visit(), &|v| v["petitioners"][0]["age"] = json!(131)),
            vec!["petitioners[0].age"],
        ),
        (
            "phone",
            with(visit(), &|v| v["petitioners"][0]["phone"] = json!("12345")),
            vec!["petitioners[0].phone"],
        ),
        (
            "id checksum",
            with(visit(), &|v| {
                v["petitioners"][0]["id_number"] = json!("110105194912310021")
            }),
            vec!["petitioners[0].id_number"],
        ),
        (
            "unknown category and place",
            with(visit(), &|v| {
                v["category"] = json!("ufo");
                v["jurisdiction_code"] = json!("330122999999");
            }),
            vec!["category", "jurisdiction_code"],
        ),
        (
            "six representatives",
            with(visit(), &|v| {
                v["collective"] = json!({"headcount": 40});
                v["petitioners"] =
                    json!([person(), person(), person(), person(), person(), person()]);
            }),
            vec!["petitioners"],
        ),
        (
            "anonymous with identity",
            with(letter(), &|v| v["anonymous"] = json!(true)),
            vec!["petitioners"],
        ),
        (
            "anonymous visit",
            with(visit(), &|v| {
                v["anonymous"] = json!(true);
                v["petitioners"] = json!([]);
            }),
            vec!["anonymous"],
        ),
        (
            "no petitioner",
            with(visit(), &|v| v["petitioners"] = json!([])),
            vec!["petitioners"],
        ),
        (
            "urgency",
            with(visit(), &|v| v["urgency"] = json!("yesterday")),
            vec!["urgency"],
        ),
        (
            "referral channel",
            with(visit(), &|v| v["referral"] = json!({"channel": "oracle"})),
            vec!["referral.channel"],
        ),
        (
            "accused unit on a claim",
            with(visit(), &|v| v["accused_unit_id"] = json!("u-1")),
            vec!["accused_unit_id"],
        ),
        (
            "wrong type",
            with(visit(), &|v| v["petitioners"][0]["age"] = json!("old")),
            vec!["petitioners[0].age"],
        ),
    ];
    for (what, body, want) in cases {
        let (s, p) = post(&ctx, &t, &body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {p}");
        assert_eq!(fields(&p), want, "{what}: {p}");
    }
    let http = xf_testkit::http();
    let r = http
        .post(ctx.svc("intake").url("/v1/cases"))
        .bearer_auth(&t)
        .header("content-type", "application/xml")
        .body("<case/>")
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let big = with(visit(), &|v| v["requests"] = json!("长".repeat(100_000)));
    assert_eq!(post(&ctx, &t, &big).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    for table in [
        "cases",
        "petitioners",
        "outbox",
        "registration_counters",
        "idempotency",
    ] {
        assert_eq!(count(&ctx, table).await, 0, "{table} untouched");
    }
    ctx.cleanup().await;
}

#[tokio::test]
async fn anonymous_collective_on_the_spot_referral_and_accusation() {
    let ctx = start(&[]).await;
    let t = registrar(&ctx);
    let anon = json!({"channel": "phone", "jurisdiction_code": VILLAGE, "category": "environment",
                      "summary": "夜间偷排废水", "anonymous": true});
    let (s, r) = post(&ctx, &t, &anon).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert!(r["message"].as_str().expect("msg").contains("不予答复"));

    let mut coll = visit();
    coll["collective"] = json!({"headcount": 35});
    coll["urgency"] = json!("urgent");
    coll["petitioners"] = json!([person(), {"name": "李四", "phone": "13800138000"}]);
    assert_eq!(post(&ctx, &t, &coll).await.0, StatusCode::CREATED);

    let mut spot = visit();
    spot["on_the_spot_answer"] = json!("已当场解释补偿政策，当事人表示理解");
    let (_, spot_r) = post(&ctx, &t, &spot).await;
    assert_eq!(spot_r["status"], "closed");

    let mut refer = visit();
    refer["referral"] = json!({"channel": "court", "note": "民间借贷纠纷"});
    let (_, ref_r) = post(&ctx, &t, &refer).await;
    assert_eq!(ref_r["status"], "not_accepted");
    assert!(ref_r["message"].as_str().expect("msg").contains("人民法院"));

    let mut acc = visit();
    acc["category"] = json!("accusation");
    acc["summary"] = json!("镇干部收受工程款回扣");
    acc["accused_unit_id"] = json!("330122002-construction");
    let (_, acc_r) = post(&ctx, &t, &acc).await;
    assert_eq!(acc_r["confidential"], true);
    let stored: String = sqlx::query_scalar("SELECT summary FROM cases WHERE confidential")
        .fetch_one(&ctx.svc("intake").pool)
        .await
        .expect("row");
    assert_eq!(stored, "[confidential]");

    // Events: 5 registrations + a closure for the spot answer + not-accepted and closure for the referral.
    let records = read_topic(&ctx.brokers, &ctx.topic, 8, Duration::from_secs(30)).await;
    assert_eq!(records.len(), 8);
    let mut regs = Vec::new();
    let mut others = Vec::new();
    for rec in &records {
        let ev = xf_events::decode(&rec.payload).expect("decodes");
        match ev.payload() {
            Some(xf_events::Payload::CaseRegistered(r)) => regs.push(r.clone()),
            Some(p) => others.push(xf_events::type_name(Some(p))),
            None => {}
        }
        assert!(
            !rec.payload
                .windows("回扣".len())
                .any(|w| w == "回扣".as_bytes()),
            "accusation content stays in intake"
        );
    }
    others.sort_unstable();
    assert_eq!(others, ["CaseClosed", "CaseClosed", "CaseNotAccepted"]);
    let a = regs.iter().find(|r| r.anonymous).expect("anonymous");
    assert!(a.petitioner_pid.is_empty());
    let c = regs.iter().find(|r| r.collective).expect("collective");
    assert_eq!(c.headcount, 35);
    assert_eq!(c.urgency, xf_events::v1::Urgency::Urgent as i32);
    assert!(regs.iter().any(|r| r.answered_on_spot));
    assert!(regs.iter().any(|r| r.referral_channel == "court"));
    let conf = regs.iter().find(|r| r.confidential).expect("accusation");
    assert!(conf.signature.is_empty(), "no signature of sealed content");
    // Every other registration carries its summary's keyed signature, never its text.
    for r in regs.iter().filter(|r| !r.confidential) {
        assert!(!r.signature.is_empty(), "{}", r.registration_no);
    }
    for rec in &records {
        for text in ["工地拖欠工资", "夜间偷排废水", "拖欠"] {
            assert!(
                !rec.payload
                    .windows(text.len())
                    .any(|w| w == text.as_bytes()),
                "an event carries the summary {text}"
            );
        }
    }
    assert_eq!(conf.excluded_unit_id, "330122002-construction");
    ctx.cleanup().await;
}

/// Routing dispatched the case to `unit` (with `assisting`) at `code`.
async fn dispatch(ctx: &Ctx, case_id: &str, unit: &str, assisting: &[&str], code: &str) {
    let env = xf_events::envelope(
        case_id.parse().expect("uuid"),
        "routing",
        xf_events::tier_of_code(code),
        code,
        ctx.svc("intake").clock.now(),
        xf_events::Payload::CaseDispatched(xf_events::v1::CaseDispatched {
            unit_id: unit.into(),
            unit_name: format!("单位{unit}"),
            assisting_unit_ids: assisting.iter().map(|a| (*a).to_owned()).collect(),
            jurisdiction_code: code.into(),
            ..Default::default()
        }),
    );
    produce_raw(
        &ctx.brokers,
        &ctx.topic,
        case_id,
        &xf_events::encode(&env),
        &[],
    )
    .await;
}

#[tokio::test]
async fn register_reads_follow_the_assignment_hide_from_the_accused_and_are_audited() {
    let ctx = start(&[]).await;
    let t = registrar(&ctx);
    let (_, plain) = post(&ctx, &t, &letter()).await;
    let mut acc = visit();
    acc["category"] = json!("accusation");
    acc["summary"] = json!("检举村干部虚报冒领补助资金");
    acc["requests"] = json!("请求查处");
    acc["accused_unit_id"] = json!("330122002-mz");
    let (_, accused) = post(&ctx, &t, &acc).await;
    let (p, a) = (
        plain["case_id"].as_str().expect("id").to_owned(),
        accused["case_id"].as_str().expect("id").to_owned(),
    );
    let http = xf_testkit::http();
    let read = |id: &str, token: &str, reason: Option<&str>| {
        let mut rb = http
            .get(ctx.svc("intake").url(&format!("/v1/cases/{id}")))
            .bearer_auth(token.to_owned());
        if let Some(r) = reason {
            rb = rb.query(&[("reason", r)]);
        }
        async move {
            let r = rb.send().await.expect("req");
            let s = r.status();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let why = "办理前阅看来信内容";

    // Before routing tells intake where the case went, no unit reads it.
    let lead = ctx.token(&[roles::HANDLER], Some("330122002-gov"), COUNTY);
    assert_eq!(read(&p, &lead, Some(why)).await.0, StatusCode::NOT_FOUND);
    dispatch(&ctx, &p, "330122002-gov", &["330122-zrzy"], "330122002").await;
    dispatch(&ctx, &a, "330122-jw", &[], "330122").await;
    let (s, v) = eventually(
        "intake learns the assignment",
        Duration::from_secs(60),
        || {
            let f = read(&p, &lead, Some(why));
            async move {
                let (s, v) = f.await;
                (s == StatusCode::OK).then_some((s, v))
            }
        },
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["summary"], "承包地被征收后补偿款未发放");
    assert_eq!(v["requests"], "要求足额发放补偿款");
    assert!(
        v.get("petitioners").is_none(),
        "identity is not in the register read"
    );
    let assisting = ctx.token(&[roles::HANDLER], Some("330122-zrzy"), COUNTY);
    assert_eq!(read(&p, &assisting, Some(why)).await.0, StatusCode::OK);
    // Another unit of the county, a registrar of another township, a supervisor
    // elsewhere: no such case (404, not 403). Without a reason: 422.
    for (who, token) in [
        (
            "another unit",
            ctx.token(&[roles::HANDLER], Some("330122-rsj"), COUNTY),
        ),
        (
            "another township's registrar",
            ctx.token(&[roles::REGISTRAR], None, "330122003"),
        ),
        (
            "a supervisor elsewhere",
            ctx.token(&[roles::SUPERVISOR], None, "330127"),
        ),
        ("a scheduler", ctx.token(&[roles::SCHEDULER], None, COUNTY)),
    ] {
        let (s, body) = read(&p, &token, Some(why)).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{who}: {body}");
    }
    let (s, body) = read(&p, &lead, None).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        read(&p, &lead, Some("x")).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // The accusation: the lead (discipline) unit reads the sealed content; a supervisor
    // over it sees that it is confidential but not the content; the accused unit's own
    // token, whatever its roles, gets 404 — for the register, the identity and the audit.
    let jw = ctx.token(&[roles::HANDLER], Some("330122-jw"), COUNTY);
    let v = eventually(
        "intake learns the accusation's unit",
        Duration::from_secs(60),
        || {
            let f = read(&a, &jw, Some(why));
            async move {
                let (s, v) = f.await;
                (s == StatusCode::OK).then_some(v)
            }
        },
    )
    .await;
    assert_eq!(v["summary"], "[confidential]");
    assert_eq!(
        v["confidential_content"]["summary"],
        "检举村干部虚报冒领补助资金"
    );
    let sup = ctx.token(&[roles::SUPERVISOR], None, COUNTY);
    let (s, v) = read(&a, &sup, Some(why)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["summary"], "[confidential]");
    assert!(v["confidential_content"].is_null(), "{v}");
    for roles in [
        &[roles::HANDLER][..],
        &[
            roles::SUPERVISOR,
            roles::LEADER,
            roles::ADMIN,
            roles::REGISTRAR,
            roles::VAULT_READER,
        ][..],
    ] {
        let accused_unit = ctx.token(roles, Some("330122002-mz"), COUNTY);
        let (s, body) = read(&a, &accused_unit, Some(why)).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{roles:?}: {body}");
        let r = http
            .get(ctx.svc("intake").url(&format!("/v1/cases/{a}/petitioners")))
            .query(&[("reason", why)])
            .bearer_auth(&accused_unit)
            .send()
            .await
            .expect("req");
        // Without the vault role: refused before the case is looked up (reveals nothing).
        let want = if roles.contains(&"vault_reader") {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(r.status(), want, "{roles:?}");
        let trail: Value = http
            .get(
                ctx.svc("intake")
                    .url(&format!("/v1/vault/audit?case_id={a}")),
            )
            .bearer_auth(&accused_unit)
            .send()
            .await
            .expect("req")
            .json()
            .await
            .unwrap_or(Value::Null);
        assert_eq!(
            trail["items"].as_array().map(Vec::len).unwrap_or(0),
            0,
            "{trail}"
        );
    }

    // Every successful read is in the trail: who, when, why, what — refused ones not.
    let trail: Value = http
        .get(ctx.svc("intake").url("/v1/vault/audit"))
        .bearer_auth(&sup)
        .send()
        .await
        .expect("req")
        .json()
        .await
        .expect("json");
    let items = trail["items"].as_array().expect("items");
    let whats: Vec<&str> = items.iter().filter_map(|i| i["what"].as_str()).collect();
    assert_eq!(items.len(), 4, "{trail}");
    assert_eq!(
        whats
            .iter()
            .filter(|w| **w == "case, confidential content")
            .count(),
        1,
        "{whats:?}"
    );
    assert!(
        items
            .iter()
            .all(|i| i["reason"] == why && i["at"].is_string())
    );
    let readers: Vec<Option<&str>> = items.iter().map(|i| i["reader_unit"].as_str()).collect();
    for unit in ["330122002-gov", "330122-zrzy", "330122-jw"] {
        assert!(readers.contains(&Some(unit)), "{unit} in {readers:?}");
    }
    ctx.cleanup().await;
}

async fn reply(ctx: &Ctx, case_id: &str) {
    let env = xf_events::envelope(
        case_id.parse().expect("uuid"),
        "routing",
        xf_events::Tier::Village,
        VILLAGE,
        ctx.svc("intake").clock.now(),
        xf_events::Payload::ReplyIssued(xf_events::v1::ReplyIssued {
            unit_id: "330122002200-xfb".into(),
            outcome: xf_events::v1::ReplyOutcome::Explain as i32,
            text_length: 120,
        }),
    );
    produce_raw(
        &ctx.brokers,
        &ctx.topic,
        case_id,
        &xf_events::encode(&env),
        &[],
    )
    .await;
}

#[tokio::test]
async fn the_citizen_follows_reviews_and_rates() {
    let ctx = start(&[("citizen.rate_per_minute", "40")]).await;
    let (_, receipt) = post(&ctx, &registrar(&ctx), &visit()).await;
    let no = receipt["registration_no"].as_str().expect("no").to_owned();
    let code = receipt["query_code"].as_str().expect("code").to_owned();
    let id = receipt["case_id"].as_str().expect("id").to_owned();
    let http = xf_testkit::http();
    let base = ctx.svc("intake").url(&format!("/v1/public/cases/{no}"));

    let view: Value = http
        .get(format!("{base}?code={code}"))
        .send()
        .await
        .expect("req")
        .json()
        .await
        .expect("json");
    assert_eq!(view["status"], "registered");
    let text = view.to_string();
    for secret in [NAME, PHONE, ID_NO, ADDRESS] {
        assert!(!text.contains(secret));
    }
    assert_eq!(
        http.get(format!("{base}?code=WRONG123"))
            .send()
            .await
            .expect("req")
            .status(),
        StatusCode::NOT_FOUND
    );
    let unknown = ctx
        .svc("intake")
        .url(&format!("/v1/public/cases/330122-2026-999999?code={code}"));
    assert_eq!(
        http.get(unknown).send().await.expect("req").status(),
        StatusCode::NOT_FOUND
    );

    let review = |kind: &str| {
        http.post(format!("{base}/review"))
            .json(&json!({"code": code, "kind": kind}))
            .send()
    };
    let rate = |score: i64| {
        http.post(format!("{base}/satisfaction"))
            .json(&json!({"code": code, "score": score}))
            .send()
    };
    assert_eq!(
        review("review").await.expect("req").status(),
        StatusCode::CONFLICT,
        "no reply yet"
    );
    assert_eq!(
        rate(4).await.expect("req").status(),
        StatusCode::CONFLICT,
        "no reply yet"
    );

    reply(&ctx, &id).await;
    eventually("intake saw the reply", Duration::from_secs(60), || async {
        let v: Value = http
            .get(format!("{base}?code={code}"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (v["status"] == "replied").then_some(())
    })
    .await;
    assert_eq!(
        rate(9).await.expect("req").status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(rate(4).await.expect("req").status(), StatusCode::ACCEPTED);
    assert_eq!(
        rate(5).await.expect("req").status(),
        StatusCode::CONFLICT,
        "rated once"
    );
    assert_eq!(
        review("rereview").await.expect("req").status(),
        StatusCode::CONFLICT,
        "review first"
    );
    assert_eq!(
        review("review").await.expect("req").status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(
        review("review").await.expect("req").status(),
        StatusCode::CONFLICT,
        "once"
    );

    // The reply to the review opens the re-review window; past it, 409. (It answers the
    // review request: the request is on the topic before the reply, as when routing
    // answers it.)
    xf_testkit::outbox_drained(&ctx.svc("intake").pool, Duration::from_secs(60)).await;
    reply(&ctx, &id).await;
    eventually(
        "intake saw the second reply",
        Duration::from_secs(60),
        || async {
            let v: Value = http
                .get(format!("{base}?code={code}"))
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            (v["status"] == "replied" && v["review_state"] == "none").then_some(())
        },
    )
    .await;
    ctx.svc("intake").clock.advance(chrono::Duration::days(31));
    let late = review("rereview").await.expect("req");
    assert_eq!(late.status(), StatusCode::CONFLICT);
    let p: Value = late.json().await.expect("json");
    assert!(
        p["detail"].as_str().expect("detail").contains("window"),
        "{p}"
    );
    ctx.svc("intake").clock.advance(chrono::Duration::days(-31));
    assert_eq!(
        review("rereview").await.expect("req").status(),
        StatusCode::ACCEPTED
    );

    let records = read_topic(&ctx.brokers, &ctx.topic, 6, Duration::from_secs(30)).await;
    let kinds: Vec<&str> = records
        .iter()
        .filter_map(|r| xf_events::decode(&r.payload).ok())
        .map(|e| e.type_name())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "ReviewRequested").count(), 2);
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == "SatisfactionRecorded")
            .count(),
        1
    );

    // Rate limit: the budget runs out.
    let mut limited = false;
    for _ in 0..60 {
        if http
            .get(format!("{base}?code={code}"))
            .send()
            .await
            .expect("req")
            .status()
            == StatusCode::TOO_MANY_REQUESTS
        {
            limited = true;
            break;
        }
    }
    assert!(limited, "public endpoints are rate-limited");
    ctx.cleanup().await;
}

#[tokio::test]
async fn the_openapi_document_describes_the_api() {
    let ctx = start(&[]).await;
    let doc: Value = xf_testkit::http()
        .get(ctx.svc("intake").url("/openapi.json"))
        .send()
        .await
        .expect("req")
        .json()
        .await
        .expect("json");
    assert!(doc["openapi"].as_str().expect("version").starts_with("3."));
    for path in [
        "/v1/cases",
        "/v1/cases/{id}/petitioners",
        "/v1/public/cases/{registration_no}",
        "/v1/vault/audit",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
    assert!(doc["components"]["schemas"]["NewCase"].is_object());
    ctx.cleanup().await;
}

#[tokio::test]
async fn the_taxonomy_is_configurable_by_administrators() {
    let ctx = start(&[]).await;
    let http = xf_testkit::http();
    let url = ctx.svc("intake").url("/v1/categories/rural_roads");
    let body = json!({"name": "农村道路", "class": "claim"});
    let clerk = registrar(&ctx);
    assert_eq!(
        http.put(&url)
            .bearer_auth(&clerk)
            .json(&body)
            .send()
            .await
            .expect("req")
            .status(),
        StatusCode::FORBIDDEN
    );
    let admin = ctx.token(&[roles::ADMIN], None, COUNTY);
    let bad = http
        .put(ctx.svc("intake").url("/v1/categories/Bad-Code"))
        .bearer_auth(&admin)
        .json(&json!({"name": "", "class": "other"}))
        .send()
        .await
        .expect("req");
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let p: Value = bad.json().await.expect("json");
    assert_eq!(fields(&p), ["class", "code", "name"]);
    assert_eq!(
        http.put(&url)
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .await
            .expect("req")
            .status(),
        StatusCode::OK
    );
    let mut v = visit();
    v["category"] = json!("rural_roads");
    assert_eq!(post(&ctx, &clerk, &v).await.0, StatusCode::CREATED);
    let list: Value = http
        .get(ctx.svc("intake").url("/v1/categories"))
        .send()
        .await
        .expect("req")
        .json()
        .await
        .expect("json");
    assert!(
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|c| c["code"] == "rural_roads")
    );
    ctx.cleanup().await;
}

#[tokio::test]
async fn the_stored_statuses_are_the_shared_status_enum() {
    let ctx = start(&[]).await;
    let pool = &ctx.svc("intake").pool;
    let mut want: Vec<String> = xf_events::status::Status::ALL
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    want.sort();
    assert_eq!(
        xf_testkit::check_values(pool, "cases_status_check").await,
        want
    );
    ctx.cleanup().await;
}
