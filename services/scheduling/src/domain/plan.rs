//! The annual reception plan (R20): concrete sessions generated from an office's rules
//! for a year, checked against the plan goals, the duty rule (R27) and the leaders'
//! overlaps; draft → published (R25); regenerating a published plan proposes changes.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Datelike, NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};
use xf_calendar::{HolidayCalendar, month};

use super::Refusal;
use super::roster::RosterDay;
use super::rules::{Form, Kind, RuleSpec, Slot};

/// A person of an office: a leader or a staff member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub post: String,
    pub leader: bool,
}

/// One version of a rule with the days it is in force (`effective_to` exclusive).
#[derive(Debug, Clone)]
pub struct RuleVersion {
    pub id: String,
    pub version: i32,
    pub effective_from: NaiveDate,
    pub effective_to: Option<NaiveDate>,
    pub spec: RuleSpec,
}

impl RuleVersion {
    fn window(&self, from: NaiveDate, to: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
        let a = from.max(self.effective_from);
        let b = match self.effective_to.and_then(|d| d.pred_opt()) {
            Some(end) => to.min(end),
            None => to,
        };
        (a <= b).then_some((a, b))
    }
}

/// A session the plan gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Planned {
    pub rule_id: String,
    pub rule_version: i32,
    /// The day the rule names (before a holiday move); with `rule_id` and `slot`, the
    /// session's identity across regenerations.
    pub nominal: NaiveDate,
    pub slot: u16,
    pub date: NaiveDate,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub post: String,
    pub leader_id: String,
    pub place: String,
    pub form: Form,
    pub capacity: u32,
}

impl Planned {
    pub fn key(&self) -> (String, NaiveDate, u16) {
        (self.rule_id.clone(), self.nominal, self.slot)
    }
    fn slot_times(&self) -> Slot {
        Slot {
            start: self.start,
            end: self.end,
        }
    }
}

fn year_range(year: i32) -> Option<(NaiveDate, NaiveDate)> {
    Some((
        NaiveDate::from_ymd_opt(year, 1, 1)?,
        NaiveDate::from_ymd_opt(year, 12, 31)?,
    ))
}

/// Generates the plan of `year` from the office's rule versions: every rule's days
/// (with its holiday policy), rules yielding to others on their days, rotations in
/// turn session day by session day (each year starts with the first leader listed; a
/// leader who already receives at that time passes the turn to the next), then the
/// goals' gaps filled on the first free working day of each block.
pub fn generate(
    people: &[Person],
    rules: &[RuleVersion],
    year: i32,
    cal: &dyn HolidayCalendar,
) -> Vec<Planned> {
    let Some((from, to)) = year_range(year) else {
        return Vec::new();
    };
    // Days of every rule, before yielding.
    let mut by_rule: BTreeMap<&str, Vec<(NaiveDate, NaiveDate, &RuleVersion)>> = BTreeMap::new();
    for v in rules {
        if matches!(v.spec.kind, Kind::Goal(_)) {
            continue;
        }
        let Some((a, b)) = v.window(from, to) else {
            continue;
        };
        let entry = by_rule.entry(v.id.as_str()).or_default();
        for o in v.spec.kind.occurrences(v.spec.holiday_policy, a, b, cal) {
            entry.push((o.nominal, o.date, v));
        }
    }
    let days_of: HashMap<&str, BTreeSet<NaiveDate>> = by_rule
        .iter()
        .map(|(id, l)| (*id, l.iter().map(|(_, d, _)| *d).collect()))
        .collect();
    let mut out: Vec<Planned> = Vec::new();
    // Rules with one leader first; then rotations, whose turn passes to the next
    // leader in the list when the one whose turn it is already receives at that time.
    let mut order: Vec<_> = by_rule.iter().collect();
    order.sort_by_key(|(id, l)| (l.iter().any(|(_, _, v)| v.spec.leaders.len() > 1), **id));
    for (id, list) in order {
        let mut list: Vec<_> = list
            .iter()
            .filter(|(_, d, v)| {
                !v.spec
                    .yield_to
                    .iter()
                    .any(|y| days_of.get(y.as_str()).is_some_and(|s| s.contains(d)))
            })
            .collect();
        list.sort_by_key(|(_, d, _)| *d);
        for (i, (nominal, date, v)) in list.iter().enumerate() {
            let leaders = &v.spec.leaders;
            let n = leaders.len();
            if n == 0 {
                continue;
            }
            let busy = |l: &str| {
                out.iter().any(|s| {
                    s.date == *date
                        && s.leader_id == l
                        && v.spec.slots.iter().any(|x| x.overlaps(&s.slot_times()))
                })
            };
            let leader = (0..n)
                .map(|k| &leaders[(i + k) % n])
                .find(|l| !busy(l))
                .unwrap_or(&leaders[i % n])
                .clone();
            for (s, slot) in v.spec.slots.iter().enumerate() {
                out.push(Planned {
                    rule_id: (*id).to_owned(),
                    rule_version: v.version,
                    nominal: *nominal,
                    slot: u16::try_from(s).unwrap_or(u16::MAX),
                    date: *date,
                    start: slot.start,
                    end: slot.end,
                    post: v.spec.post.clone(),
                    leader_id: leader.clone(),
                    place: v.spec.place.clone(),
                    form: v.spec.form,
                    capacity: v.spec.capacity,
                });
            }
        }
    }
    for v in rules {
        if let Kind::Goal(g) = &v.spec.kind {
            let Some((a, b)) = v.window(from, to) else {
                continue;
            };
            fill_goal(&mut out, people, v, g, (a, b), year, cal);
        }
    }
    out.sort_by(|x, y| (x.date, x.start, &x.rule_id).cmp(&(y.date, y.start, &y.rule_id)));
    out
}

