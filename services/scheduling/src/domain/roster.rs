//! The duty roster (R27): who is on duty each working day, its coverage check and a
//! quality score of the plan.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use xf_calendar::HolidayCalendar;

use super::plan::{Person, Violation};

/// How an office staffs its duty days: leaders and staff in rotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DutySpec {
    /// Leader ids on duty in turn, one a working day.
    #[serde(default)]
    pub leaders: Vec<String>,
    /// Staff ids on duty in turn.
    #[serde(default)]
    pub staff: Vec<String>,
    /// Staff members on duty each day (visitors are received by at least two, R27).
    #[serde(default = "two")]
    pub staff_per_day: u32,
}

fn two() -> u32 {
    2
}

impl Default for DutySpec {
    fn default() -> Self {
        DutySpec {
            leaders: Vec::new(),
            staff: Vec::new(),
            staff_per_day: two(),
        }
    }
}

/// One day of the roster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RosterDay {
    pub date: NaiveDate,
    pub leaders: Vec<String>,
    pub staff: Vec<String>,
}

/// The roster of every working day in `[from, to]` by the rotation (make-up working
/// days included).
pub fn generate(
    duty: &DutySpec,
    from: NaiveDate,
    to: NaiveDate,
    cal: &dyn HolidayCalendar,
) -> Vec<RosterDay> {
    let per = duty
        .staff_per_day
        .min(u32::try_from(duty.staff.len()).unwrap_or(0)) as usize;
    from.iter_days()
        .take_while(|d| *d <= to)
        .filter(|d| cal.is_working_day(*d))
        .enumerate()
        .map(|(i, date)| RosterDay {
            date,
            leaders: if duty.leaders.is_empty() {
                Vec::new()
            } else {
                vec![duty.leaders[i % duty.leaders.len()].clone()]
            },
            staff: (0..per)
                .map(|k| duty.staff[(i * per + k) % duty.staff.len()].clone())
                .collect(),
        })
        .collect()
}

/// Working days in `[from, to]` lacking a leader or a staff member (R27).
pub fn gaps(
    people: &[Person],
    roster: &[RosterDay],
    from: NaiveDate,
    to: NaiveDate,
    cal: &dyn HolidayCalendar,
) -> Vec<Violation> {
    let by_day: BTreeMap<NaiveDate, &RosterDay> = roster.iter().map(|r| (r.date, r)).collect();
    let is = |id: &str, leader: bool| people.iter().any(|p| p.id == id && p.leader == leader);
    let mut out = Vec::new();
    for d in from.iter_days().take_while(|d| *d <= to) {
        if !cal.is_working_day(d) {
            continue;
        }
        let day = by_day.get(&d);
        let leaders = day.map_or(0, |r| r.leaders.iter().filter(|p| is(p, true)).count());
        let staff = day.map_or(0, |r| {
            r.staff
                .iter()
                .filter(|p| people.iter().any(|x| &x.id == *p))
                .count()
        });
        if leaders == 0 {
            out.push(Violation {
                rule: "duty_leader_missing",
                rule_id: None,
                date: Some(d),
                post: None,
                person: None,
                detail: format!("no leader on duty on {d}"),
            });
        }
        if staff == 0 {
            out.push(Violation {
                rule: "duty_staff_missing",
                rule_id: None,
                date: Some(d),
                post: None,
                person: None,
                detail: format!("no staff member on duty on {d}"),
            });
        }
    }
    out
}

/// A visit of the duty log, as the coverage check sees it.
#[derive(Debug, Clone)]
pub struct Visit {
    pub id: i64,
    pub date: NaiveDate,
    pub received_by: usize,
}

/// A plan's quality (as on-call tools score schedules): coverage gaps and how evenly
/// the load falls on the leaders.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Quality {
    /// 0 (useless) to 100 (every day covered, load even).
    pub score: u32,
    pub working_days: usize,
    pub gap_days: usize,
    /// Sessions plus duty days per leader.
    #[schema(value_type = Object)]
    pub load: BTreeMap<String, usize>,
    /// (most − least) / most over the leaders: 0 when even.
    pub imbalance: f64,
    /// Visits received by fewer than two staff (R27).
    pub thin_visits: Vec<i64>,
}

