//! Drives the running stack: registers cases in real villages of the fixture county,
//! waits until every service has seen them, and prints a summary.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::Value;
use xf_auth::{KeyAlgorithm, Signer, roles};
use xf_jurisdiction::{Tier, Tree};

#[derive(Parser)]
#[command(
    name = "xf-demo",
    about = "Register cases and follow them through the Xinfang stack"
)]
struct Args {
    /// How many cases to register.
    #[arg(long, default_value_t = 12)]
    cases: usize,
    /// Host the services listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Cases of the year of history (received over the last twelve months).
    #[arg(long, default_value_t = 480)]
    history: usize,
    /// Cases of the spike in one township over the last hours.
    #[arg(long, default_value_t = 12)]
    spike: usize,
    /// Last month's cases handled to the end and rated.
    #[arg(long, default_value_t = 8)]
    closed: usize,
    /// Seconds to wait for the flow.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// The five services' ports, in flow order (intake, routing, supervision,
    /// scheduling, reporting).
    #[arg(long, value_delimiter = ',', default_values_t = SERVICES.map(|s| s.1))]
    ports: Vec<u16>,
}

const SERVICES: [(&str, u16); 5] = [
    ("intake", 8081),
    ("routing", 8082),
    ("supervision", 8083),
    ("scheduling", 8084),
    ("reporting", 8085),
];

const CATEGORIES: [(&str, &str); 6] = [
    ("land", "承包地被占用，补偿标准不明"),
    ("labour_wages", "工程完工半年，工资仍未结清"),
    ("environment", "养殖场污水直排溪流，气味严重"),
    ("housing", "危房改造补助迟迟未到位"),
    ("social_security", "养老保险缴费年限认定有误"),
    ("transport", "村道破损多年无人维修"),
];

fn url(a: &Args, svc: usize, path: &str) -> String {
    let port = a.ports.get(svc).copied().unwrap_or(SERVICES[svc].1);
    format!("http://{}:{port}{path}", a.host)
}

