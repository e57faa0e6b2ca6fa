//! Open311 GeoReport v2 against the real Postgres and broker, in JSON and XML, and
//! driven by an independent client library (scripts/open311-client/flow.py).

use std::path::PathBuf;

use reqwest::StatusCode;
use serde_json::Value;
use xf_testkit::Ctx;

const KEY: &str = "test-open311-key-county-0001";
const TOWN_KEY: &str = "test-open311-key-town-0000002";
const VILLAGE: &str = "330122002200"; // 旧县村村委会, 旧县街道, 桐庐县
const COUNTY: &str = "330122";

struct Svc {
    ctx: Ctx,
    keys: PathBuf,
}

async fn start() -> Svc {
    let mut ctx = Ctx::new().await.expect("test context");
    let keys = std::env::temp_dir().join(format!("xf-open311-keys-{}.txt", uuid::Uuid::new_v4()));
    std::fs::write(
        &keys,
        format!(
            "# test clients\n{KEY}\t{COUNTY}\t县网上信访平台\n{TOWN_KEY}\t330122003\t桐君街道随手拍\n"
        ),
    )
    .expect("write key file");
    let path = keys.to_str().expect("utf-8 path").to_owned();
    let s = ctx
        .settings::<xf_intake::Ext>(
            &xf_intake::binary(),
            &[
                ("open311.api_keys_file", &path),
                ("open311.rate_per_minute", "10000"),
            ],
        )
        .expect("settings");
    let app = xf_intake::build(s).await.expect("intake builds");
    ctx.spawn("intake", app);
    Svc { ctx, keys }
}

impl Svc {
    fn url(&self, path: &str) -> String {
        self.ctx.svc("intake").url(&format!("/open311/v2/{path}"))
    }
    async fn get(&self, path: &str) -> (StatusCode, String, String) {
        let r = xf_testkit::http()
            .get(self.url(path))
            .send()
            .await
            .expect("request");
        read(r).await
    }
    async fn post(&self, path: &str, form: &[(&str, &str)]) -> (StatusCode, String, String) {
        let r = xf_testkit::http()
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .expect("request");
        read(r).await
    }
    async fn done(self) {
        let _ = std::fs::remove_file(&self.keys);
        self.ctx.cleanup().await;
    }
}

async fn read(r: reqwest::Response) -> (StatusCode, String, String) {
    let status = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (status, ct, r.text().await.expect("body"))
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// The JSON error array's single description, after checking its shape.
fn error(status: StatusCode, ct: &str, body: &str, want: StatusCode) -> String {
    assert_eq!(status, want, "{body}");
    assert_eq!(ct, "application/json; charset=utf-8");
    let v = json(body);
    let items = v.as_array().expect("an error array");
    assert!(!items.is_empty(), "{body}");
    for e in items {
        assert_eq!(e["code"], want.as_u16(), "{body}");
    }
    items
        .iter()
        .map(|e| e["description"].as_str().expect("description").to_owned())
        .collect::<Vec<_>>()
        .join(" | ")
}

fn form<'a>(key: &'a str, code: &'a str, description: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("api_key", key),
        ("service_code", code),
        ("address_id", VILLAGE),
        ("description", description),
        ("last_name", "张"),
        ("first_name", "三丰"),
        ("phone", "13800138000"),
        ("email", "zhang@example.com"),
    ]
}