/// The blocks of `every_months` months of `year`, as (first day, last day).
fn blocks(year: i32, every_months: u32) -> Vec<(NaiveDate, NaiveDate)> {
    let step = every_months.clamp(1, 12);
    (1..=12)
        .step_by(step as usize)
        .filter_map(|m| {
            let first = NaiveDate::from_ymd_opt(year, m, 1)?;
            let last = month::last_day(year, (m + step - 1).min(12))?;
            Some((first, last))
        })
        .collect()
}

fn fill_goal(
    out: &mut Vec<Planned>,
    people: &[Person],
    v: &RuleVersion,
    g: &super::rules::Goal,
    (a, b): (NaiveDate, NaiveDate),
    year: i32,
    cal: &dyn HolidayCalendar,
) {
    let Some(slot) = v.spec.slots.first().copied() else {
        return;
    };
    let bl = blocks(year, g.every_months);
    let per_block = g
        .min_per_year
        .div_ceil(u32::try_from(bl.len()).unwrap_or(1).max(1));
    for post in &g.posts {
        let Some(person) = people.iter().find(|p| p.leader && &p.post == post) else {
            continue;
        };
        for (first, last) in &bl {
            let (first, last) = ((*first).max(a), (*last).min(b));
            if first > last {
                continue;
            }
            let have = out
                .iter()
                .filter(|s| &s.post == post && s.date >= first && s.date <= last)
                .map(|s| s.date)
                .collect::<BTreeSet<_>>()
                .len();
            let mut missing = (per_block as usize).saturating_sub(have);
            let mut day = first;
            while missing > 0 && day <= last {
                let busy = out.iter().any(|s| {
                    s.date == day
                        && (s.leader_id == person.id
                            || &s.post == post
                            || (s.rule_id == v.id && s.slot_times().overlaps(&slot)))
                });
                if cal.is_working_day(day) && !busy {
                    out.push(Planned {
                        rule_id: v.id.clone(),
                        rule_version: v.version,
                        nominal: day,
                        slot: 0,
                        date: day,
                        start: slot.start,
                        end: slot.end,
                        post: post.clone(),
                        leader_id: person.id.clone(),
                        place: v.spec.place.clone(),
                        form: v.spec.form,
                        capacity: v.spec.capacity,
                    });
                    missing -= 1;
                    // Spread the added sessions: at least a week apart.
                    day = day + chrono::Days::new(7);
                    continue;
                }
                let Some(next) = day.succ_opt() else { break };
                day = next;
            }
        }
    }
}

