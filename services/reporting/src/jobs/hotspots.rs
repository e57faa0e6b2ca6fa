//! The hotspot scan: the three tests of `domain::hotspot` over the last 28 days of
//! every county, each new hotspot stored and announced (`HotspotDetected`) together.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;
use xf_events::Payload;
use xf_events::v1::{HotspotDetected, HotspotMethod};

use super::Jobs;
use crate::domain::hotspot::{self, Point};
use crate::store;
use crate::store::hotspots::{Hotspot, Recent};

/// Days in the study period.
pub const STUDY_DAYS: u32 = 28;
/// Longest window of the space-time scan, in days.
pub const MAX_WINDOW: u32 = 7;
/// Newest cases compared for similarity per county.
pub const SIMILAR_MAX: usize = 2000;

fn nos<'a>(it: impl Iterator<Item = &'a Recent>) -> Vec<String> {
    let mut v: Vec<String> = it
        .map(|r| r.registration_no.clone())
        .filter(|n| !n.is_empty())
        .collect();
    v.sort();
    v.dedup();
    v.truncate(50);
    v
}

/// Finds the hotspots as of `now`; returns the ones that are new.
pub async fn scan(j: &Jobs, now: DateTime<Utc>) -> Result<Vec<Hotspot>, sqlx::Error> {
    scan_in(j, now, "").await
}

/// [`scan`] over the cases that arose under `scope` ("" for all).
pub async fn scan_in(
    j: &Jobs,
    now: DateTime<Utc>,
    scope: &str,
) -> Result<Vec<Hotspot>, sqlx::Error> {
    let today = xf_calendar::shanghai_day(now);
    let first = today - Duration::days(i64::from(STUDY_DAYS) - 1);
    let (since, until) = store::stats::bounds(first, today);
    let day_start = |d: u32| since + Duration::days(i64::from(d));
    let last = STUDY_DAYS - 1;
    let recent = store::hotspots::recent(&j.pool, scope, since, until).await?;
    let mut found = Vec::new();
    let mut counties: BTreeMap<&str, Vec<&Recent>> = BTreeMap::new();
    for r in &recent {
        if r.village.len() >= 6 {
            counties.entry(&r.village[..6]).or_default().push(r);
        }
    }
    for cases in counties.values() {
        // 1. EARS C2 per category × township.
        let mut cells: BTreeMap<(&str, &str), Vec<i64>> = BTreeMap::new();
        for r in cases.iter().filter(|r| r.village.len() >= 9) {
            let s = cells
                .entry((r.category.as_str(), &r.village[..9]))
                .or_insert_with(|| vec![0; STUDY_DAYS as usize]);
            if let Some(x) = s.get_mut(r.day as usize) {
                *x += 1;
            }
        }
        for ((cat, town), series) in &cells {
            if let Some((x, mean, c2)) = hotspot::c2_alarm(series, j.min_count) {
                found.push(Hotspot {
                    id: Uuid::now_v7(),
                    method: "ears_c2",
                    category: (*cat).to_owned(),
                    jurisdiction_code: (*town).to_owned(),
                    period_start: day_start(last),
                    period_end: until,
                    observed: x as i32,
                    expected: mean,
                    score: c2,
                    registration_nos: nos(cases.iter().copied().filter(|r| {
                        r.day == last && r.category == *cat && r.village.starts_with(town)
                    })),
                    detected_at: now,
                });
            }
        }
        // 2. The space-time permutation scan over villages and townships.
        let points: Vec<Point> = cases
            .iter()
            .filter(|r| r.village.len() == 12)
            .map(|r| Point {
                village: r.village.clone(),
                day: r.day,
            })
            .collect();
        let reps = if points.len() > 20_000 { 19 } else { 99 };
        if let Some(c) = hotspot::scan(&points, last, MAX_WINDOW, reps)
            && c.p_value <= 0.05
            && c.observed >= j.min_count
        {
            let from_day = last + 1 - c.window;
            found.push(Hotspot {
                id: Uuid::now_v7(),
                method: "space_time_scan",
                category: String::new(),
                jurisdiction_code: c.zone.clone(),
                period_start: day_start(from_day),
                period_end: until,
                observed: i32::try_from(c.observed).unwrap_or(i32::MAX),
                expected: c.expected,
                score: c.llr,
                registration_nos: nos(cases
                    .iter()
                    .copied()
                    .filter(|r| r.day >= from_day && r.village.starts_with(&c.zone))),
                detected_at: now,
            });
        }
        // 3. Similar new cases across villages (the last seven days, not yet grouped).
        let mut new: Vec<&Recent> = cases
            .iter()
            .copied()
            .filter(|r| r.day + 7 > last && !r.grouped && !r.signature.is_empty())
            .collect();
        if new.len() > SIMILAR_MAX {
            new = new.split_off(new.len() - SIMILAR_MAX);
        }
        let sigs: Vec<(String, xf_similarity::Signature)> = new
            .iter()
            .map(|r| {
                (
                    r.village.clone(),
                    xf_similarity::Signature::from_i32s(&r.signature),
                )
            })
            .collect();
        for g in hotspot::similar_clusters(&sigs, xf_similarity::DEFAULT_THRESHOLD, 3) {
            let members: Vec<&Recent> = g.iter().map(|&i| new[i]).collect();
            let place = hotspot::common_place(members.iter().map(|r| r.village.as_str()));
            let cat = members[0].category.clone();
            let same = members.iter().all(|r| r.category == cat);
            found.push(Hotspot {
                id: Uuid::now_v7(),
                method: "similar_cases",
                category: if same { cat } else { String::new() },
                jurisdiction_code: place,
                period_start: day_start(last.saturating_sub(6)),
                period_end: until,
                observed: i32::try_from(members.len()).unwrap_or(i32::MAX),
                expected: 0.0,
                score: members.len() as f64,
                registration_nos: nos(members.into_iter()),
                detected_at: now,
            });
        }
    }
    let mut fresh = Vec::new();
    let mut tx = j.pool.begin().await?;
    for h in found {
        if store::hotspots::put(&mut tx, &h).await? {
            announce(j, &mut tx, &h).await?;
            fresh.push(h);
        }
    }
    tx.commit().await?;
    Ok(fresh)
}

fn method(m: &str) -> HotspotMethod {
    match m {
        "ears_c2" => HotspotMethod::EarsC2,
        "space_time_scan" => HotspotMethod::SpaceTimeScan,
        "similar_cases" => HotspotMethod::SimilarCases,
        "sensitive_period" => HotspotMethod::SensitivePeriod,
        _ => HotspotMethod::Unspecified,
    }
}

async fn announce(j: &Jobs, tx: &mut sqlx::PgConnection, h: &Hotspot) -> Result<(), sqlx::Error> {
    let env = xf_events::envelope(
        h.id,
        crate::SERVICE,
        xf_events::tier_of_code(&h.jurisdiction_code),
        &h.jurisdiction_code,
        h.detected_at,
        Payload::HotspotDetected(HotspotDetected {
            hotspot_id: h.id.to_string(),
            method: method(h.method) as i32,
            category: h.category.clone(),
            jurisdiction_code: h.jurisdiction_code.clone(),
            period_start: Some(xf_events::timestamp(h.period_start)),
            period_end: Some(xf_events::timestamp(h.period_end)),
            observed: u32::try_from(h.observed).unwrap_or(0),
            expected: h.expected,
            score: h.score,
            registration_nos: h.registration_nos.clone(),
        }),
    );
    j.outbox.put(tx, &env).await
}
