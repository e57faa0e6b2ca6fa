//! The privacy scan: the whole stack as real binaries, cases carrying names, phone
//! numbers, ID numbers, addresses and free text driven through the loop (registration,
//! dispatch, an audited read by the unit, acceptance, reply, closing, the citizen's
//! status and rating, a card, leader ownership, an accusation, a collective visit); then
//! every record on the topics, every text column of every schema but intake's and every
//! line the five services logged are searched for any of it. Anything found fails.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use xf_auth::roles;
use xf_testkit::{Ctx, Process, eventually, read_topic};

const COUNTY: &str = "330122";
const VILLAGE: &str = "330122002200";
const TOWN: &str = "330122003";

/// A resident ID number with a valid check character (GB 11643), born on 1970-01-dd.
fn id_number(n: u32) -> String {
    let body = format!(
        "3301221970{:02}{:02}{:03}",
        1 + n % 12,
        1 + n % 28,
        100 + n % 900
    );
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let sum: u32 = body
        .bytes()
        .zip(W)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    format!("{body}{}", CHECK[(sum % 11) as usize] as char)
}

struct Person {
    name: &'static str,
    phone: &'static str,
    id_number: String,
    address: &'static str,
    work_unit: &'static str,
}

impl Person {
    fn json(&self) -> Value {
        json!({"name": self.name, "phone": self.phone, "id_number": self.id_number,
               "address": self.address, "work_unit": self.work_unit, "gender": "female", "age": 52})
    }
    fn secrets(&self) -> Vec<String> {
        vec![
            self.name.into(),
            self.phone.into(),
            self.id_number.clone(),
            self.address.into(),
            self.work_unit.into(),
        ]
    }
}

async fn call(method: &str, url: String, token: &str, body: Option<Value>) -> (StatusCode, Value) {
    xf_testkit::call(method, &url, token, body).await
}