/// One thing wrong with a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Violation {
    #[schema(value_type = String)]
    /// goal_min_per_year | goal_every_months | goal_post_vacant | leader_overlap |
    /// duty_leader_missing | duty_staff_missing
    pub rule: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    pub detail: String,
}

/// A session as the check sees it (cancelled ones are left out by the caller).
#[derive(Debug, Clone)]
pub struct Held<'a> {
    pub date: NaiveDate,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub post: &'a str,
    pub leader_id: &'a str,
}

/// The generated sessions as the check sees them.
pub fn held(sessions: &[Planned]) -> Vec<Held<'_>> {
    sessions
        .iter()
        .map(|s| Held {
            date: s.date,
            start: s.start,
            end: s.end,
            post: &s.post,
            leader_id: &s.leader_id,
        })
        .collect()
}

/// Checks a year's sessions and duty roster: the goals in force (R20), one leader per
/// session at a time, and at least one leader and one staff member on duty each
/// working day (R27). Every violation is listed.
pub fn check(
    people: &[Person],
    rules: &[RuleVersion],
    year: i32,
    sessions: &[Held<'_>],
    roster: &[RosterDay],
    cal: &dyn HolidayCalendar,
) -> Vec<Violation> {
    let mut v = Vec::new();
    let Some((from, to)) = year_range(year) else {
        return v;
    };
    for r in rules {
        let Kind::Goal(g) = &r.spec.kind else {
            continue;
        };
        let Some((a, b)) = r.window(from, to) else {
            continue;
        };
        for post in &g.posts {
            if !people.iter().any(|p| p.leader && &p.post == post) {
                v.push(Violation {
                    rule: "goal_post_vacant",
                    rule_id: Some(r.id.clone()),
                    date: None,
                    post: Some(post.clone()),
                    person: None,
                    detail: format!("no leader holds the post {post}"),
                });
            }
            let days: BTreeSet<NaiveDate> = sessions
                .iter()
                .filter(|s| s.post == post && s.date >= a && s.date <= b)
                .map(|s| s.date)
                .collect();
            // A goal that starts during the year asks for its share of the year.
            let span = (b - a).num_days() + 1;
            let year_days = (to - from).num_days() + 1;
            let wanted = (u64::from(g.min_per_year) * u64::try_from(span).unwrap_or(0))
                .div_ceil(u64::try_from(year_days).unwrap_or(1).max(1));
            if (days.len() as u64) < wanted {
                v.push(Violation {
                    rule: "goal_min_per_year",
                    rule_id: Some(r.id.clone()),
                    date: None,
                    post: Some(post.clone()),
                    person: None,
                    detail: format!(
                        "{post} receives on {} days in {year}; the goal asks for at least {wanted}",
                        days.len()
                    ),
                });
            }
            for (first, last) in blocks(year, g.every_months) {
                if last < a || first > b {
                    continue;
                }
                if !days.iter().any(|d| *d >= first && *d <= last) {
                    v.push(Violation {
                        rule: "goal_every_months",
                        rule_id: Some(r.id.clone()),
                        date: Some(first),
                        post: Some(post.clone()),
                        person: None,
                        detail: format!(
                            "{post} has no session from {first} to {last} (at least once every {} months)",
                            g.every_months
                        ),
                    });
                }
            }
        }
    }
    let mut by_leader: BTreeMap<(&str, NaiveDate), Vec<&Held<'_>>> = BTreeMap::new();
    for s in sessions {
        by_leader.entry((s.leader_id, s.date)).or_default().push(s);
    }
    for ((leader, date), list) in by_leader {
        for (i, a) in list.iter().enumerate() {
            for b in &list[i + 1..] {
                if a.start < b.end && b.start < a.end {
                    v.push(Violation {
                        rule: "leader_overlap",
                        rule_id: None,
                        date: Some(date),
                        post: None,
                        person: Some(leader.to_owned()),
                        detail: format!(
                            "{leader} has two sessions at once ({}–{} and {}–{})",
                            a.start.format("%H:%M"),
                            a.end.format("%H:%M"),
                            b.start.format("%H:%M"),
                            b.end.format("%H:%M")
                        ),
                    });
                }
            }
        }
    }
    v.extend(super::roster::gaps(people, roster, from, to, cal));
    v
}

/// Whether any day of `year` rests on a holiday arrangement not yet published.
pub fn provisional(year: i32, cal: &dyn HolidayCalendar) -> bool {
    year_range(year).is_none_or(|(a, b)| !cal.is_settled(a) || !cal.is_settled(b))
}

/// The plan's states (R25).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanState {
    Draft,
    Published,
}

