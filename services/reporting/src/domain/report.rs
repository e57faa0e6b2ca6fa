//! The monthly report (R16, R30): for an office, the month's statistics against the
//! previous month and the same month a year before, by category and by township, a
//! short analysis from the figures; for each leader who assigned or owns cases, the
//! status of each of them. Everything is folded from ledger entries up to the end of
//! the month, so the report of a closed month is the same whenever it is generated.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::Facts;
use super::query::FIGURES;

/// Sums of the figures over cases (the same definitions as `GET /v1/stats`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    counts: [i64; FIGURES.len()],
    score_sum: i64,
}

/// Index of the mean in [`FIGURES`].
const MEAN: usize = 17;

impl Tally {
    pub fn add(&mut self, f: &Facts) {
        for (c, x) in self.counts.iter_mut().zip(contributions(f)) {
            *c += x;
        }
        self.score_sum += i64::from(f.satisfaction_score.unwrap_or(0));
    }

    pub fn get(&self, name: &str) -> Option<f64> {
        let i = FIGURES.iter().position(|(n, _)| *n == name)?;
        if i == MEAN {
            let n = self.counts[15];
            return (n > 0).then(|| (self.score_sum as f64 / n as f64 * 100.0).round() / 100.0);
        }
        Some(self.counts[i] as f64)
    }

    pub fn to_json(&self) -> Map<String, Value> {
        let mut m = Map::new();
        for (i, (name, _)) in FIGURES.iter().enumerate() {
            let v = if i == MEAN {
                json!(self.get(name))
            } else {
                json!(self.counts[i])
            };
            m.insert((*name).to_owned(), v);
        }
        m
    }
}

fn in_month(t: Option<DateTime<Utc>>, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
    t.is_some_and(|t| t >= start && t < end)
}

/// A month: its name and bounds.
#[derive(Debug, Clone, Copy)]
pub struct Month<'a> {
    pub name: &'a str,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// The statistics of the cases registered in a month.
pub fn month_tally(cases: &[Facts], m: Month<'_>) -> Tally {
    let mut t = Tally::default();
    for f in cases
        .iter()
        .filter(|f| in_month(f.registered_at, m.start, m.end))
    {
        t.add(f);
    }
    t
}

fn change(now: &Tally, before: &Tally) -> Map<String, Value> {
    let mut m = Map::new();
    for (name, _) in FIGURES {
        if name == "satisfaction_mean" {
            continue;
        }
        let a = now.get(name).unwrap_or(0.0);
        let b = before.get(name).unwrap_or(0.0);
        let pct = if b > 0.0 {
            json!(((a - b) / b * 1000.0).round() / 10.0)
        } else {
            Value::Null
        };
        m.insert(name.to_owned(), json!({"delta": a - b, "percent": pct}));
    }
    m
}

fn grouped(
    cases: &[Facts],
    m: Month<'_>,
    key: impl Fn(&Facts) -> Option<String>,
    label: &str,
) -> Vec<Value> {
    let mut g: BTreeMap<String, Tally> = BTreeMap::new();
    for f in cases
        .iter()
        .filter(|f| in_month(f.registered_at, m.start, m.end))
    {
        if let Some(k) = key(f) {
            g.entry(k).or_default().add(f);
        }
    }
    g.into_iter()
        .map(|(k, t)| {
            let mut row = Map::new();
            row.insert(label.to_owned(), json!(k));
            row.extend(t.to_json());
            Value::Object(row)
        })
        .collect()
}

