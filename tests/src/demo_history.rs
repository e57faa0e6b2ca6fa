//! The demo's year of history: cases registered through intake with their received
//! moments spread over the last twelve months (intake takes a `received_at` in the
//! past; routing, supervision and reporting see them as they would any case), a spike
//! in one township over the last days (a sensitive period), last month's cases of a few
//! units handled to the end and rated through the real services, and then what
//! reporting makes of it: last month's top categories, the worst-ranked unit and why
//! (`GET /v1/assessment`), and the spike found as a hotspot (`POST /v1/hotspots/scan`,
//! `GET /v1/hotspots`, `GET /v1/hotspots/sensitive`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use futures::StreamExt as _;
use serde_json::{Value, json};
use xf_auth::{Signer, roles};

use crate::demo_loop::{call, consult, ok, token};

/// The services' base URLs.
pub struct Urls {
    pub intake: String,
    pub routing: String,
    pub reporting: String,
}

/// What to load.
pub struct Plan<'a> {
    pub county: &'a str,
    /// Village codes of the county.
    pub villages: &'a [String],
    /// The township whose villages get the spike.
    pub spike_township: &'a str,
    /// Cases spread over the last twelve months.
    pub history: usize,
    /// Cases of the spike (one category, the last hours).
    pub spike: usize,
    /// Last month's cases handled to the end and rated.
    pub closed: usize,
    /// The first petitioner number (new people on every run).
    pub person: usize,
}

/// Categories, most frequent first, with a summary each (varied per case).
const CATEGORIES: [(&str, &str, usize); 6] = [
    ("labour_wages", "工程完工后工资仍未结清", 6),
    ("environment", "养殖场污水直排溪流，气味严重", 4),
    ("housing", "危房改造补助迟迟未到位", 3),
    ("social_security", "养老保险缴费年限认定有误", 3),
    ("transport", "村道破损多年无人维修", 2),
    ("land", "承包地被占用，补偿标准不明", 2),
];

/// The spike's category.
const SPIKE_CATEGORY: &str = "environment";

/// One registered case.
#[derive(Debug, Clone)]
pub struct Registered {
    pub id: String,
    pub no: String,
    pub code: String,
    pub category: &'static str,
    pub village: String,
    pub received_at: DateTime<Utc>,
    pub person: usize,
    pub summary: String,
}

/// What the demo found, for the caller (and the test) to check.
#[derive(Debug, Default)]
pub struct Found {
    pub registered: usize,
    pub last_month_top: Vec<(String, i64)>,
    pub worst_unit: Option<String>,
    pub worst_why: Vec<String>,
    pub hotspots: Vec<Value>,
    pub sensitive: Vec<Value>,
}

fn shanghai_today() -> NaiveDate {
    xf_calendar::shanghai_day(Utc::now())
}

fn last_month(today: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first = today.with_day(1).unwrap_or(today);
    let start = first
        .checked_sub_months(chrono::Months::new(1))
        .unwrap_or(first);
    (start, first.pred_opt().unwrap_or(first))
}

fn category_of(i: usize) -> (&'static str, &'static str) {
    let total: usize = CATEGORIES.iter().map(|c| c.2).sum();
    let mut k = (i * 7) % total;
    for (c, s, w) in CATEGORIES {
        if k < w {
            return (c, s);
        }
        k -= w;
    }
    (CATEGORIES[0].0, CATEGORIES[0].1)
}

/// One case to register: where, what, by whom (the person's index) and when.
struct Job {
    village: String,
    category: &'static str,
    summary: String,
    person: usize,
    at: DateTime<Utc>,
}

