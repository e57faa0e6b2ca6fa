//! Early warning (苗头性、倾向性问题): three tests over counts and places only.
//!
//! 1. **EARS C2** per category × township: today's count against the mean and standard
//!    deviation of the seven days that end three days before (a two-day guard band, so
//!    a rise that began yesterday does not hide in its own baseline). An alarm needs
//!    C2 = (x − μ) / max(σ, 0.5) ≥ 3 **and** x ≥ the minimum count (5 by default): one
//!    extra case in a quiet village is not an alarm.
//! 2. **Space-time permutation scan** (Kulldorff 2005) over the division tree: every
//!    village and every township (all its villages together) is a zone, the last 1 to 7
//!    days are the windows. Expected counts come from the margins alone
//!    (μ = zone total × window total / grand total over the 28-day study period), the
//!    score is the Poisson log-likelihood ratio, and its p-value comes from 99
//!    permutations of the case dates over the case places (seeded, so a scan is
//!    repeatable). It needs no population and finds clusters that no single place shows.
//! 3. **Similar new cases across villages**: cases of the last seven days whose
//!    similarity signatures match (xf-similarity, at its default threshold), linked
//!    into clusters; a cluster of at least three cases from at least two villages is a
//!    warning before it becomes a collective visit.

use std::collections::{BTreeMap, BTreeSet};

/// EARS C2 on one series (oldest first, the last value is today). `None` when the
/// series is too short.
pub fn ears_c2(series: &[i64]) -> Option<(f64, f64, f64)> {
    let n = series.len();
    if n < 10 {
        return None;
    }
    let x = series[n - 1] as f64;
    let base: Vec<f64> = series[n - 10..n - 3].iter().map(|&v| v as f64).collect();
    let mean = base.iter().sum::<f64>() / base.len() as f64;
    let var = base.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (base.len() - 1) as f64;
    let sd = var.sqrt().max(0.5);
    Some((x, mean, (x - mean) / sd))
}

/// The C2 threshold.
pub const C2_THRESHOLD: f64 = 3.0;

/// True when the series alarms today.
pub fn c2_alarm(series: &[i64], min_count: i64) -> Option<(f64, f64, f64)> {
    let (x, mean, c2) = ears_c2(series)?;
    (c2 >= C2_THRESHOLD && x >= min_count as f64).then_some((x, mean, c2))
}

/// One case for the scan: its village code and its day (0 = the first of the study
/// period).
#[derive(Debug, Clone)]
pub struct Point {
    pub village: String,
    pub day: u32,
}

/// A cluster the scan found.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    pub zone: String,
    /// Days back from the last day (1 = the last day alone).
    pub window: u32,
    pub observed: i64,
    pub expected: f64,
    pub llr: f64,
    pub p_value: f64,
}

fn llr(c: f64, mu: f64, total: f64) -> f64 {
    if c <= mu || mu <= 0.0 {
        return 0.0;
    }
    let rest = total - c;
    let rest_mu = total - mu;
    let tail = if rest > 0.0 && rest_mu > 0.0 {
        rest * (rest / rest_mu).ln()
    } else {
        0.0
    };
    c * (c / mu).ln() + tail
}

/// The zones of a village: itself and its township.
fn zones(village: &str) -> Vec<String> {
    let mut z = vec![village.to_owned()];
    if village.len() >= 9 {
        z.push(village[..9].to_owned());
    }
    z
}

/// The best cluster (highest score) of the points, with its value.
fn best(points: &[Point], days: u32, max_window: u32) -> Option<(String, u32, i64, f64, f64)> {
    let total = points.len() as f64;
    let mut zone_total: BTreeMap<String, i64> = BTreeMap::new();
    let mut window_total = vec![0i64; max_window as usize + 1];
    let mut cell: BTreeMap<(String, u32), i64> = BTreeMap::new();
    for p in points {
        let back = days.saturating_sub(p.day);
        for z in zones(&p.village) {
            *zone_total.entry(z.clone()).or_default() += 1;
            for w in 1..=max_window {
                if back <= w {
                    *cell.entry((z.clone(), w)).or_default() += 1;
                }
            }
        }
        for (w, t) in window_total.iter_mut().enumerate().skip(1) {
            if back as usize <= w {
                *t += 1;
            }
        }
    }
    let mut out: Option<(String, u32, i64, f64, f64)> = None;
    for ((z, w), c) in &cell {
        let mu = zone_total[z] as f64 * window_total[*w as usize] as f64 / total;
        let s = llr(*c as f64, mu, total);
        if out.as_ref().is_none_or(|o| s > o.4) {
            out = Some((z.clone(), *w, *c, mu, s));
        }
    }
    out
}