/// The report body. `cases` are the office's cases folded as of `this.end`; `prev`
/// and `year` name the comparison months (their cases folded as of their own ends).
pub fn build(
    office: &str,
    this: Month<'_>,
    cases: &[Facts],
    prev: (Month<'_>, &[Facts]),
    year: (Month<'_>, &[Facts]),
) -> Value {
    let now = month_tally(cases, this);
    let p = month_tally(prev.1, prev.0);
    let y = month_tally(year.1, year.0);
    let by_category = grouped(cases, this, |f| f.category.clone(), "category");
    let by_township = grouped(
        cases,
        this,
        |f| {
            f.matter_code
                .as_deref()
                .filter(|c| c.len() >= 9)
                .map(|c| c[..9].to_owned())
        },
        "township",
    );
    // Leaders: every case they assigned or own, open at the end of the month or
    // registered in it, with its status then.
    let mut leaders: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for f in cases {
        let relevant = in_month(f.registered_at, this.start, this.end)
            || !xf_events::status::Status::parse(f.status).is_some_and(|s| s.is_settled());
        if !relevant {
            continue;
        }
        for l in &f.leader_ids {
            leaders.entry(l.as_str()).or_default().push(json!({
                "registration_no": f.registration_no,
                "category": f.category,
                "status": f.status,
                "tier": f.tier,
                "unit_id": f.unit_id,
                "overdue": f.overdue,
                "registered_at": f.registered_at,
            }));
        }
    }
    let leaders: Vec<Value> = leaders
        .into_iter()
        .map(|(id, mut cs)| {
            cs.sort_by(|a, b| {
                a["registration_no"]
                    .as_str()
                    .cmp(&b["registration_no"].as_str())
            });
            json!({"leader_id": id, "cases": cs})
        })
        .collect();
    let analysis = analysis(&now, &p, &y, &by_category);
    json!({
        "month": this.name,
        "office_jurisdiction_code": office,
        "as_of": this.end,
        "statistics": {
            "this_month": now.to_json(),
            "previous_month": {"month": prev.0.name, "figures": p.to_json()},
            "same_month_last_year": {"month": year.0.name, "figures": y.to_json()},
            "change_vs_previous_month": change(&now, &p),
            "change_vs_same_month_last_year": change(&now, &y),
        },
        "by_category": by_category,
        "by_township": by_township,
        "analysis": analysis,
        "leaders": leaders,
    })
}

fn pct(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:+.1}%", (a - b) / b * 100.0)
    } else {
        "n/a".into()
    }
}

fn analysis(now: &Tally, p: &Tally, y: &Tally, by_category: &[Value]) -> Vec<String> {
    let g = |t: &Tally, n: &str| t.get(n).unwrap_or(0.0);
    let mut out = vec![
        format!(
            "received {} ({} against the previous month, {} against the same month last year)",
            g(now, "received"),
            pct(g(now, "received"), g(p, "received")),
            pct(g(now, "received"), g(y, "received"))
        ),
        format!(
            "closed {}, of which on time {}; overdue {}; escalated {}",
            g(now, "closed"),
            g(now, "on_time"),
            g(now, "overdue"),
            g(now, "escalated")
        ),
        format!(
            "repeat petitions {}, skip-level filings {}, collective visits {} ({} people)",
            g(now, "repeat_petitions"),
            g(now, "skip_level"),
            g(now, "collective_visits"),
            g(now, "collective_headcount")
        ),
    ];
    let mut cats: Vec<(&str, i64)> = by_category
        .iter()
        .filter_map(|r| Some((r["category"].as_str()?, r["received"].as_i64()?)))
        .collect();
    cats.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    if !cats.is_empty() {
        let top: Vec<String> = cats
            .iter()
            .take(3)
            .map(|(c, n)| format!("{c} ({n})"))
            .collect();
        out.push(format!("top categories: {}", top.join(", ")));
    }
    out
}

/// A case's excluded time in whole days, rounded to the nearest (half a day up).
pub fn paused_days(secs: i64) -> i64 {
    secs.max(0).saturating_add(43_200) / 86_400
}

/// What one case adds to each figure, in the order of [`FIGURES`]; the mean's place
/// holds the case's satisfaction score (0 when unrated), summed and divided later.
pub fn contributions(f: &Facts) -> [i64; FIGURES.len()] {
    let b = |x: bool| i64::from(x);
    let visit = f.collective && f.channel == Some("visit");
    [
        1,
        b(f.accepted_at.is_some()),
        b(f.not_accepted_at.is_some()),
        b(f.referred),
        b(f.closed_at.is_some()),
        b(f.closed_at.is_some() && !f.acceptance_late && !f.handling_late),
        b(f.overdue),
        b(f.escalations > 0),
        b(f.reviews_asked > 0),
        b(f.reviews_upheld > 0),
        b(f.reviews_reversed > 0),
        b(f.repeat_petition),
        b(f.skip_level),
        b(visit),
        if visit { i64::from(f.headcount) } else { 0 },
        b(f.satisfaction_score.is_some()),
        b(f.satisfaction_score.is_some_and(|s| s >= 4)),
        i64::from(f.satisfaction_score.unwrap_or(0)),
        i64::from(f.follow_ups),
        i64::from(f.follow_ups_reached),
        i64::from(f.follow_ups_satisfied),
        i64::from(f.follow_ups_overdue),
        i64::from(f.appointments),
        i64::from(f.extensions),
        b(f.pauses > 0),
        paused_days(f.paused_secs),
    ]
}