/// Scores a roster and the leaders' sessions over `[from, to]`.
pub fn quality(
    people: &[Person],
    roster: &[RosterDay],
    session_leaders: &[&str],
    visits: &[Visit],
    from: NaiveDate,
    to: NaiveDate,
    cal: &dyn HolidayCalendar,
) -> Quality {
    let working_days = from
        .iter_days()
        .take_while(|d| *d <= to)
        .filter(|d| cal.is_working_day(*d))
        .count();
    let g = gaps(people, roster, from, to, cal);
    let mut gap_dates: Vec<NaiveDate> = g.iter().filter_map(|v| v.date).collect();
    gap_dates.dedup();
    let gap_days = gap_dates.len();
    let mut load: BTreeMap<String, usize> = people
        .iter()
        .filter(|p| p.leader)
        .map(|p| (p.id.clone(), 0))
        .collect();
    for r in roster.iter().filter(|r| r.date >= from && r.date <= to) {
        for l in &r.leaders {
            if let Some(n) = load.get_mut(l) {
                *n += 1;
            }
        }
    }
    for l in session_leaders {
        if let Some(n) = load.get_mut(*l) {
            *n += 1;
        }
    }
    let max = load.values().copied().max().unwrap_or(0);
    let min = load.values().copied().min().unwrap_or(0);
    let imbalance = if max == 0 {
        0.0
    } else {
        (max - min) as f64 / max as f64
    };
    let coverage = if working_days == 0 {
        1.0
    } else {
        1.0 - gap_days as f64 / working_days as f64
    };
    let thin_visits: Vec<i64> = visits
        .iter()
        .filter(|v| v.received_by < 2 && v.date >= from && v.date <= to)
        .map(|v| v.id)
        .collect();
    let thin_penalty = (thin_visits.len() as f64 * 0.02).min(0.2);
    let score = (100.0 * coverage * (1.0 - 0.5 * imbalance) * (1.0 - thin_penalty)).round();
    Quality {
        score: score.clamp(0.0, 100.0) as u32,
        working_days,
        gap_days,
        load,
        imbalance: (imbalance * 1000.0).round() / 1000.0,
        thin_visits,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xf_calendar::OfficialCalendar;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    fn people() -> Vec<Person> {
        ["sj", "zr", "wy1", "wy2", "wy3"]
            .iter()
            .enumerate()
            .map(|(i, id)| Person {
                id: (*id).into(),
                name: (*id).into(),
                post: "x".into(),
                leader: i < 2,
            })
            .collect()
    }

    #[test]
    fn rotation_covers_every_working_day_including_make_up_days() {
        let duty = DutySpec {
            leaders: vec!["sj".into(), "zr".into()],
            staff: vec!["wy1".into(), "wy2".into(), "wy3".into()],
            staff_per_day: 2,
        };
        let (from, to) = (date(2025, 9, 27), date(2025, 10, 12));
        let r = generate(&duty, from, to, &OfficialCalendar);
        let days: Vec<_> = r.iter().map(|d| d.date).collect();
        assert_eq!(
            days,
            [
                date(2025, 9, 28),
                date(2025, 9, 29),
                date(2025, 9, 30),
                date(2025, 10, 9),
                date(2025, 10, 10),
                date(2025, 10, 11)
            ]
        );
        assert_eq!(r[0].leaders, ["sj"]);
        assert_eq!(r[1].leaders, ["zr"]);
        assert_eq!(r[0].staff, ["wy1", "wy2"]);
        assert_eq!(r[1].staff, ["wy3", "wy1"]);
        assert!(gaps(&people(), &r, from, to, &OfficialCalendar).is_empty());
        let q = quality(&people(), &r, &[], &[], from, to, &OfficialCalendar);
        assert_eq!((q.score, q.gap_days, q.working_days), (100, 0, 6));
    }

    #[test]
    fn gaps_thin_visits_and_imbalance_lower_the_score() {
        let duty = DutySpec {
            leaders: vec!["sj".into()],
            staff: vec![],
            staff_per_day: 2,
        };
        let (from, to) = (date(2025, 3, 3), date(2025, 3, 7));
        let mut r = generate(&duty, from, to, &OfficialCalendar);
        r.remove(2);
        let g = gaps(&people(), &r, from, to, &OfficialCalendar);
        assert_eq!(
            g.iter().filter(|v| v.rule == "duty_staff_missing").count(),
            5
        );
        assert_eq!(
            g.iter().filter(|v| v.rule == "duty_leader_missing").count(),
            1
        );
        assert_eq!(
            g.iter()
                .find(|v| v.rule == "duty_leader_missing")
                .and_then(|v| v.date),
            Some(date(2025, 3, 5))
        );
        let visits = [
            Visit {
                id: 1,
                date: date(2025, 3, 3),
                received_by: 1,
            },
            Visit {
                id: 2,
                date: date(2025, 3, 4),
                received_by: 2,
            },
        ];
        let q = quality(&people(), &r, &["sj"], &visits, from, to, &OfficialCalendar);
        assert_eq!(q.gap_days, 5);
        assert_eq!(q.score, 0);
        assert_eq!(q.thin_visits, [1]);
        assert_eq!(q.load.get("sj"), Some(&5));
        assert_eq!(q.imbalance, 1.0);
    }
}
