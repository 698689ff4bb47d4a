//! Results: one row per (scenario, metric) with ours, the baseline, the advantage ratio and the
//! target, rendered as a Markdown table and as JSON next to the raw per-scenario data.

use serde::Serialize;

#[derive(Debug, Serialize, Clone)]
pub struct Row {
    pub scenario: String,
    pub metric: String,
    pub ours: Option<f64>,
    pub baseline: Option<f64>,
    pub higher_is_better: bool,
    /// Ours' advantage: ours/baseline when higher is better, baseline/ours when lower is better.
    pub ratio: Option<f64>,
    pub target: String,
    pub met: Option<bool>,
}

impl Row {
    pub fn new(scenario: &str, metric: &str, higher_is_better: bool) -> Row {
        Row {
            scenario: scenario.into(),
            metric: metric.into(),
            ours: None,
            baseline: None,
            higher_is_better,
            ratio: None,
            target: String::new(),
            met: None,
        }
    }

    pub fn values(mut self, ours: Option<f64>, baseline: Option<f64>) -> Row {
        self.ours = ours.filter(|v| v.is_finite());
        self.baseline = baseline.filter(|v| v.is_finite());
        self.ratio = match (self.ours, self.baseline) {
            (Some(o), Some(b)) if self.higher_is_better && b > 0.0 => Some(o / b),
            (Some(o), Some(b)) if !self.higher_is_better && o > 0.0 => Some(b / o),
            _ => None,
        };
        self
    }

    /// For a descriptive row (a share, a breakdown) where a ratio would read as an advantage.
    pub fn without_ratio(mut self) -> Row {
        self.ratio = None;
        self
    }

    /// A target on the ratio (ours' advantage ≥ `min`).
    pub fn ratio_target(mut self, min: f64) -> Row {
        self.target = format!("≥ {min}×");
        self.met = self.ratio.map(|r| r >= min);
        self
    }

    /// A target on ours' absolute value.
    pub fn target(mut self, text: &str, met: Option<bool>) -> Row {
        self.target = text.into();
        self.met = met;
        self
    }
}

fn num(v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(v) if v.abs() >= 1000.0 => format!("{v:.0}"),
        Some(v) if v.abs() >= 10.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.2}"),
    }
}

pub fn markdown(rows: &[Row]) -> String {
    let mut s = String::from(
        "| scenario | metric | ours | baseline | ratio (ours' advantage) | target | met? |\n|---|---|---:|---:|---:|---|---|\n",
    );
    for r in rows {
        let ratio = r.ratio.map_or("–".into(), |x| format!("{x:.2}×"));
        let met = match r.met {
            Some(true) => "**met**",
            Some(false) => "**missed**",
            None => "",
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            r.scenario,
            r.metric,
            num(r.ours),
            num(r.baseline),
            ratio,
            r.target,
            met
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ratio_is_ours_advantage_either_way() {
        let up = Row::new("s", "m", true).values(Some(20.0), Some(2.0));
        assert_eq!(up.ratio, Some(10.0));
        let down = Row::new("s", "m", false).values(Some(2.0), Some(20.0));
        assert_eq!(down.ratio, Some(10.0));
        assert_eq!(down.ratio_target(4.0).met, Some(true));
    }
}