#[tokio::test]
async fn pii_scan_finds_nothing_after_the_end_to_end_flow() {
    let ctx = Ctx::new().await.expect("context");
    let debug = [("telemetry.log_level", "debug")];
    let mut procs: Vec<Process> = Vec::new();
    for s in xf_e2e::SERVICES {
        procs.push(ctx.start_binary(s, &debug).await);
    }
    let svc = |name: &str| -> &Process { procs.iter().find(|p| p.name == name).expect("running") };
    let registrar = ctx.token(&[roles::REGISTRAR], Some("330122-xfb"), COUNTY);
    let overseer = ctx.token(
        &[roles::SUPERVISOR, roles::LEADER, roles::ANALYST],
        None,
        COUNTY,
    );

    let people = [
        Person {
            name: "慕容雪晴",
            phone: "13566661234",
            id_number: id_number(1),
            address: "旧县街道旧县村青石巷8号",
            work_unit: "桐庐县某竹编合作社",
        },
        Person {
            name: "司徒远山",
            phone: "0571-64998877",
            id_number: id_number(2),
            address: "桐君街道春江花园12幢",
            work_unit: "桐庐某建筑劳务公司",
        },
        Person {
            name: "令狐晚枫",
            phone: "13788885555",
            id_number: id_number(3),
            address: "桐君街道白云源路99号",
            work_unit: "桐庐某物流中心",
        },
        Person {
            name: "诸葛清和",
            phone: "15900001111",
            id_number: id_number(4),
            address: "旧县街道母岭村后山组",
            work_unit: "旧县村茶叶专业合作社",
        },
    ];
    let texts = [
        (
            "land",
            "旧县村青石巷承包地被征用三年补偿款一直未兑现，慕容雪晴家中困难",
            "请尽快兑现征地补偿",
        ),
        (
            "labour_wages",
            "春江花园工地包工头拖欠二十名工人工资累计四十余万元",
            "请求责令支付拖欠工资",
        ),
        (
            "accusation",
            "检举某所所长在白云源路拆迁中收受开发商财物",
            "请求纪检部门立案调查",
        ),
    ];
    // A: a letter about land; B: a collective visit about wages (two representatives);
    // C: an accusation naming the accused unit.
    let mut a = xf_e2e::sample_case("letter", VILLAGE, texts[0].0, texts[0].1, 0);
    a["petitioners"] = json!([people[0].json()]);
    a["requests"] = json!(texts[0].2);
    let mut b = xf_e2e::sample_case("visit", TOWN, texts[1].0, texts[1].1, 0);
    b["petitioners"] = json!([people[1].json(), people[2].json()]);
    b["collective"] = json!({"headcount": 20});
    b["requests"] = json!(texts[1].2);
    let mut c = xf_e2e::sample_case("phone", TOWN, texts[2].0, texts[2].1, 0);
    c["petitioners"] = json!([people[3].json()]);
    c["requests"] = json!(texts[2].2);
    c["accused_unit_id"] = json!("330122003-gas");
    let mut receipts = Vec::new();
    for body in [a, b, c] {
        let (s, v) = call(
            "POST",
            svc("intake").url("/v1/cases"),
            &registrar,
            Some(body),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        receipts.push(v);
    }
    let id = |i: usize| receipts[i]["case_id"].as_str().expect("id").to_owned();

    // Routing dispatches each; supervision starts the clocks.
    let mut units = Vec::new();
    for i in 0..3 {
        let url = svc("routing").url(&format!("/v1/cases/{}/routing", id(i)));
        let v = eventually("dispatched", Duration::from_secs(90), || {
            let (url, t) = (url.clone(), overseer.clone());
            async move {
                let (s, v) = call("GET", url, &t, None).await;
                (s == StatusCode::OK && v["status"] == "dispatched").then_some(v)
            }
        })
        .await;
        units.push(v["unit_id"].as_str().expect("unit").to_owned());
    }
    assert_ne!(
        units[2], "330122003-gas",
        "the accused unit never receives it"
    );

    // Case A through the whole handling path, by its unit, who reads the content from
    // intake (audited) first.
    let handler = ctx.token(&[roles::HANDLER], Some(&units[0]), COUNTY);
    let read = svc("intake").url(&format!(
        "/v1/cases/{}?reason=%E5%8A%9E%E7%90%86%E5%89%8D%E9%98%85%E5%8D%B7",
        id(0)
    ));
    // Intake learns the assignment from routing's CaseDispatched.
    let v = eventually("intake knows the unit", Duration::from_secs(60), || {
        let (url, t) = (read.clone(), handler.clone());
        async move {
            let (s, v) = call("GET", url, &t, None).await;
            (s == StatusCode::OK).then_some(v)
        }
    })
    .await;
    assert_eq!(
        v["summary"], texts[0].1,
        "the unit reads the content from intake"
    );
    let route =
        |i: usize, action: &str| svc("routing").url(&format!("/v1/cases/{}/{action}", id(i)));
    for (action, body) in [
        ("accept", None),
        (
            "reply",
            Some(json!({"outcome": "support", "text": "经核实，补偿款已列入本月发放计划。"})),
        ),
        ("close", None),
    ] {
        let (s, v) = call("POST", route(0, action), &handler, body).await;
        assert_eq!(s, StatusCode::OK, "{action}: {v}");
    }
    // The citizen looks the case up and rates the reply.
    let (no, code) = (
        receipts[0]["registration_no"]
            .as_str()
            .expect("no")
            .to_owned(),
        receipts[0]["query_code"].as_str().expect("code").to_owned(),
    );
    eventually("intake shows the reply", Duration::from_secs(60), || {
        let url = svc("intake").url(&format!("/v1/public/cases/{no}?code={code}"));
        async move {
            let v: Value = xf_testkit::http()
                .get(url)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            (v["status"] == "closed").then_some(())
        }
    })
    .await;
    let r = xf_testkit::http()
        .post(svc("intake").url(&format!("/v1/public/cases/{no}/satisfaction")))
        .json(&json!({"code": code, "score": 4}))
        .send()
        .await
        .expect("rate");
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    // Supervision: a card and a leader on case B.
    let due = (chrono::Utc::now() + chrono::Duration::days(10)).to_rfc3339();
    let (s, v) = call(
        "POST",
        svc("supervision").url("/v1/cards"),
        &overseer,
        Some(json!({"case_id": id(1), "instruction": "请十日内结清拖欠工资并报告", "undertaking_unit_id": units[1], "due_at": due})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = call(
        "POST",
        svc("supervision").url(&format!("/v1/cases/{}/ownership", id(1))),
        &overseer,
        Some(json!({"leader_id": "tj-sj", "leader_title": "桐君街道党工委书记"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    // Every service has folded what it owes: scheduling booked the follow-up visit for
    // the closed case, reporting counts it closed and the leader on case B.
    eventually(
        "scheduling booked the follow-up",
        Duration::from_secs(90),
        || {
            let url = svc("scheduling").url(&format!("/v1/cases/{}/follow-ups", id(0)));
            let t = overseer.clone();
            async move {
                let (s, v) = call("GET", url, &t, None).await;
                (s == StatusCode::OK && v["follow_ups"].as_array().is_some_and(|f| !f.is_empty()))
                    .then_some(())
            }
        },
    )
    .await;
    eventually("reporting folded the flow", Duration::from_secs(90), || {
        let (u0, u1) = (
            svc("reporting").url(&format!("/v1/cases/{}", id(0))),
            svc("reporting").url(&format!("/v1/cases/{}", id(1))),
        );
        let t = overseer.clone();
        async move {
            let (_, a) = call("GET", u0, &t, None).await;
            let (_, b) = call("GET", u1, &t, None).await;
            (a["status"] == "closed" && b["leader_title"].is_string()).then_some(())
        }
    })
    .await;

    // Everything the stack wrote outside intake, once it has stopped.
    let mut logs = Vec::new();
    for p in procs {
        let name = p.name.clone();
        logs.push((name, p.stop().await));
    }
    let admin = ctx.admin();
    let mut published = 0i64;
    for s in xf_e2e::SERVICES {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {}.outbox WHERE published_at IS NOT NULL",
            ctx.schema(s)
        )))
        .fetch_one(admin)
        .await
        .expect("outbox");
        published += n;
    }
    let records = read_topic(
        &ctx.brokers,
        &ctx.topic,
        usize::try_from(published).unwrap_or(0),
        Duration::from_secs(30),
    )
    .await;
    assert!(
        records.len() as i64 >= published && published >= 15,
        "read {} of {published} events",
        records.len()
    );
    let dead = read_topic(&ctx.brokers, &ctx.dlq_topic, 0, Duration::from_secs(3)).await;

    let mut secrets: Vec<String> = people.iter().flat_map(Person::secrets).collect();
    for p in &people {
        // Phone numbers as digits only, too.
        secrets.push(p.phone.chars().filter(char::is_ascii_digit).collect());
    }
    for (_, summary, requests) in texts {
        secrets.push(summary.into());
        secrets.push(requests.into());
        // Any ten characters of the text.
        let chars: Vec<char> = summary.chars().collect();
        for w in chars.chunks(10).filter(|w| w.len() == 10) {
            secrets.push(w.iter().collect());
        }
    }
    let hex_secrets: Vec<String> = secrets
        .iter()
        .map(|s| s.bytes().map(|b| format!("{b:02x}")).collect())
        .collect();
    let mut found = Vec::new();
    let look = |found: &mut Vec<String>, place: String, text: &str| {
        for s in &secrets {
            if text.contains(s.as_str()) {
                found.push(format!("{place}: {s}"));
            }
        }
    };
    // The topics, payloads and headers, main and dead-letter.
    for (topic, recs) in [("topic", &records), ("dead-letter topic", &dead)] {
        for r in recs.iter() {
            let kind = r.header("xf-event-type").unwrap_or("?").to_owned();
            look(
                &mut found,
                format!("{topic} {kind}"),
                &String::from_utf8_lossy(&r.payload),
            );
            let h: String = r
                .headers
                .iter()
                .map(|(k, v)| format!("{k}={v}\n"))
                .collect();
            look(&mut found, format!("{topic} {kind} headers"), &h);
        }
    }
    // Every text, JSON, array and binary column of every other schema.
    let mut columns = 0;
    // Controls: what the scan must see, to show it reads the real data.
    let mut seen_columns = String::new();
    for service in ["routing", "supervision", "scheduling", "reporting"] {
        let schema = ctx.schema(service);
        let cols: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT table_name::text, column_name::text, data_type::text
             FROM information_schema.columns
             WHERE table_schema = $1 AND data_type IN
                 ('text', 'character varying', 'character', 'json', 'jsonb', 'ARRAY', 'bytea')",
        )
        .bind(&schema)
        .fetch_all(admin)
        .await
        .expect("columns");
        assert!(!cols.is_empty(), "{schema} has text columns");
        for (table, column, ty) in cols {
            let expr = if ty == "bytea" {
                format!("encode(\"{column}\", 'hex')")
            } else {
                format!("\"{column}\"::text")
            };
            let all: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT string_agg({expr}, E'\\n') FROM \"{schema}\".\"{table}\""
            )))
            .fetch_one(admin)
            .await
            .expect("column text");
            let all = all.unwrap_or_default();
            columns += 1;
            seen_columns.push_str(&all);
            if ty == "bytea" {
                for (secret, h) in secrets.iter().zip(&hex_secrets) {
                    if all.contains(h.as_str()) {
                        found.push(format!("{service}.{table}.{column} (bytes): {secret}"));
                    }
                }
            } else {
                look(&mut found, format!("{service}.{table}.{column}"), &all);
            }
        }
    }
    for control in [
        "经核实，补偿款已列入本月发放计划。",
        "桐君街道党工委书记",
        "请十日内结清拖欠工资并报告",
        no.as_str(),
    ] {
        assert!(
            seen_columns.contains(control),
            "the scan does not see {control}"
        );
    }
    let on_topic: String = records
        .iter()
        .map(|r| String::from_utf8_lossy(&r.payload).into_owned())
        .collect();
    assert!(on_topic.contains(no.as_str()) && on_topic.contains(&id(2)));
    // What the five services logged, at debug level.
    for (name, log) in &logs {
        assert!(
            log.contains("\"level\":\"DEBUG\""),
            "{name} logged at debug"
        );
        look(&mut found, format!("{name} log"), log);
    }
    println!(
        "privacy scan: {} events, {} dead letters, {columns} columns, {} log bytes, {} secrets",
        records.len(),
        dead.len(),
        logs.iter().map(|(_, l)| l.len()).sum::<usize>(),
        secrets.len()
    );
    assert!(
        found.is_empty(),
        "personal data or free text found:\n{}",
        found.join("\n")
    );
    ctx.cleanup().await;
}