#[tokio::test]
async fn discovery_services_and_definitions_in_json_and_xml() {
    let s = start().await;
    let (st, ct, body) = s.get("discovery.json").await;
    assert_eq!(
        (st, ct.as_str()),
        (StatusCode::OK, "application/json; charset=utf-8")
    );
    let d = json(&body);
    let ep = &d["endpoints"][0];
    assert_eq!(ep["specification"], "http://wiki.open311.org/GeoReport_v2");
    assert!(ep["url"].as_str().expect("url").ends_with("/open311/v2"));
    assert_eq!(
        ep["formats"],
        serde_json::json!(["text/xml", "application/json"])
    );
    let (st, ct, body) = s.get("discovery.xml").await;
    assert_eq!(
        (st, ct.as_str()),
        (StatusCode::OK, "text/xml; charset=utf-8")
    );
    assert!(
        body.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?><discovery>"),
        "{body}"
    );
    assert!(
        body.contains(
            "<formats><format>text/xml</format><format>application/json</format></formats>"
        )
    );

    let (st, _, body) = s.get("services.json").await;
    assert_eq!(st, StatusCode::OK);
    let services = json(&body);
    let land = services
        .as_array()
        .expect("array")
        .iter()
        .find(|x| x["service_code"] == "land")
        .expect("land");
    assert_eq!(land["service_name"], "土地征收与承包");
    assert_eq!(land["group"], "claim");
    assert_eq!(land["metadata"], true);
    assert_eq!(land["type"], "realtime");
    for q in [
        "services.json?jurisdiction_id=330122",
        "services.json?jurisdiction_id=xinfang",
    ] {
        assert_eq!(s.get(q).await.0, StatusCode::OK, "{q}");
    }
    let (st, ct, body) = s.get("services.json?jurisdiction_id=110101").await;
    error(st, &ct, &body, StatusCode::NOT_FOUND);
    let (st, ct, body) = s.get("services.xml").await;
    assert_eq!(
        (st, ct.as_str()),
        (StatusCode::OK, "text/xml; charset=utf-8")
    );
    assert!(body.contains("<services><service><service_code>"), "{body}");
    assert!(body.contains("<service_name>土地征收与承包</service_name>"));

    let (st, _, body) = s.get("services/land.json").await;
    assert_eq!(st, StatusCode::OK);
    let def = json(&body);
    assert_eq!(def["service_code"], "land");
    let codes: Vec<&str> = def["attributes"]
        .as_array()
        .expect("attributes")
        .iter()
        .map(|a| a["code"].as_str().expect("code"))
        .collect();
    assert!(
        codes.contains(&"urgency") && codes.contains(&"headcount"),
        "{codes:?}"
    );
    assert!(!codes.contains(&"accused_unit_id"));
    let location = def["attributes"]
        .as_array()
        .expect("attributes")
        .iter()
        .find(|a| a["code"] == "location_note")
        .expect("location note");
    assert_eq!(location["variable"], false);
    assert!(
        location["description"]
            .as_str()
            .expect("text")
            .contains("lat/long")
    );
    let (_, _, body) = s.get("services/accusation.json").await;
    assert!(body.contains("\"accused_unit_id\""), "{body}");
    let (st, ct, body) = s.get("services/land.xml").await;
    assert_eq!(
        (st, ct.as_str()),
        (StatusCode::OK, "text/xml; charset=utf-8")
    );
    assert!(
        body.contains(
            "<service_definition><service_code>land</service_code><attributes><attribute>"
        )
    );
    assert!(
        body.contains("<values><value><key>normal</key><name>一般</name></value>"),
        "{body}"
    );
    let (st, ct, body) = s.get("services/no_such.json").await;
    error(st, &ct, &body, StatusCode::NOT_FOUND);
    let (st, ct, body) = s.get("services/no_such.xml").await;
    assert_eq!(
        (st, ct.as_str()),
        (StatusCode::NOT_FOUND, "text/xml; charset=utf-8")
    );
    assert!(
        body.contains("<errors><error><code>404</code><description>"),
        "{body}"
    );
    s.done().await;
}

