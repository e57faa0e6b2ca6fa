//! Reception rules to published dates, 2025–2028, against hand-worked cases: through
//! the real HTTP API, Postgres and JWTs. 2025 and 2026 follow the State Council's
//! holiday notices; 2027 and 2028 have none in the calendar yet, so their days are
//! computed on weekends only and marked provisional (as supervision marks its clocks).

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::{Value, json};
use xf_testkit::Ctx;

const COUNTY: &str = "330122";
const TOWN: &str = "330122002-xf";
const VILLAGE: &str = "330122002200-cwh";

async fn start(ctx: &mut Ctx) {
    let s = ctx
        .settings::<xf_scheduling::Ext>(&xf_scheduling::binary(), &[])
        .expect("settings");
    let app = xf_scheduling::build(s).await.expect("builds");
    ctx.spawn("scheduling", app);
}

async fn call(
    ctx: &Ctx,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    xf_testkit::call(method, &ctx.svc("scheduling").url(path), token, body).await
}

/// Puts the fixture's offices (all county-level ones, one township, one village) and
/// their rules through the API.
pub async fn seed(ctx: &Ctx, token: &str, only: &[&str]) {
    let tree = xf_jurisdiction::Tree::fixture().expect("tree");
    for o in xf_scheduling::fixture::offices(&tree).expect("fixture") {
        if !only.contains(&o.id.as_str()) {
            continue;
        }
        let (s, v) = call(
            ctx,
            "PUT",
            &format!("/v1/offices/{}", o.id),
            token,
            Some(serde_json::to_value(&o.body).expect("json")),
        )
        .await;
        assert!(s.is_success(), "{}: {s} {v}", o.id);
        for (id, r) in &o.rules {
            let (s, v) = call(
                ctx,
                "PUT",
                &format!("/v1/offices/{}/reception-rules/{id}", o.id),
                token,
                Some(serde_json::to_value(r).expect("json")),
            )
            .await;
            assert_eq!(s, StatusCode::CREATED, "{} {id}: {v}", o.id);
        }
    }
}