/// A small deterministic generator for the permutations.
struct SplitMix(u64);
impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The space-time permutation scan: the most likely cluster in the last `max_window`
/// days of a study period of `days + 1` days, with its Monte Carlo p-value.
pub fn scan(points: &[Point], days: u32, max_window: u32, reps: u32) -> Option<Cluster> {
    if points.len() < 2 {
        return None;
    }
    let (zone, window, observed, expected, value) = best(points, days, max_window)?;
    if value <= 0.0 {
        return None;
    }
    let mut rng = SplitMix(0x5eed ^ points.len() as u64);
    let mut shuffled = points.to_vec();
    let mut higher = 0u32;
    for _ in 0..reps {
        // Shuffle the days over the places (Fisher–Yates), keeping both margins.
        let mut ds: Vec<u32> = points.iter().map(|p| p.day).collect();
        for i in (1..ds.len()).rev() {
            let j = (rng.next() % (i as u64 + 1)) as usize;
            ds.swap(i, j);
        }
        for (p, d) in shuffled.iter_mut().zip(ds) {
            p.day = d;
        }
        if let Some(b) = best(&shuffled, days, max_window)
            && b.4 >= value
        {
            higher += 1;
        }
    }
    Some(Cluster {
        zone,
        window,
        observed,
        expected,
        llr: value,
        p_value: f64::from(higher + 1) / f64::from(reps + 1),
    })
}

/// Clusters of similar cases: indices linked by similarity at or above `threshold`,
/// kept when at least `min_size` cases from at least two villages.
pub fn similar_clusters(
    cases: &[(String, xf_similarity::Signature)],
    threshold: f64,
    min_size: usize,
) -> Vec<Vec<usize>> {
    let n = cases.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn root(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    for i in 0..n {
        for j in i + 1..n {
            if cases[i].1.is_empty() || cases[j].1.is_empty() {
                continue;
            }
            if xf_similarity::similarity(&cases[i].1, &cases[j].1) >= threshold {
                let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                if a != b {
                    parent[b] = a;
                }
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..n {
        let r = root(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }
    groups
        .into_values()
        .filter(|g| {
            let villages: BTreeSet<&str> = g.iter().map(|&i| cases[i].0.as_str()).collect();
            g.len() >= min_size && villages.len() >= 2
        })
        .collect()
}

/// The longest code every code starts with, cut to a division (6, 9 or 12 digits).
pub fn common_place<'a>(codes: impl IntoIterator<Item = &'a str>) -> String {
    let mut it = codes.into_iter();
    let Some(first) = it.next() else {
        return String::new();
    };
    let mut len = first.len();
    for c in it {
        len = first
            .bytes()
            .zip(c.bytes())
            .take(len)
            .take_while(|(a, b)| a == b)
            .count();
    }
    let cut = [12, 9, 6].into_iter().find(|&l| l <= len).unwrap_or(0);
    first[..cut].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c2_needs_a_rise_and_a_minimum_count() {
        let quiet = [0, 0, 1, 0, 0, 0, 0, 0, 0, 2];
        assert!(c2_alarm(&quiet, 5).is_none(), "two cases in a quiet place");
        let spike = [2, 3, 2, 2, 3, 2, 3, 2, 2, 12];
        let (x, mean, c2) = c2_alarm(&spike, 5).expect("alarm");
        assert_eq!(x, 12.0);
        assert!((mean - 2.428_571).abs() < 1e-3, "{mean}");
        assert!(c2 > 3.0);
        let steady = [10, 11, 9, 10, 12, 10, 9, 10, 11, 11];
        assert!(c2_alarm(&steady, 5).is_none());
        assert!(ears_c2(&[1, 2, 3]).is_none());
    }

    #[test]
    fn the_scan_finds_a_township_cluster_no_village_shows() {
        // 28 days, twenty villages in five townships, each village a case every other
        // day; on the last day the four villages of one township get three more each.
        let mut pts = Vec::new();
        let villages: Vec<String> = (0..20)
            .map(|i| format!("33012200{}{:03}", i / 4 + 1, 200 + i))
            .collect();
        for day in 0..28u32 {
            for (i, v) in villages.iter().enumerate() {
                if (day as usize + i).is_multiple_of(2) {
                    pts.push(Point {
                        village: v.clone(),
                        day,
                    });
                }
            }
        }
        for v in &villages[0..4] {
            for _ in 0..3 {
                pts.push(Point {
                    village: v.clone(),
                    day: 27,
                });
            }
        }
        let c = scan(&pts, 27, 7, 99).expect("cluster");
        assert_eq!(c.zone, "330122001", "{c:?}");
        assert!(c.p_value <= 0.05, "{c:?}");
        assert!(c.observed >= 6);
    }

    #[test]
    fn common_places_cut_to_a_division() {
        assert_eq!(common_place(["330122002200", "330122002201"]), "330122002");
        assert_eq!(common_place(["330122002200", "330122003201"]), "330122");
        assert_eq!(common_place(["330122002200"]), "330122002200");
    }
}