async fn register(
    http: &reqwest::Client,
    u: &Urls,
    registrar: &str,
    job: Job,
) -> anyhow::Result<Registered> {
    let Job {
        village,
        category,
        summary,
        person,
        at,
    } = job;
    let village = village.as_str();
    let channel = ["letter", "visit", "phone", "online"][person % 4];
    let mut body = crate::sample_case(channel, village, category, &summary, person);
    body["received_at"] = json!(at.to_rfc3339());
    if channel == "letter" {
        body["letter"]["received_on"] = json!(xf_calendar::shanghai_day(at));
    }
    let (s, v) = call(
        http,
        "POST",
        &format!("{}/v1/cases", u.intake),
        registrar,
        Some(body),
    )
    .await?;
    if !(200..300).contains(&s) {
        anyhow::bail!("registration failed with {s}: {v}");
    }
    Ok(Registered {
        id: v["case_id"].as_str().unwrap_or_default().to_owned(),
        no: v["registration_no"].as_str().unwrap_or_default().to_owned(),
        code: v["query_code"].as_str().unwrap_or_default().to_owned(),
        category,
        village: village.to_owned(),
        received_at: at,
        person,
        summary,
    })
}

/// Loads the history, handles last month's cases and prints what reporting finds.
pub async fn run(
    http: &reqwest::Client,
    u: &Urls,
    signer: &Signer,
    p: &Plan<'_>,
) -> anyhow::Result<Found> {
    let county = p.county;
    let registrar = token(
        signer,
        "demo-registrar",
        &[roles::REGISTRAR],
        Some(&format!("{county}-xfb")),
        county,
    );
    let reader = token(
        signer,
        "demo-supervisor",
        &[roles::SUPERVISOR, roles::ANALYST, roles::LEADER],
        None,
        county,
    );
    let now = Utc::now();
    let today = shanghai_today();
    println!();
    println!(
        "==> a year of history: {} cases received over the last twelve months, a spike of {} in township {} over the last hours",
        p.history, p.spike, p.spike_township
    );
    let started = Instant::now();
    // The history: evenly over the year before today (Asia/Shanghai), not today.
    let day_start = today
        .pred_opt()
        .and_then(xf_calendar::end_of_day)
        .unwrap_or(now);
    let year = chrono::Duration::days(365);
    let mut jobs = Vec::new();
    for i in 0..p.history {
        let at = day_start - year
            + year * i32::try_from(i).unwrap_or(0) / i32::try_from(p.history.max(1)).unwrap_or(1);
        let village = &p.villages[(i * 37 + 11) % p.villages.len()];
        let (cat, text) = category_of(i);
        jobs.push((
            village.clone(),
            cat,
            format!("{text}（第{}件）", i + 1),
            p.person + i,
            at,
        ));
    }
    // The spike: one category in the township's villages, the last hours of today.
    let spike_villages: Vec<&String> = p
        .villages
        .iter()
        .filter(|v| v.starts_with(p.spike_township))
        .collect();
    anyhow::ensure!(
        !spike_villages.is_empty(),
        "no village under {}",
        p.spike_township
    );
    let since_midnight = (now - day_start).max(chrono::Duration::minutes(p.spike as i64 + 1));
    for k in 0..p.spike {
        let at = now
            - since_midnight * i32::try_from(k + 1).unwrap_or(1)
                / i32::try_from(p.spike + 1).unwrap_or(1);
        jobs.push((
            spike_villages[k % spike_villages.len()].clone(),
            SPIKE_CATEGORY,
            format!(
                "化工厂夜间偷排废水，河里死鱼，村民担心饮水安全（{}号反映）",
                k + 1
            ),
            p.person + p.history + k,
            at,
        ));
    }
    let results: Vec<anyhow::Result<Registered>> =
        futures::stream::iter(jobs.into_iter().map(|(village, cat, summary, person, at)| {
            let registrar = registrar.clone();
            let job = Job {
                village,
                category: cat,
                summary,
                person,
                at,
            };
            async move { register(http, u, &registrar, job).await }
        }))
        .buffer_unordered(8)
        .collect()
        .await;
    let mut cases = Vec::with_capacity(results.len());
    for r in results {
        cases.push(r?);
    }
    println!(
        "  registered    {} cases in {:.1} s (intake → routing → supervision → reporting)",
        cases.len(),
        started.elapsed().as_secs_f64()
    );

    // Reporting counts them all by their registration dates.
    let from = today - chrono::Duration::days(366);
    let stats_url = format!(
        "{}/v1/stats?from={from}&to={today}&jurisdiction={county}",
        u.reporting
    );
    let want = cases.len() as i64;
    let waited = Instant::now();
    let mut seen = 0;
    while waited.elapsed() < Duration::from_secs(180) {
        let (s, v) = call(http, "GET", &stats_url, &reader, None).await?;
        seen = v["totals"]["received"].as_i64().unwrap_or(0);
        if s == 200 && seen >= want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!(
        "  reporting     {seen} cases of the year counted ({:.1} s after the last registration)",
        waited.elapsed().as_secs_f64()
    );

    // Last month: a few cases handled to the end and rated; the first unit's petitioners
    // are dissatisfied and one of them comes back with the same matter.
    let (m0, m1) = last_month(today);
    let in_month: Vec<&Registered> = cases
        .iter()
        .filter(|c| {
            let d = xf_calendar::shanghai_day(c.received_at);
            d >= m0 && d <= m1
        })
        .take(p.closed)
        .collect();
    let mut worst: Option<String> = None;
    let mut handled = 0;
    for c in &in_month {
        let routed = crate::demo_loop::until(
            http,
            &format!("{}/v1/cases/{}/routing", u.routing, c.id),
            &reader,
            "the dispatch",
            |v| v["status"] == "dispatched",
        )
        .await?;
        let unit = routed["unit_id"].as_str().unwrap_or_default().to_owned();
        let handler = token(
            signer,
            "demo-handler",
            &[roles::HANDLER],
            Some(&unit),
            county,
        );
        let case = format!("{}/v1/cases/{}", u.routing, c.id);
        ok(
            call(http, "POST", &format!("{case}/accept"), &handler, None)
                .await?
                .0,
        )?;
        consult(http, &case, &unit, signer, county).await?;
        ok(call(
            http,
            "POST",
            &format!("{case}/reply"),
            &handler,
            Some(json!({"outcome": "explain", "text": "已答复信访人，说明相关政策。"})),
        )
        .await?
        .0)?;
        ok(call(http, "POST", &format!("{case}/close"), &handler, None)
            .await?
            .0)?;
        let bad = worst.get_or_insert_with(|| unit.clone()) == &unit;
        let score = if bad { 1 } else { 5 };
        // The citizen's endpoints are rate-limited per address: a second apart.
        let rate = format!("{}/v1/public/cases/{}/satisfaction", u.intake, c.no);
        let mut rated = false;
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(1100)).await;
            let (s, _) = call(
                http,
                "POST",
                &rate,
                "",
                Some(json!({"code": c.code, "score": score})),
            )
            .await?;
            if (200..300).contains(&s) {
                rated = true;
                break;
            }
        }
        anyhow::ensure!(rated, "the rating of {} was refused", c.no);
        if bad && handled == 0 {
            // The same petitioner back with the same matter: a repeat petition that
            // counts against the unit that handled it.
            let again = Job {
                village: c.village.clone(),
                category: c.category,
                summary: c.summary.clone(),
                person: c.person,
                at: Utc::now(),
            };
            register(http, u, &registrar, again).await?;
        }
        handled += 1;
    }
    println!(
        "  last month    {handled} of its cases accepted, replied, closed and rated through routing and intake"
    );

    // Give reporting the last events, then read its figures.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut found = Found {
        registered: cases.len(),
        ..Found::default()
    };
    let (_, v) = call(
        http,
        "GET",
        &format!(
            "{}/v1/stats?from={m0}&to={m1}&jurisdiction={county}&group_by=category",
            u.reporting
        ),
        &reader,
        None,
    )
    .await?;
    let mut top: Vec<(String, i64)> = v["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| Some((r["category"].as_str()?.to_owned(), r["received"].as_i64()?)))
        .collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    top.truncate(3);
    println!();
    println!(
        "  {}: {} cases received; top categories {}",
        m0.format("%Y-%m"),
        v["totals"]["received"],
        top.iter()
            .map(|(c, n)| format!("{c} ({n})"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    found.last_month_top = top;

    let (_, a) = call(
        http,
        "GET",
        &format!(
            "{}/v1/assessment?from={m0}&to={m1}&jurisdiction={county}",
            u.reporting
        ),
        &reader,
        None,
    )
    .await?;
    let units = a["units"].as_array().cloned().unwrap_or_default();
    if let Some(w) = units.iter().min_by(|x, y| {
        let s = |v: &Value| v["score"].as_f64().unwrap_or(f64::MAX);
        s(x).total_cmp(&s(y))
    }) {
        let mut why = Vec::new();
        for (name, r) in w["rates"].as_object().into_iter().flatten() {
            if let Some(x) = r.as_f64() {
                let bad = if name == "review_reversal_rate" {
                    x > 0.0
                } else {
                    x < 1.0
                };
                if bad {
                    why.push(format!("{name} {:.0}%", x * 100.0));
                }
            }
        }
        for pen in a["penalties"].as_array().into_iter().flatten() {
            let name = pen["count"].as_str().unwrap_or_default();
            let n = w["counts"][name].as_i64().unwrap_or(0);
            if n > 0 {
                why.push(format!("{name} {n} (−{} points each)", pen["points"]));
            }
        }
        let unit = w["unit_id"].as_str().unwrap_or("?").to_owned();
        println!(
            "  worst-ranked  {unit} ({} tier, rank {}, score {:.1}): {}",
            w["tier"].as_str().unwrap_or("?"),
            w["rank"],
            w["score"].as_f64().unwrap_or(0.0),
            if why.is_empty() {
                "nothing against it".to_owned()
            } else {
                why.join("; ")
            }
        );
        found.worst_unit = Some(unit);
        found.worst_why = why;
    }

    let (s, scan) = call(
        http,
        "POST",
        &format!("{}/v1/hotspots/scan", u.reporting),
        &reader,
        None,
    )
    .await?;
    anyhow::ensure!(s == 200, "the hotspot scan answered {s}: {scan}");
    let (_, h) = call(
        http,
        "GET",
        &format!(
            "{}/v1/hotspots?jurisdiction={county}&from={}&to={today}",
            u.reporting,
            today - chrono::Duration::days(1)
        ),
        &reader,
        None,
    )
    .await?;
    found.hotspots = h["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|x| {
            x["jurisdiction_code"]
                .as_str()
                .is_some_and(|c| c.starts_with(p.spike_township))
        })
        .cloned()
        .collect();
    let mut by_method: BTreeMap<String, &Value> = BTreeMap::new();
    for x in &found.hotspots {
        by_method
            .entry(x["method"].as_str().unwrap_or("?").to_owned())
            .or_insert(x);
    }
    for (m, x) in &by_method {
        println!(
            "  hotspot       {m}: {} in {} — {} observed against {} expected (score {})",
            x["category"].as_str().unwrap_or("-"),
            x["jurisdiction_code"].as_str().unwrap_or("?"),
            x["observed"],
            x["expected"],
            x["score"]
        );
    }
    if by_method.is_empty() {
        println!("  hotspot       none found in {}", p.spike_township);
    }
    let (_, sens) = call(
        http,
        "GET",
        &format!(
            "{}/v1/hotspots/sensitive?jurisdiction={county}&from={}&to={today}",
            u.reporting,
            today - chrono::Duration::days(2)
        ),
        &reader,
        None,
    )
    .await?;
    found.sensitive = sens["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["flagged"] == true)
        .cloned()
        .collect();
    for r in &found.sensitive {
        println!(
            "  sensitive     {} to {}: {} {} cases in {} (the days before: {}, a year before: {})",
            today - chrono::Duration::days(2),
            today,
            r["count"],
            r["category"].as_str().unwrap_or("?"),
            r["township"].as_str().unwrap_or("?"),
            r["before"],
            r["last_year"]
        );
    }
    Ok(found)
}