async fn publish(ctx: &Ctx, token: &str, office: &str, year: i32) -> Value {
    let (s, g) = call(
        ctx,
        "POST",
        &format!("/v1/offices/{office}/plans/{year}/generate"),
        token,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{office} {year}: {g}");
    assert_eq!(g["violations"], json!([]), "{office} {year}");
    let (s, p) = call(
        ctx,
        "POST",
        &format!("/v1/offices/{office}/plans/{year}/publish"),
        token,
        Some(json!({})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{office} {year}: {p}");
    g
}

/// The published sessions of `rule` between two days: (date, leader id, provisional).
async fn days(
    ctx: &Ctx,
    office: &str,
    rule: &str,
    from: &str,
    to: &str,
) -> Vec<(String, String, bool)> {
    let (s, v) = call(
        ctx,
        "GET",
        &format!("/v1/offices/{office}/reception-sessions?from={from}&to={to}"),
        "",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let mut out: Vec<(String, String, bool)> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|x| x["rule_id"] == rule)
        .map(|x| {
            (
                x["date"].as_str().unwrap_or_default().to_owned(),
                x["leader_id"].as_str().unwrap_or_default().to_owned(),
                x["provisional"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

fn dates(v: &[(String, String, bool)]) -> Vec<&str> {
    v.iter().map(|x| x.0.as_str()).collect()
}

#[tokio::test]
async fn generated_dates_2025_to_2028_match_hand_worked_cases() {
    let mut ctx = Ctx::new().await.expect("context");
    start(&mut ctx).await;
    let t = ctx.token(&["scheduler"], None, COUNTY);
    let court = "330122-fy";
    let bureau = "330122-ymj";
    seed(&ctx, &t, &[court, bureau, TOWN, VILLAGE]).await;
    for office in [court, bureau, TOWN, VILLAGE] {
        for year in 2025..=2028 {
            let g = publish(&ctx, &t, office, year).await;
            assert_eq!(
                g["provisional"],
                json!(year >= 2026),
                "{office} {year}: 2026's late December needs the 2027 notice"
            );
        }
    }

    // The village secretary's 15th (moves to the next working day).
    let s = days(&ctx, VILLAGE, "secretary-15th", "2025-01-01", "2025-12-31").await;
    assert_eq!(s.len(), 12);
    assert!(s.iter().all(|x| x.1 == "sj" && !x.2));
    let got = dates(&s);
    // Sat 2025-02-15 → Mon 02-17; Sat 03-15 → Mon 03-17; Sun 06-15 → Mon 06-16;
    // Wed 10-15 stays; Sat 11-15 → Mon 11-17.
    for d in [
        "2025-02-17",
        "2025-03-17",
        "2025-06-16",
        "2025-10-15",
        "2025-11-17",
    ] {
        assert!(got.contains(&d), "{d} in {got:?}");
    }
    // Sun 2026-02-15 is in the Spring Festival holiday (2/15–2/23): Tue 2026-02-24.
    assert_eq!(
        dates(&days(&ctx, VILLAGE, "secretary-15th", "2026-02-01", "2026-02-28").await),
        ["2026-02-24"]
    );
    // Sun 2027-08-15 → Mon 08-16, provisional (no 2027 notice); Sat 2028-01-15 → Mon 01-17.
    let p = days(&ctx, VILLAGE, "secretary-15th", "2027-08-01", "2027-08-31").await;
    assert_eq!((p[0].0.as_str(), p[0].2), ("2027-08-16", true));
    assert_eq!(
        dates(&days(&ctx, VILLAGE, "secretary-15th", "2028-01-01", "2028-01-31").await),
        ["2028-01-17"]
    );

    // The director's last day (moves to the working day before).
    let last =
        |from: &'static str, to: &'static str| days(&ctx, VILLAGE, "director-last-day", from, to);
    // Fri 2025-01-31 is in the Spring Festival holiday (1/28–2/4): back to Mon 01-27.
    assert_eq!(
        dates(&last("2025-01-01", "2025-01-31").await),
        ["2025-01-27"]
    );
    assert_eq!(
        dates(&last("2025-02-01", "2025-02-28").await),
        ["2025-02-28"]
    );
    // Sat 2025-05-31 (Dragon Boat holiday) → Fri 05-30.
    assert_eq!(
        dates(&last("2025-05-01", "2025-05-31").await),
        ["2025-05-30"]
    );
    // Sat 2026-02-28 is a make-up working day: held that Saturday.
    assert_eq!(
        dates(&last("2026-02-01", "2026-02-28").await),
        ["2026-02-28"]
    );
    // Sun 2027-02-28 → Fri 02-26; Tue 2028-02-29 (leap day) held.
    assert_eq!(
        dates(&last("2027-02-01", "2027-02-28").await),
        ["2027-02-26"]
    );
    let leap = last("2028-02-01", "2028-02-29").await;
    assert_eq!((leap[0].0.as_str(), leap[0].2), ("2028-02-29", true));

    // Office hours every working day, make-up Saturdays included, two slots each.
    let (_, v) = call(
        &ctx,
        "GET",
        &format!("/v1/offices/{VILLAGE}/reception-sessions?from=2025-09-27&to=2025-10-12"),
        "",
        None,
    )
    .await;
    let mut per_day: BTreeMap<String, usize> = BTreeMap::new();
    for x in v["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|x| x["rule_id"] == "office-hours")
    {
        *per_day
            .entry(x["date"].as_str().unwrap_or_default().to_owned())
            .or_default() += 1;
    }
    assert_eq!(
        per_day.into_iter().collect::<Vec<_>>(),
        [
            ("2025-09-28".to_owned(), 2),
            ("2025-09-29".to_owned(), 2),
            ("2025-09-30".to_owned(), 2),
            ("2025-10-09".to_owned(), 2),
            ("2025-10-10".to_owned(), 2),
            ("2025-10-11".to_owned(), 2)
        ]
    );
    // The secretary never holds office hours at the time of their own 15th.
    let (_, v) = call(
        &ctx,
        "GET",
        &format!("/v1/offices/{VILLAGE}/reception-sessions?from=2025-10-15&to=2025-10-15"),
        "",
        None,
    )
    .await;
    let morning: Vec<_> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|x| x["start"] == "09:00")
        .map(|x| x["leader_id"].clone())
        .collect();
    assert_eq!(morning.len(), 2);
    assert_ne!(morning[0], morning[1], "{v}");

    // The court: the president's first Monday moves off holidays; the vice presidents
    // rotate over the other Mondays, a holiday Monday skipped.
    let pres = days(
        &ctx,
        court,
        "president-first-monday",
        "2025-01-01",
        "2025-12-31",
    )
    .await;
    let got = dates(&pres);
    // Mon 2025-02-03 (Spring Festival) → Wed 02-05; Mon 2025-10-06 (National Day) → Thu 10-09.
    assert_eq!(&got[..3], ["2025-01-06", "2025-02-05", "2025-03-03"]);
    assert_eq!(got[9], "2025-10-09");
    assert_eq!(
        dates(
            &days(
                &ctx,
                court,
                "president-first-monday",
                "2026-10-01",
                "2026-10-31"
            )
            .await
        ),
        ["2026-10-08"]
    );
    let vp = days(
        &ctx,
        court,
        "vice-president-mondays",
        "2025-01-01",
        "2025-02-28",
    )
    .await;
    assert_eq!(
        vp.iter()
            .map(|x| (x.0.as_str(), x.1.as_str()))
            .collect::<Vec<_>>(),
        [
            ("2025-01-13", "fyz1"),
            ("2025-01-20", "fyz2"),
            ("2025-01-27", "fyz3"),
            ("2025-02-10", "fyz1"),
            ("2025-02-17", "fyz2"),
            ("2025-02-24", "fyz3")
        ]
    );

    // 2027 has no notice yet: the statutory days themselves are known (Mon 2027-02-08 is
    // 正月初三), the notice's bridging days are not; the days are provisional.
    let vp27 = days(
        &ctx,
        court,
        "vice-president-mondays",
        "2027-02-01",
        "2027-02-28",
    )
    .await;
    assert_eq!(dates(&vp27), ["2027-02-15", "2027-02-22"]);
    assert!(vp27.iter().all(|x| x.2));

    // The bureau: the director on the last Monday, the duty leaders every Monday.
    let dir = days(
        &ctx,
        bureau,
        "director-last-monday",
        "2025-01-01",
        "2025-12-31",
    )
    .await;
    assert_eq!(dir.len(), 12);
    assert_eq!(dir[2].0, "2025-03-31");
    assert_eq!(dir[8].0, "2025-09-29");
    let duty = days(
        &ctx,
        bureau,
        "monday-duty-leader",
        "2025-09-29",
        "2025-10-20",
    )
    .await;
    assert_eq!(
        dates(&duty),
        ["2025-09-29", "2025-10-13", "2025-10-20"],
        "Mon 10-06 is a holiday"
    );

    // The township's lunar 3/6/9 days, holidays skipped, leaders in turn.
    let lunar = |from: &'static str, to: &'static str| days(&ctx, TOWN, "lunar-3-6-9", from, to);
    // Spring Festival 2025: 初三 1/31 and 初六 2/3 are holidays; 初九 Thu 2/6 and 十三 Mon 2/10 held.
    assert_eq!(
        dates(&lunar("2025-01-29", "2025-02-10").await),
        ["2025-02-06", "2025-02-10"]
    );
    // National Day 2025 (八月初一 = 9/22): 初三 9/24, 初九 9/30 held; 十三 10/4 and 十六 10/7
    // holidays; 十九 Fri 10/10 and 廿三 Tue 10/14 held; 初六 Sat 9/27 skipped.
    assert_eq!(
        dates(&lunar("2025-09-22", "2025-10-14").await),
        ["2025-09-24", "2025-09-30", "2025-10-10", "2025-10-14"]
    );
    // 2025's leap sixth month (闰六月, 7/25–8/22) counts: 初六 7/30, 十三 8/6, 十九 8/12,
    // 廿六 8/19, 廿九 8/22; its 初三, 初九, 十六, 廿三 fall on weekends.
    let leap6 = lunar("2025-07-25", "2025-08-22").await;
    assert_eq!(
        dates(&leap6),
        [
            "2025-07-30",
            "2025-08-06",
            "2025-08-12",
            "2025-08-19",
            "2025-08-22"
        ]
    );
    // Leaders take the days in turn: six leaders, no two neighbouring days alike.
    for w in leap6.windows(2) {
        assert_ne!(w[0].1, w[1].1);
    }
    // 2028's leap fifth month (闰五月, 6/23–7/21), provisional: 初三 Sun 6/25 skipped,
    // 初六 Wed 6/28, 初九 Sat 7/1 skipped, 十三 Wed 7/5, 十六 Sat 7/8 skipped, 十九 Tue 7/11,
    // 廿三 Sat 7/15 skipped, 廿六 Tue 7/18, 廿九 Fri 7/21.
    let leap5 = lunar("2028-06-23", "2028-07-21").await;
    assert_eq!(
        dates(&leap5),
        [
            "2028-06-28",
            "2028-07-05",
            "2028-07-11",
            "2028-07-18",
            "2028-07-21"
        ]
    );
    assert!(leap5.iter().all(|x| x.2), "2028 is provisional");
    // 2026 mid-year is settled; its last days wait for the 2027 notice.
    assert!(lunar("2026-06-01", "2026-06-30").await.iter().all(|x| !x.2));
    assert!(
        days(&ctx, VILLAGE, "office-hours", "2026-12-21", "2026-12-31")
            .await
            .iter()
            .all(|x| x.2)
    );

    // The secretary and mayor meet the plan goal (≥ 6 a year, every two months).
    let (s, plan) = call(
        &ctx,
        "GET",
        &format!("/v1/offices/{TOWN}/plans/2025"),
        &t,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{plan}");
    assert_eq!(plan["violations"], json!([]));
    assert_eq!(plan["state"], "published");
    ctx.cleanup().await;
}