async fn get(http: &reqwest::Client, u: String, token: &str) -> Option<Value> {
    let r = http.get(u).bearer_auth(token).send().await.ok()?;
    if !r.status().is_success() {
        return None;
    }
    r.json().await.ok()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let tree = Tree::fixture()?;
    let county = tree
        .of_tier(Tier::County)
        .first()
        .map(|d| (d.code.to_string(), d.name.clone()))
        .ok_or_else(|| anyhow::anyhow!("the fixture has no county"))?;
    let signer = Signer::from_pem(xf_testkit::DEV_PRIVATE_PEM.as_bytes(), KeyAlgorithm::EdDSA)?;
    let registrar = signer.sign(&xf_auth::claims(
        "demo-registrar",
        &[roles::REGISTRAR],
        Some(&format!("{}-xfb", county.0)),
        &county.0,
        3600,
    ))?;
    let reader = signer.sign(&xf_auth::claims(
        "demo-supervisor",
        &[roles::SUPERVISOR, roles::ANALYST, roles::LEADER],
        None,
        &county.0,
        3600,
    ))?;
    let admin = signer.sign(&xf_auth::claims(
        "demo-admin",
        &[roles::ADMIN],
        None,
        &county.0,
        3600,
    ))?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;

    println!("==> waiting for the five services to be ready");
    for (i, (name, _)) in SERVICES.iter().enumerate() {
        let start = Instant::now();
        loop {
            let ok = http
                .get(url(&a, i, "/health/readyz"))
                .send()
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            if ok {
                break;
            }
            if start.elapsed() > Duration::from_secs(60) {
                anyhow::bail!("{name} is not ready after 60 s (see .run/logs/{name}.log)");
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    let (units, rules) = seed_reference(&http, &a, &admin, &tree, &county.0).await?;
    println!(
        "==> routing has {units} units and {rules} responsibility rules for {}",
        county.1
    );

    let villages = tree.of_tier(Tier::Village);
    let townships = tree.of_tier(Tier::Township);
    println!(
        "==> registering {} cases in {} ({})",
        a.cases, county.1, county.0
    );
    let mut cases = Vec::new();
    // New petitioners on every run: the same people with the same matters again would
    // be recognised as repeat petitions and linked, not dispatched.
    let people = usize::try_from(chrono::Utc::now().timestamp() % 1_000_000).unwrap_or(0) * 100;
    for i in 0..a.cases {
        // Mostly villages, some townships, one at county level.
        let (code, place) = if i % 6 == 5 {
            let t = townships[(i * 7) % townships.len()];
            (t.code.to_string(), t.name.clone())
        } else if i == 0 {
            (county.0.clone(), county.1.clone())
        } else {
            let v = villages[(i * 37) % villages.len()];
            (v.code.to_string(), v.name.clone())
        };
        let (cat, text) = CATEGORIES[i % CATEGORIES.len()];
        let channel = ["letter", "visit", "phone", "online"][i % 4];
        let trace = format!("{:032x}", uuid::Uuid::now_v7().as_u128());
        let r = http
            .post(url(&a, 0, "/v1/cases"))
            .bearer_auth(&registrar)
            .header("traceparent", format!("00-{trace}-{:016x}-01", i + 1))
            .json(&xf_e2e::sample_case(channel, &code, cat, text, people + i))
            .send()
            .await?;
        let status = r.status();
        let body: Value = r.json().await?;
        if !status.is_success() {
            anyhow::bail!("registration failed with {status}: {body}");
        }
        cases.push((
            body["case_id"].as_str().unwrap_or_default().to_owned(),
            body["registration_no"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            place,
            trace,
            body["query_code"].as_str().unwrap_or_default().to_owned(),
        ));
    }

    println!("==> following them through routing, supervision, scheduling and reporting");
    let paths: [(usize, &str); 4] = [
        (1, "/v1/cases/{id}/routing"),
        (2, "/v1/cases/{id}/deadlines"),
        (3, "/v1/cases/{id}/follow-ups"),
        (4, "/v1/cases/{id}"),
    ];
    let start = Instant::now();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    seen.insert("intake", cases.len());
    loop {
        let mut all = true;
        for (svc, p) in paths {
            let mut n = 0;
            for (id, ..) in &cases {
                if get(&http, url(&a, svc, &p.replace("{id}", id)), &reader)
                    .await
                    .is_some()
                {
                    n += 1;
                }
            }
            seen.insert(SERVICES[svc].0, n);
            all &= n == cases.len();
        }
        if all {
            break;
        }
        if start.elapsed() > Duration::from_secs(a.timeout) {
            for (k, v) in &seen {
                eprintln!("  {k:<12} {v}/{}", cases.len());
            }
            anyhow::bail!(
                "not every service saw every case within {} s (see .run/logs/)",
                a.timeout
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let took = start.elapsed();

    let (id, no, place, trace, code) = &cases[1];
    let routing = get(
        &http,
        url(&a, 1, &format!("/v1/cases/{id}/routing")),
        &reader,
    )
    .await
    .unwrap_or_default();
    let clocks = get(
        &http,
        url(&a, 2, &format!("/v1/cases/{id}/deadlines")),
        &reader,
    )
    .await
    .unwrap_or_default();
    let facts = get(&http, url(&a, 4, &format!("/v1/cases/{id}")), &reader)
        .await
        .unwrap_or_default();
    let stats = get(&http, url(&a, 4, "/v1/stats"), &reader)
        .await
        .unwrap_or_default();

    println!();
    println!(
        "All {} cases passed intake → routing → supervision → scheduling → reporting in {:.1} s.",
        cases.len(),
        took.as_secs_f64()
    );
    println!();
    println!("  service       cases seen");
    for (name, _) in SERVICES {
        println!(
            "  {name:<13} {}/{}",
            seen.get(name).copied().unwrap_or(0),
            cases.len()
        );
    }
    println!();
    println!("  one case      {no}  ({place})");
    println!(
        "  handled by    {} [{}]",
        routing["unit_name"].as_str().unwrap_or("?"),
        routing["tier"].as_str().unwrap_or("?")
    );
    for why in routing["decision"]["why"].as_array().into_iter().flatten() {
        println!("  because       {}", why.as_str().unwrap_or_default());
    }
    println!(
        "  acceptance    due {}",
        clocks["clocks"][0]["due_at"].as_str().unwrap_or("?")
    );
    // The same petitioner comes back with the same matter: a repeat petition (重信重访).
    let (channel, code1, cat1, text1) = {
        let v = villages[37 % villages.len()];
        (
            ["letter", "visit", "phone", "online"][1],
            v.code.to_string(),
            CATEGORIES[1].0,
            CATEGORIES[1].1,
        )
    };
    let again: Value = http
        .post(url(&a, 0, "/v1/cases"))
        .bearer_auth(&registrar)
        .json(&xf_e2e::sample_case(
            channel,
            &code1,
            cat1,
            text1,
            people + 1,
        ))
        .send()
        .await?
        .json()
        .await?;
    let again_id = again["case_id"].as_str().unwrap_or_default().to_owned();
    let mut linked = Value::Null;
    let waited = Instant::now();
    while waited.elapsed() < Duration::from_secs(15) {
        linked = get(
            &http,
            url(&a, 1, &format!("/v1/cases/{again_id}/routing")),
            &reader,
        )
        .await
        .unwrap_or_default();
        if linked["status"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "  repeat        {} by the same petitioner: {} to {}",
        again["registration_no"].as_str().unwrap_or("?"),
        linked["status"].as_str().unwrap_or("?"),
        if linked["linked_to"].as_str() == Some(id.as_str()) {
            no.as_str()
        } else {
            "?"
        }
    );
    println!("  trace id      {trace}");
    println!(
        "                routing {}  supervision {}  reporting {}",
        ok(routing["trace_id"].as_str() == Some(trace)),
        ok(clocks["trace_id"].as_str() == Some(trace)),
        ok(facts["trace_id"].as_str() == Some(trace))
    );
    // The citizen view learns the deadline from supervision's DeadlineSet event.
    let mut public = Value::Null;
    let waited = Instant::now();
    while waited.elapsed() < Duration::from_secs(15) {
        public = http
            .get(url(&a, 0, &format!("/v1/public/cases/{no}?code={code}")))
            .send()
            .await?
            .json::<Value>()
            .await
            .unwrap_or_default();
        if public["due_at"].is_string() {
            break;
        }
        // The citizen's endpoints are rate-limited per address: ask once a second.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    println!(
        "  citizen view  status {}, handled by {}, due {}",
        public["status"].as_str().unwrap_or("?"),
        public["handled_by"].as_str().unwrap_or("?"),
        public["due_at"].as_str().unwrap_or("?")
    );
    println!(
        "                {}",
        url(&a, 0, &format!("/v1/public/cases/{no}?code={code}"))
    );
    open311(&http, &a, villages[(3 * 37) % villages.len()].code.as_str()).await?;
    println!();
    println!(
        "  reporting /v1/stats for {}: total {}, by tier {}, by status {}",
        county.0, stats["total"], stats["by_tier"], stats["by_status"]
    );
    let urls = xf_e2e::demo_scheduling::Urls {
        intake: url(&a, 0, ""),
        routing: url(&a, 1, ""),
        scheduling: url(&a, 3, ""),
    };
    let demo_cases: Vec<_> = cases
        .iter()
        .map(|(id, no, _, _, code)| xf_e2e::demo_scheduling::Case {
            id: id.clone(),
            no: no.clone(),
            code: code.clone(),
        })
        .collect();
    xf_e2e::demo_scheduling::run(&http, &urls, &signer, &county.0, &demo_cases).await?;
    let loop_urls = xf_e2e::demo_loop::Urls {
        intake: url(&a, 0, ""),
        routing: url(&a, 1, ""),
        supervision: url(&a, 2, ""),
        scheduling: url(&a, 3, ""),
    };
    let village = villages[(5 * 37) % villages.len()].code.to_string();
    xf_e2e::demo_loop::run(
        &http,
        &loop_urls,
        &signer,
        &county.0,
        &village,
        people + a.cases + 50,
    )
    .await?;
    let village_codes: Vec<String> = villages.iter().map(|v| v.code.to_string()).collect();
    let spike_township = townships
        .get(1)
        .or(townships.first())
        .map(|t| t.code.to_string())
        .unwrap_or_default();
    xf_e2e::demo_history::run(
        &http,
        &xf_e2e::demo_history::Urls {
            intake: url(&a, 0, ""),
            routing: url(&a, 1, ""),
            reporting: url(&a, 4, ""),
        },
        &signer,
        &xf_e2e::demo_history::Plan {
            county: &county.0,
            villages: &village_codes,
            spike_township: &spike_township,
            history: a.history,
            spike: a.spike,
            closed: a.closed,
            person: people + a.cases + 100,
        },
    )
    .await?;
    println!();
    for (i, (name, _)) in SERVICES.iter().enumerate() {
        println!(
            "  {name:<12} {}   (/health/readyz, /metrics)",
            url(&a, i, "")
        );
    }
    println!();
    println!(
        "  a token to try the API:  target/debug/xinfang-token --roles registrar,supervisor,analyst --jurisdiction {}",
        county.0
    );
    Ok(())
}

/// The development Open311 client of the local stack (`open311.api_keys_file`, set by
/// `scripts/services.sh`): its key and office.
const DEV_OPEN311_KEYS: &str = include_str!("../../../scripts/open311-client/dev-open311-keys.txt");

fn dev_open311_key() -> anyhow::Result<&'static str> {
    DEV_OPEN311_KEYS
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .find(|l| !l.is_empty())
        .and_then(|l| l.split('\t').next())
        .ok_or_else(|| anyhow::anyhow!("no key in scripts/open311-client/dev-open311-keys.txt"))
}

/// Posts two Open311 requests with the development key — a road (a public category)
/// and a wage claim (not public) — and shows what the public list shows of each.
async fn open311(http: &reqwest::Client, a: &Args, village: &str) -> anyhow::Result<()> {
    let key = dev_open311_key()?;
    let base = url(a, 0, "/open311/v2");
    let mut ids = Vec::new();
    for (code, text) in [
        ("transport", "村口道路塌陷一处，雨天积水，车辆难以通行"),
        ("labour_wages", "在村里工地干活三个月，工资一直没有结清"),
    ] {
        let r = http
            .post(format!("{base}/requests.json"))
            .form(&[
                ("api_key", key),
                ("service_code", code),
                ("address_id", village),
                ("description", text),
                ("last_name", "示"),
                ("first_name", "例"),
                ("phone", "13900000000"),
            ])
            .send()
            .await?;
        let status = r.status();
        let v: Value = r.json().await.unwrap_or_default();
        if !status.is_success() {
            anyhow::bail!("Open311 POST with the development key failed with {status}: {v}");
        }
        ids.push(
            v[0]["service_request_id"]
                .as_str()
                .unwrap_or("?")
                .to_owned(),
        );
    }
    let public: Value = http
        .get(format!("{base}/requests/{}.json", ids[0]))
        .send()
        .await?
        .json()
        .await
        .unwrap_or_default();
    let hidden = http
        .get(format!("{base}/requests/{}.json", ids[1]))
        .send()
        .await?
        .status();
    println!(
        "  open311       POST with the development key: {} (transport), {} (labour_wages)",
        ids[0], ids[1]
    );
    println!(
        "                public list shows {} at {} ({}); the wage claim: {}",
        ids[0],
        public[0]["address"].as_str().unwrap_or("?"),
        public[0]["address_id"].as_str().unwrap_or("?"),
        if hidden == reqwest::StatusCode::NOT_FOUND {
            "not shown (not a public category)"
        } else {
            "SHOWN ✗"
        }
    );
    println!("                key {key}  (scripts/open311-client/dev-open311-keys.txt)");
    Ok(())
}

fn ok(b: bool) -> &'static str {
    if b {
        "same trace ✓"
    } else {
        "different trace ✗"
    }
}

/// The county's units and responsibility rules, created once (later runs find them).
async fn seed_reference(
    http: &reqwest::Client,
    a: &Args,
    admin: &str,
    tree: &Tree,
    county: &str,
) -> anyhow::Result<(usize, usize)> {
    let mut units: Vec<(String, Value)> = [
        ("zrzy", "县自然资源和规划局", "department", vec!["land"]),
        (
            "rsj",
            "县人力资源和社会保障局",
            "department",
            vec!["labour_wages", "social_security"],
        ),
        (
            "sthj",
            "市生态环境局桐庐分局",
            "department",
            vec!["environment"],
        ),
        ("zjj", "县住房和城乡建设局", "department", vec!["housing"]),
        ("jtj", "县交通运输局", "department", vec!["transport"]),
        ("jw", "县纪委县监委", "discipline", vec![]),
    ]
    .into_iter()
    .map(|(id, name, kind, cats)| {
        (
            format!("{county}-{id}"),
            serde_json::json!({"name": name, "kind": kind, "jurisdiction_code": county,
                "categories": cats, "leader_in_charge": format!("{name}分管副职"),
                "top_leader": format!("{name}主要负责人")}),
        )
    })
    .collect();
    for t in tree.of_tier(Tier::Township) {
        units.push((
            format!("{}-gov", t.code),
            serde_json::json!({"name": format!("{}人民政府", t.name), "kind": "township_office",
                "jurisdiction_code": t.code, "categories": ["land", "transport"],
                "leader_in_charge": format!("{}分管副镇（乡）长", t.name),
                "top_leader": format!("{}党委书记", t.name)}),
        ));
    }
    let rules: Vec<(String, Value)> = vec![
        (
            "land",
            serde_json::json!({"category": "land", "jurisdiction_code": county,
            "competent_tier": "township", "lead_unit_kind": "township_office",
            "assisting_unit_ids": [format!("{county}-zrzy")],
            "note": "属地管理：承包地、宅基地纠纷由乡镇（街道）牵头，自然资源部门协助"}),
        ),
        (
            "wages",
            serde_json::json!({"category": "labour_wages", "jurisdiction_code": county,
            "competent_tier": "county", "lead_unit_id": format!("{county}-rsj"),
            "note": "谁主管谁负责：欠薪由人社部门办理"}),
        ),
        (
            "environment",
            serde_json::json!({"category": "environment", "jurisdiction_code": county,
            "competent_tier": "county", "lead_unit_id": format!("{county}-sthj")}),
        ),
        (
            "housing",
            serde_json::json!({"category": "housing", "jurisdiction_code": county,
            "competent_tier": "county", "lead_unit_id": format!("{county}-zjj")}),
        ),
    ]
    .into_iter()
    .map(|(id, body)| (format!("{county}-{id}"), body))
    .collect();
    for (kind, list) in [("units", &units), ("rules", &rules)] {
        for (id, body) in list {
            let u = url(a, 1, &format!("/v1/{kind}/{id}"));
            if get(http, u.clone(), admin).await.is_some() {
                continue;
            }
            let r = http.put(u).bearer_auth(admin).json(body).send().await?;
            if !r.status().is_success() {
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                anyhow::bail!("creating {kind} {id} failed with {status}: {text}");
            }
        }
    }
    Ok((units.len(), rules.len()))
}