#[tokio::test]
async fn posting_registers_online_cases_and_the_public_sees_only_public_categories() {
    let s = start().await;
    // A matter of the place (roads: a public category), with a phone number written
    // into the description.
    let mut f = form(
        KEY,
        "transport",
        "旧县村口路段坑洼积水，联系人电话13800138000，请尽快修补",
    );
    f.extend([
        ("attribute[urgency]", "urgent"),
        ("attribute[requests]", "请尽快修补路面"),
        ("media_url", "https://example.org/photo/1.jpg"),
    ]);
    let (st, ct, body) = s.post("requests.json", &f).await;
    assert_eq!(
        (st, ct.as_str()),
        (StatusCode::CREATED, "application/json; charset=utf-8"),
        "{body}"
    );
    let created = json(&body);
    let rid = created[0]["service_request_id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert!(
        rid.starts_with("330122-20") && rid.ends_with("-000001"),
        "{rid}"
    );
    let token = created[0]["token"].as_str().expect("token").to_owned();
    assert!(
        created[0]["service_notice"]
            .as_str()
            .expect("notice")
            .contains(&rid)
    );
    assert!(created[0]["account_id"].is_null());

    let pool = &s.ctx.svc("intake").pool;
    let row: (String, String, String, String, String, String, String) = sqlx::query_as(
        "SELECT channel, office_code, matter_code, category, registered_by, urgency, status
         FROM cases WHERE registration_no = $1",
    )
    .bind(&rid)
    .fetch_one(pool)
    .await
    .expect("case row");
    assert_eq!(
        row,
        (
            "online".into(),
            COUNTY.into(),
            VILLAGE.into(),
            "transport".into(),
            "open311:县网上信访平台".into(),
            "urgent".into(),
            "registered".into()
        )
    );
    let (media, sealed): (Option<String>, i64) = sqlx::query_as(
        "SELECT o.media_url, (SELECT count(*) FROM petitioners p WHERE p.case_id = o.case_id)
         FROM open311_requests o WHERE o.case_id = $1::uuid",
    )
    .bind(&token)
    .fetch_one(pool)
    .await
    .expect("open311 row");
    assert_eq!(
        (media.as_deref(), sealed),
        (Some("https://example.org/photo/1.jpg"), 1)
    );
    let outbox: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(pool)
        .await
        .expect("outbox");
    assert_eq!(outbox, 1);

    // XML posting, a township-scoped client, address by name, a public category.
    let mut f = form(
        TOWN_KEY,
        "environment",
        "桐君街道某小区旁工地夜间施工噪声扰民",
    );
    f.retain(|(k, _)| *k != "address_id");
    f.push(("address_string", "桐庐县桐君街道"));
    let (st, ct, body) = s.post("requests.xml", &f).await;
    assert_eq!(
        (st, ct.as_str()),
        (StatusCode::CREATED, "text/xml; charset=utf-8"),
        "{body}"
    );
    assert!(body.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?><service_requests><request><service_request_id>330122003-20"), "{body}");
    assert!(body.contains("<account_id/>"), "{body}");
    let town_rid = body
        .split("<service_request_id>")
        .nth(1)
        .and_then(|t| t.split('<').next())
        .expect("id")
        .to_owned();

    // A personal matter (land compensation) and an accusation: registered like any
    // other, and never shown.
    let land_text = "其承包地被征收，补偿款至今未发放到位";
    let (st, _, body) = s.post("requests.json", &form(KEY, "land", land_text)).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let land = json(&body)[0]["service_request_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let land_token = json(&body)[0]["token"].as_str().expect("token").to_owned();
    let secret = "检举某局长收受工程老板贿赂";
    let mut f = form(KEY, "accusation", secret);
    f.push(("attribute[accused_unit_id]", "330122-jt"));
    let (st, _, body) = s.post("requests.json", &f).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let acc = json(&body)[0]["service_request_id"]
        .as_str()
        .expect("id")
        .to_owned();

    // Reading back the public request: JSON and XML, by id, by token.
    let (st, ct, body) = s.get(&format!("requests/{rid}.json")).await;
    assert_eq!(
        (st, ct.as_str()),
        (StatusCode::OK, "application/json; charset=utf-8")
    );
    for personal in [
        "张",
        "三丰",
        "13800138000",
        "zhang@example.com",
        "example.org",
        VILLAGE,
        "旧县村村委会",
    ] {
        assert!(!body.contains(personal), "GET shows {personal}: {body}");
    }
    let r = &json(&body)[0];
    assert_eq!(r["service_request_id"], rid.as_str());
    assert_eq!(r["status"], "open");
    assert_eq!(r["status_notes"], "已登记，待转送办理");
    assert_eq!(r["service_code"], "transport");
    assert_eq!(r["service_name"], "交通运输");
    assert_eq!(
        r["description"], "旧县村口路段坑洼积水，联系人电话＊＊＊，请尽快修补",
        "numbers masked"
    );
    assert_eq!(r["address_id"], "330122002", "coarsened to the township");
    assert_eq!(r["address"], "桐庐县旧县街道");
    assert!(r["expected_datetime"].is_null());
    assert!(
        r["requested_datetime"]
            .as_str()
            .expect("time")
            .ends_with('Z')
    );
    let (st, _, body) = s.get(&format!("requests/{rid}.xml")).await;
    assert_eq!(st, StatusCode::OK);
    assert!(body.contains(&format!("<service_requests><request><service_request_id>{rid}</service_request_id><status>open</status>")), "{body}");
    let (st, _, body) = s.get(&format!("tokens/{token}.json")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(json(&body)[0]["service_request_id"], rid.as_str());
    let (st, _, body) = s.get(&format!("tokens/{token}.xml")).await;
    assert_eq!(st, StatusCode::OK);
    assert!(body.contains(&format!("<service_request_id>{rid}</service_request_id>")));
    // The posting client can still turn its own token into the request id.
    let (st, _, body) = s.get(&format!("tokens/{land_token}.json")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(json(&body)[0]["service_request_id"], land.as_str());

    // Supervision's deadline, the handling unit and closing show through.
    sqlx::query(
        "UPDATE cases SET due_at = '2030-01-31T16:00:00Z', unit_name = '旧县街道办事处', status = 'closed'
         WHERE registration_no = ANY($1)",
    )
    .bind(vec![rid.clone(), land.clone()])
    .execute(pool)
    .await
    .expect("update");
    let r = json(&s.get(&format!("requests/{rid}.json")).await.2)[0].clone();
    assert_eq!(r["expected_datetime"], "2030-01-31T16:00:00Z");
    assert_eq!(r["agency_responsible"], "旧县街道办事处");
    assert_eq!(
        (r["status"].as_str(), r["status_notes"].as_str()),
        (Some("closed"), Some("已办结"))
    );
    let ids = |v: Value| -> Vec<String> {
        v.as_array()
            .expect("array")
            .iter()
            .map(|x| x["service_request_id"].as_str().expect("id").to_owned())
            .collect()
    };
    let mut all = ids(json(&s.get("requests.json").await.2));
    all.sort();
    let mut public = vec![rid.clone(), town_rid.clone()];
    public.sort();
    assert_eq!(all, public, "only the public categories are listed");
    let closed = ids(json(&s.get("requests.json?status=closed").await.2));
    assert_eq!(closed, vec![rid.clone()]);
    let open = ids(json(&s.get("requests.json?status=open").await.2));
    assert_eq!(open, vec![town_rid.clone()]);
    assert_eq!(
        ids(json(&s.get("requests.json?status=open,closed").await.2)).len(),
        2
    );
    assert_eq!(
        ids(json(&s.get("requests.json?service_code=transport").await.2)),
        vec![rid.clone()]
    );
    let ids_q = format!("requests.json?service_request_id={rid},{town_rid}&status=open");
    assert_eq!(
        ids(json(&s.get(&ids_q).await.2)).len(),
        2,
        "ids override status"
    );
    let (st, _, body) = s
        .get("requests.json?start_date=2020-01-01T00:00:00Z&end_date=2020-03-01T00:00:00%2B08:00")
        .await;
    assert_eq!((st, body.as_str()), (StatusCode::OK, "[]"));
    let (st, _, body) = s.get("requests.xml?status=closed").await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        body.contains("<status>closed</status><status_notes>已办结</status_notes>"),
        "{body}"
    );

    // The personal matter and the accusation: not by id, not in any list, not by
    // their category, not by asking for their ids — in JSON or XML.
    for hidden in [&land, &acc] {
        for fmt in ["json", "xml"] {
            let (st, _, body) = s.get(&format!("requests/{hidden}.{fmt}")).await;
            assert_eq!(st, StatusCode::NOT_FOUND, "{hidden}.{fmt}: {body}");
        }
    }
    for path in [
        "requests.json".to_owned(),
        "requests.xml".to_owned(),
        "requests.json?status=closed".to_owned(),
        "requests.json?service_code=land".to_owned(),
        "requests.json?service_code=accusation".to_owned(),
        format!("requests.json?service_request_id={land},{acc}"),
        format!("requests.xml?service_request_id={land},{acc}"),
    ] {
        let (st, _, body) = s.get(&path).await;
        assert_eq!(st, StatusCode::OK, "{path}");
        for leak in [
            land.as_str(),
            acc.as_str(),
            land_text,
            secret,
            "受贿",
            "[confidential]",
            "land",
        ] {
            assert!(!body.contains(leak), "{path} shows {leak}: {body}");
        }
    }
    for (path, want) in [
        ("requests.json?service_code=land", "[]"),
        ("requests.json?service_code=accusation", "[]"),
    ] {
        assert_eq!(s.get(path).await.2, want, "{path}");
    }
    // The service list says which categories are public.
    let services = json(&s.get("services.json").await.2);
    let desc = |code: &str| -> String {
        services
            .as_array()
            .expect("array")
            .iter()
            .find(|x| x["service_code"] == code)
            .and_then(|x| x["description"].as_str())
            .expect("service")
            .to_owned()
    };
    assert!(
        desc("transport").contains("公开类别"),
        "{}",
        desc("transport")
    );
    assert!(desc("land").contains("不公开"), "{}", desc("land"));
    assert!(desc("accusation").contains("不公开"));
    s.done().await;
}

#[tokio::test]
async fn public_budgets_hold_across_replicas_with_retry_after() {
    let mut ctx = Ctx::new().await.expect("test context");
    let build = |ctx: &Ctx| {
        ctx.settings::<xf_intake::Ext>(
            &xf_intake::binary(),
            &[
                ("open311.rate_per_minute", "4"),
                ("citizen.rate_per_minute", "3"),
            ],
        )
        .expect("settings")
    };
    // Two replicas on one schema: one budget per client.
    let a = xf_intake::build(build(&ctx)).await.expect("replica a");
    ctx.spawn("intake", a);
    let a_url = ctx.svc("intake").base_url.clone();
    let b = xf_intake::build(build(&ctx)).await.expect("replica b");
    ctx.spawn("intake-b", b);
    let b_url = ctx.svc("intake-b").base_url.clone();
    let http = xf_testkit::http();
    let get = |url: String| {
        let http = http.clone();
        async move { http.get(url).send().await.expect("request") }
    };
    // Open311: four requests spread over both replicas pass, the fifth is refused in
    // the spec's error shape, in the format asked, with Retry-After.
    for (i, base) in [&a_url, &b_url, &a_url, &b_url].iter().enumerate() {
        let r = get(format!("{base}/open311/v2/services.json")).await;
        assert_eq!(r.status(), StatusCode::OK, "request {i}");
    }
    let r = get(format!("{a_url}/open311/v2/requests.xml")).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After seconds");
    assert!((1..=15).contains(&retry), "{retry}");
    let (st, ct, body) = read(r).await;
    assert_eq!(
        (st, ct.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "text/xml; charset=utf-8")
    );
    assert!(body.contains("<errors><error><code>429</code>"), "{body}");
    let (st, ct, body) = read(get(format!("{b_url}/open311/v2/discovery.json")).await).await;
    error(st, &ct, &body, StatusCode::TOO_MANY_REQUESTS);
    // Unknown Open311 resources spend the budget too.
    let r = get(format!("{b_url}/open311/v2/nothing.json")).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);

    // The citizen's endpoints have their own budget, in problem+json.
    for base in [&a_url, &b_url, &a_url] {
        let r = get(format!(
            "{base}/v1/public/cases/330122-2026-000001?code=AAAAAAAA"
        ))
        .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
    let r = get(format!(
        "{b_url}/v1/public/cases/330122-2026-000001?code=AAAAAAAA"
    ))
    .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().get("retry-after").is_some());
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert_eq!(ct, "application/problem+json");
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["code"], "rate_limited");
    let r = http
        .post(format!("{a_url}/v1/public/cases/330122-2026-000001/review"))
        .json(&serde_json::json!({"code": "AAAAAAAA", "kind": "review"}))
        .send()
        .await
        .expect("review");
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "every public endpoint"
    );
    // The budgets live in Postgres, by a keyed tag of the address (not the address).
    let rows: Vec<(String, Vec<u8>)> =
        sqlx::query_as("SELECT bucket, client FROM rate_limits ORDER BY bucket")
            .fetch_all(&ctx.svc("intake").pool)
            .await
            .expect("cells");
    assert_eq!(
        rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
        ["citizen", "open311"]
    );
    assert!(
        rows.iter()
            .all(|r| r.1.len() == 16 && !r.1.windows(9).any(|w| w == b"127.0.0.1"))
    );
    // The taxonomy needs no token either, so it spends the citizen budget…
    let r = get(format!("{a_url}/v1/categories")).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // …while endpoints that need a token are not budgeted per address.
    let token = ctx.token(&["supervisor"], None, COUNTY);
    for _ in 0..5 {
        let r = http
            .get(format!("{a_url}/v1/vault/audit"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("audit");
        assert_eq!(r.status(), StatusCode::OK);
    }
    ctx.cleanup().await;
}

#[tokio::test]
async fn bad_input_gets_the_spec_error_arrays() {
    let s = start().await;
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM cases")
        .fetch_one(&s.ctx.svc("intake").pool)
        .await
        .expect("count");
    let ok = form(KEY, "land", "道路积水严重");
    let without = |drop: &str| -> Vec<(&str, &str)> {
        ok.iter().copied().filter(|(k, _)| *k != drop).collect()
    };

    // No api_key or an unknown one: 403, in JSON and XML.
    let (st, ct, body) = s.post("requests.json", &without("api_key")).await;
    assert!(error(st, &ct, &body, StatusCode::FORBIDDEN).contains("api_key"));
    let (st, ct, body) = s.post("requests.xml", &without("api_key")).await;
    assert_eq!(
        (st, ct.as_str()),
        (StatusCode::FORBIDDEN, "text/xml; charset=utf-8")
    );
    assert!(body.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?><errors><error><code>403</code><description>api_key"), "{body}");
    let mut wrong = without("api_key");
    wrong.push(("api_key", "not-a-key-of-ours-000000"));
    let (st, ct, body) = s.post("requests.json", &wrong).await;
    error(st, &ct, &body, StatusCode::FORBIDDEN);
    // A key in the query string counts like one in the form.
    let r = xf_testkit::http()
        .post(s.url(&format!("requests.json?api_key={KEY}")))
        .form(&without("api_key"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::CREATED);

    // Unknown service_code: 400.
    let mut bad = without("service_code");
    bad.push(("service_code", "no_such"));
    let (st, ct, body) = s.post("requests.json", &bad).await;
    assert!(error(st, &ct, &body, StatusCode::BAD_REQUEST).starts_with("service_code"));
    let (st, ct, body) = s.post("requests.json", &without("service_code")).await;
    error(st, &ct, &body, StatusCode::BAD_REQUEST);

    // Fields: description, name, phone, attributes, each named.
    let mut bad = without("description");
    bad.extend([
        ("attribute[urgency]", "whenever"),
        ("attribute[colour]", "red"),
        ("phone", "12"),
    ]);
    bad.retain(|(k, _)| !matches!(*k, "last_name" | "first_name" | "phone"));
    bad.push(("phone", "12"));
    let (st, ct, body) = s.post("requests.json", &bad).await;
    let msg = error(st, &ct, &body, StatusCode::BAD_REQUEST);
    assert!(
        msg.contains("description: is required") && msg.contains("attribute[colour]"),
        "{msg}"
    );
    bad.push(("description", "道路积水严重"));
    bad.retain(|(k, _)| *k != "attribute[colour]");
    let (st, ct, body) = s.post("requests.json", &bad).await;
    let msg = error(st, &ct, &body, StatusCode::BAD_REQUEST);
    for f in ["attribute[urgency]", "first_name/last_name", "phone"] {
        assert!(msg.contains(f), "{f}: {msg}");
    }
    let mut bad = ok.clone();
    bad.push(("attribute[accused_unit_id]", "330122-jt"));
    let (st, ct, body) = s.post("requests.json", &bad).await;
    assert!(error(st, &ct, &body, StatusCode::BAD_REQUEST).contains("attribute[accused_unit_id]"));

    // Location: unknown code, no match, ambiguous, coordinates, none, outside the office.
    for (k, v, want) in [
        ("address_id", "110101", "address_id"),
        ("address_string", "北京市东城区", "address_string"),
        ("address_string", "旧县村和母岭村之间", "ambiguous"),
        (
            "lat",
            "29.79",
            "lat/long are not mapped here; send address_id or address_string",
        ),
    ] {
        let mut f = without("address_id");
        f.push((k, v));
        let (st, ct, body) = s.post("requests.json", &f).await;
        let msg = error(st, &ct, &body, StatusCode::BAD_REQUEST);
        assert!(msg.contains(want), "{k}={v}: {msg}");
    }
    let (st, ct, body) = s.post("requests.json", &without("address_id")).await;
    error(st, &ct, &body, StatusCode::BAD_REQUEST);
    let mut f = without("api_key");
    f.push(("api_key", TOWN_KEY));
    let (st, ct, body) = s.post("requests.json", &f).await;
    error(st, &ct, &body, StatusCode::FORBIDDEN);
    let mut f = ok.clone();
    f.push(("jurisdiction_id", "somewhere"));
    let (st, ct, body) = s.post("requests.json", &f).await;
    error(st, &ct, &body, StatusCode::NOT_FOUND);
    let r = xf_testkit::http()
        .post(s.url("requests.json"))
        .json(&serde_json::json!({"api_key": KEY}))
        .send()
        .await
        .expect("request");
    let (st, ct, body) = read(r).await;
    error(st, &ct, &body, StatusCode::BAD_REQUEST);

    // Only the one good POST registered anything.
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM cases")
        .fetch_one(&s.ctx.svc("intake").pool)
        .await
        .expect("count");
    assert_eq!(after - before, 1);

    // Reading: unknown id or token 404; bad dates, range > 90 days, bad status 400.
    for path in [
        "requests/330122-2020-999999.json",
        "tokens/nope.json",
        "tokens/0190d5a4-0000-7000-8000-000000000000.json",
        "nothing.json",
    ] {
        let (st, ct, body) = s.get(path).await;
        error(st, &ct, &body, StatusCode::NOT_FOUND);
    }
    let (st, ct, body) = s.get("requests/330122-2020-999999.xml").await;
    assert_eq!(
        (st, ct.as_str()),
        (StatusCode::NOT_FOUND, "text/xml; charset=utf-8")
    );
    assert!(body.contains("<errors><error><code>404</code>"), "{body}");
    for (q, want) in [
        (
            "start_date=2025-01-01T00:00:00Z&end_date=2025-04-02T00:00:00Z",
            "90 days",
        ),
        (
            "start_date=2025-02-01T00:00:00Z&end_date=2025-01-01T00:00:00Z",
            "end_date",
        ),
        ("start_date=yesterday", "start_date"),
        ("status=pending", "status"),
        ("service_code=no_such", "service_code"),
    ] {
        let (st, ct, body) = s.get(&format!("requests.json?{q}")).await;
        assert!(
            error(st, &ct, &body, StatusCode::BAD_REQUEST).contains(want),
            "{q}"
        );
    }
    let (st, ct, body) = s
        .get("requests.xml?start_date=2025-01-01T00:00:00Z&end_date=2025-06-01T00:00:00Z")
        .await;
    assert_eq!(
        (st, ct.as_str()),
        (StatusCode::BAD_REQUEST, "text/xml; charset=utf-8")
    );
    assert!(body.contains("<code>400</code>"), "{body}");
    let (st, _, _) = s
        .get("requests.json?start_date=2025-01-01T00:00:00Z&end_date=2025-03-31T00:00:00Z")
        .await;
    assert_eq!(st, StatusCode::OK);
    s.done().await;
}

/// The venv's python, or a failure naming the install script.
fn client_python() -> PathBuf {
    let cache = std::env::var("XINFANG_CACHE")
        .ok()
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/xinfang")
        });
    let py = cache.join("tools/open311-venv/bin/python");
    assert!(
        py.is_file(),
        "the independent Open311 client is not installed ({} is missing): run `bash scripts/open311-client/install.sh`",
        py.display()
    );
    py
}

#[tokio::test]
async fn an_independent_open311_client_drives_the_flow_in_json_and_xml() {
    let py = client_python();
    let s = start().await;
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/open311-client/flow.py");
    let out = tokio::process::Command::new(&py)
        .arg(&script)
        .args([
            "--base",
            &s.url(""),
            "--api-key",
            KEY,
            "--service",
            "transport",
            "--private-service",
            "land",
            "--address-id",
            VILLAGE,
            "--jurisdiction",
            COUNTY,
        ])
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .output()
        .await
        .expect("run flow.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "flow.py failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("open311 flow: ok"), "{stdout}");
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM cases WHERE channel = 'online' AND registered_by LIKE 'open311:%'",
    )
    .fetch_one(&s.ctx.svc("intake").pool)
    .await
    .expect("count");
    assert_eq!(n, 4, "a public and a private request per format");
    s.done().await;
}