impl PlanState {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanState::Draft => "draft",
            PlanState::Published => "published",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "draft" => Some(PlanState::Draft),
            "published" => Some(PlanState::Published),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanCommand {
    Generate,
    Publish { violations: usize, force: bool },
    ApplyProposal,
}

/// What the store does for an accepted plan command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanEffect {
    /// Replace the draft's sessions with the generated ones.
    ReplaceDraft,
    /// Keep the published sessions; store the proposed changes.
    Propose,
    /// Publish the draft's sessions.
    Publish,
    /// Apply the stored proposal to the published sessions.
    Apply,
}

/// The plan's one transition function.
pub fn transition(
    state: Option<PlanState>,
    cmd: PlanCommand,
) -> Result<(PlanState, PlanEffect), Refusal> {
    use PlanCommand as C;
    use PlanState as S;
    match (state, cmd) {
        (None | Some(S::Draft), C::Generate) => Ok((S::Draft, PlanEffect::ReplaceDraft)),
        (Some(S::Published), C::Generate) => Ok((S::Published, PlanEffect::Propose)),
        (Some(S::Draft), C::Publish { violations, force }) => {
            if violations > 0 && !force {
                Err(Refusal::Rule {
                    rule: "plan_check",
                    detail: format!(
                        "the plan has {violations} violation(s); fix them or publish with force"
                    ),
                })
            } else {
                Ok((S::Published, PlanEffect::Publish))
            }
        }
        (Some(S::Published), C::Publish { .. }) => {
            Err(Refusal::State("the plan is already published".into()))
        }
        (None, C::Publish { .. } | C::ApplyProposal) => {
            Err(Refusal::State("there is no plan for this year yet".into()))
        }
        (Some(S::Draft), C::ApplyProposal) => Err(Refusal::State(
            "a draft has no proposal: generate replaces it".into(),
        )),
        (Some(S::Published), C::ApplyProposal) => Ok((S::Published, PlanEffect::Apply)),
    }
}

/// A published session as regeneration compares it.
#[derive(Debug, Clone)]
pub struct Existing {
    pub id: uuid::Uuid,
    pub key: (String, NaiveDate, u16),
    pub date: NaiveDate,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub leader_id: String,
    pub post: String,
    pub place: String,
    pub form: Form,
    pub cancelled: bool,
    /// Changed by hand (swap, substitute, move, cancel): regeneration leaves it alone.
    pub pinned: bool,
}

/// A change regeneration proposes to a published plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Change {
    Add {
        session: Planned,
    },
    Cancel {
        session_id: uuid::Uuid,
        date: NaiveDate,
    },
    Update {
        session_id: uuid::Uuid,
        session: Planned,
    },
}

/// The changes that would make the published sessions match a regeneration; sessions
/// changed by hand or cancelled are never touched.
pub fn propose(existing: &[Existing], generated: &[Planned]) -> Vec<Change> {
    let by_key: HashMap<&(String, NaiveDate, u16), &Existing> =
        existing.iter().map(|e| (&e.key, e)).collect();
    let new_keys: BTreeSet<(String, NaiveDate, u16)> = generated.iter().map(Planned::key).collect();
    let mut out = Vec::new();
    for g in generated {
        match by_key.get(&g.key()) {
            None => out.push(Change::Add { session: g.clone() }),
            Some(e) if e.pinned || e.cancelled => {}
            Some(e) => {
                let same = e.date == g.date
                    && e.start == g.start
                    && e.end == g.end
                    && e.leader_id == g.leader_id
                    && e.post == g.post
                    && e.place == g.place
                    && e.form == g.form;
                if !same {
                    out.push(Change::Update {
                        session_id: e.id,
                        session: g.clone(),
                    });
                }
            }
        }
    }
    for e in existing {
        if !e.pinned && !e.cancelled && !new_keys.contains(&e.key) {
            out.push(Change::Cancel {
                session_id: e.id,
                date: e.date,
            });
        }
    }
    out
}

/// The year a date belongs to for plans.
pub fn plan_year(d: NaiveDate) -> i32 {
    d.year()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::rules::RuleInput;
    use serde_json::json;
    use xf_calendar::OfficialCalendar;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    fn person(id: &str, post: &str, leader: bool) -> Person {
        Person {
            id: id.into(),
            name: id.into(),
            post: post.into(),
            leader,
        }
    }

    fn rule(people: &[Person], ids: &[&str], id: &str, v: serde_json::Value) -> RuleVersion {
        let p: Vec<(String, String, bool)> = people
            .iter()
            .map(|p| (p.id.clone(), p.post.clone(), p.leader))
            .collect();
        let rules: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
        let input: RuleInput = serde_json::from_value(v).expect("shape");
        let spec = input
            .validate(&super::super::rules::OfficeRefs {
                people: &p,
                rules: &rules,
            })
            .expect("valid rule");
        RuleVersion {
            id: id.into(),
            version: 1,
            effective_from: input.effective_from,
            effective_to: None,
            spec,
        }
    }

    fn court() -> (Vec<Person>, Vec<RuleVersion>) {
        let people = vec![
            person("yz", "院长", true),
            person("fy1", "副院长", true),
            person("fy2", "副院长", true),
            person("fy3", "副院长", true),
        ];
        let ids = ["first-monday", "other-mondays"];
        let rules = vec![
            rule(
                &people,
                &ids,
                "first-monday",
                json!({
                "kind": "nth_weekday", "parameters": {"n": 1, "weekday": "monday"},
                "post": "院长", "leaders": ["yz"], "slots": [{"start": "09:00", "end": "12:00"}],
                "place": "诉讼服务中心", "form": "fixed_point", "effective_from": "2025-01-01"}),
            ),
            rule(
                &people,
                &ids,
                "other-mondays",
                json!({
                "kind": "weekly", "parameters": {"weekdays": ["monday"]},
                "post": "副院长", "leaders": ["fy1", "fy2", "fy3"], "yield_to": ["first-monday"],
                "slots": [{"start": "09:00", "end": "12:00"}],
                "place": "诉讼服务中心", "form": "fixed_point", "effective_from": "2025-01-01"}),
            ),
        ];
        (people, rules)
    }

    #[test]
    fn court_first_monday_and_rotating_vice_presidents() {
        let (people, rules) = court();
        let plan = generate(&people, &rules, 2025, &OfficialCalendar);
        let jan: Vec<_> = plan
            .iter()
            .filter(|s| s.date.month() == 1)
            .map(|s| (s.date.day(), s.leader_id.as_str()))
            .collect();
        // January 2025: Mondays 6, 13, 20, 27 (the 1st is a Wednesday).
        assert_eq!(jan, [(6, "yz"), (13, "fy1"), (20, "fy2"), (27, "fy3")]);
        // February 2025: Mon 2/3 is in the Spring Festival holiday: the president's
        // first Monday moves to Wed 2/5 (next working day); the vice presidents' Monday
        // 2/3 is skipped, so the rotation goes on with fy1 on 2/10.
        let feb: Vec<_> = plan
            .iter()
            .filter(|s| s.date.month() == 2)
            .map(|s| (s.date.day(), s.leader_id.as_str()))
            .collect();
        assert_eq!(feb, [(5, "yz"), (10, "fy1"), (17, "fy2"), (24, "fy3")]);
        // October 2025: Mon 10/6 in the National Day week → the president on Thu 10/9;
        // the vice presidents keep 10/13, 10/20, 10/27.
        let oct: Vec<_> = plan
            .iter()
            .filter(|s| s.date.month() == 10)
            .map(|s| s.date.day())
            .collect();
        assert_eq!(oct, [9, 13, 20, 27]);
        let v = check(&people, &rules, 2025, &held(&plan), &[], &OfficialCalendar);
        assert!(v.iter().all(|x| x.rule.starts_with("duty_")), "{v:?}");
    }

    #[test]
    fn a_goal_fills_every_two_months_and_the_check_names_gaps() {
        let people = vec![person("sj", "镇党委书记", true), person("zz", "镇长", true)];
        let ids = ["goal"];
        let goal = rule(
            &people,
            &ids,
            "goal",
            json!({
            "kind": "goal", "parameters": {"posts": ["镇党委书记", "镇长"], "every_months": 2, "min_per_year": 6},
            "slots": [{"start": "09:00", "end": "11:30"}], "place": "镇综治信访维稳中心",
            "form": "fixed_point", "effective_from": "2025-01-01"}),
        );
        let plan = generate(
            &people,
            std::slice::from_ref(&goal),
            2026,
            &OfficialCalendar,
        );
        assert_eq!(plan.len(), 12, "{plan:?}");
        for post in ["镇党委书记", "镇长"] {
            let d: Vec<_> = plan
                .iter()
                .filter(|s| s.post == post)
                .map(|s| s.date)
                .collect();
            assert_eq!(d.len(), 6);
            assert!(d.iter().all(|x| OfficialCalendar.is_working_day(*x)));
        }
        // 2026-01-01 is a holiday (元旦 1/1–1/3) and 1/4 a make-up Sunday: the first
        // working day of January is Sun 2026-01-04; the mayor takes the next free one.
        let first: Vec<_> = plan
            .iter()
            .take(2)
            .map(|s| (s.date, s.post.as_str()))
            .collect();
        assert_eq!(
            first,
            [(date(2026, 1, 4), "镇党委书记"), (date(2026, 1, 5), "镇长")]
        );
        assert!(
            check(
                &people,
                std::slice::from_ref(&goal),
                2026,
                &held(&plan),
                &[],
                &OfficialCalendar
            )
            .iter()
            .all(|v| v.rule.starts_with("duty_"))
        );
        // Without the mayor's March–April session the check names both rules.
        let fewer: Vec<_> = plan
            .iter()
            .filter(|s| !(s.post == "镇长" && (3..=4).contains(&s.date.month())))
            .cloned()
            .collect();
        let v = check(
            &people,
            &[goal],
            2026,
            &held(&fewer),
            &[],
            &OfficialCalendar,
        );
        let goal_v: Vec<_> = v.iter().filter(|x| x.rule.starts_with("goal")).collect();
        assert_eq!(goal_v.len(), 2, "{goal_v:?}");
        assert_eq!(goal_v[0].rule, "goal_min_per_year");
        assert_eq!(goal_v[1].rule, "goal_every_months");
        assert_eq!(goal_v[1].date, Some(date(2026, 3, 1)));
    }

    #[test]
    fn overlaps_for_one_leader_are_listed() {
        let (people, rules) = court();
        let mut plan = generate(&people, &rules, 2025, &OfficialCalendar);
        let mut dup = plan[0].clone();
        dup.start = NaiveTime::from_hms_opt(11, 0, 0).expect("time");
        dup.end = NaiveTime::from_hms_opt(12, 30, 0).expect("time");
        dup.rule_id = "extra".into();
        plan.push(dup);
        let v = check(&people, &rules, 2025, &held(&plan), &[], &OfficialCalendar);
        assert_eq!(
            v.iter().filter(|x| x.rule == "leader_overlap").count(),
            1,
            "{v:?}"
        );
    }

    #[test]
    fn regeneration_proposes_and_never_touches_hand_changes() {
        let (people, mut rules) = court();
        let plan = generate(&people, &rules, 2025, &OfficialCalendar);
        let existing: Vec<Existing> = plan
            .iter()
            .enumerate()
            .map(|(i, p)| Existing {
                id: uuid::Uuid::from_u128(i as u128),
                key: p.key(),
                date: p.date,
                start: p.start,
                end: p.end,
                leader_id: p.leader_id.clone(),
                post: p.post.clone(),
                place: p.place.clone(),
                form: p.form,
                cancelled: i == 1,
                pinned: i == 2,
            })
            .collect();
        assert!(
            propose(&existing, &plan).is_empty(),
            "unchanged rules, no changes"
        );
        // The vice presidents' place changes from March: every later unpinned session is
        // proposed for update; the cancelled (1) and swapped (2) ones are left alone.
        let mut v2 = rules[1].clone();
        v2.version = 2;
        v2.effective_from = date(2025, 3, 1);
        v2.spec.place = "第二法庭".into();
        rules[1].effective_to = Some(date(2025, 3, 1));
        rules.push(v2);
        let again = generate(&people, &rules, 2025, &OfficialCalendar);
        let changes = propose(&existing, &again);
        assert!(!changes.is_empty());
        for c in &changes {
            match c {
                Change::Update {
                    session,
                    session_id,
                } => {
                    assert_eq!(session.place, "第二法庭");
                    assert!(session.date >= date(2025, 3, 1));
                    assert!(
                        *session_id != uuid::Uuid::from_u128(1)
                            && *session_id != uuid::Uuid::from_u128(2)
                    );
                }
                other => panic!("only updates expected: {other:?}"),
            }
        }
        // A rule removed: its sessions are proposed for cancellation.
        let only_first: Vec<_> = again
            .iter()
            .filter(|s| s.rule_id == "first-monday")
            .cloned()
            .collect();
        let changes = propose(&existing, &only_first);
        assert!(changes.iter().all(|c| matches!(c, Change::Cancel { .. })));
        assert_eq!(
            changes.len(),
            existing
                .iter()
                .filter(|e| e.key.0 == "other-mondays" && !e.pinned && !e.cancelled)
                .count()
        );
    }

    #[test]
    fn plan_transitions_are_exhaustive() {
        use PlanCommand as C;
        use PlanState as S;
        let publish = C::Publish {
            violations: 0,
            force: false,
        };
        let forced = C::Publish {
            violations: 2,
            force: true,
        };
        let blocked = C::Publish {
            violations: 2,
            force: false,
        };
        type Want = Result<(S, PlanEffect), ()>;
        let table: [(Option<S>, C, Want); 12] = [
            (None, C::Generate, Ok((S::Draft, PlanEffect::ReplaceDraft))),
            (
                Some(S::Draft),
                C::Generate,
                Ok((S::Draft, PlanEffect::ReplaceDraft)),
            ),
            (
                Some(S::Published),
                C::Generate,
                Ok((S::Published, PlanEffect::Propose)),
            ),
            (None, publish, Err(())),
            (
                Some(S::Draft),
                publish,
                Ok((S::Published, PlanEffect::Publish)),
            ),
            (
                Some(S::Draft),
                forced,
                Ok((S::Published, PlanEffect::Publish)),
            ),
            (Some(S::Draft), blocked, Err(())),
            (Some(S::Published), publish, Err(())),
            (Some(S::Published), forced, Err(())),
            (None, C::ApplyProposal, Err(())),
            (Some(S::Draft), C::ApplyProposal, Err(())),
            (
                Some(S::Published),
                C::ApplyProposal,
                Ok((S::Published, PlanEffect::Apply)),
            ),
        ];
        for (state, cmd, want) in table {
            assert_eq!(
                transition(state, cmd).map_err(|_| ()),
                want,
                "{state:?} {cmd:?}"
            );
        }
        assert!(matches!(
            transition(Some(S::Draft), blocked),
            Err(Refusal::Rule {
                rule: "plan_check",
                ..
            })
        ));
    }

    #[test]
    fn provisional_years() {
        assert!(!provisional(2025, &OfficialCalendar));
        // 2026's last days need the 2027 notice, which the calendar does not have yet.
        assert_eq!(
            provisional(2026, &OfficialCalendar),
            !OfficialCalendar.covers(2027)
        );
        assert_eq!(
            provisional(2028, &OfficialCalendar),
            !OfficialCalendar.covers(2028) || !OfficialCalendar.covers(2029)
        );
    }
}
