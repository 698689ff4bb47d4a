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
    /// What an empty `ours` or `baseline` means when the server was measured (e.g. "none": a
    /// ramp with no step within its bound); an empty cell without it was not measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ours_blank: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_blank: Option<String>,
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
            ours_blank: None,
            baseline_blank: None,
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

    /// What each side's empty value means, if it was measured (see [`Row::ours_blank`]).
    pub fn blanks(mut self, ours: Option<&str>, baseline: Option<&str>) -> Row {
        self.ours_blank = ours.map(str::to_owned);
        self.baseline_blank = baseline.map(str::to_owned);
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

fn num(v: Option<f64>, blank: &Option<String>) -> String {
    match v {
        None => blank.clone().unwrap_or_else(|| "–".into()),
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
            num(r.ours, &r.ours_blank),
            num(r.baseline, &r.baseline_blank),
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

    #[test]
    fn a_measured_blank_says_what_it_means() {
        let row = Row::new("s", "m", true)
            .values(Some(5.0), None)
            .blanks(None, Some("none"))
            .ratio_target(10.0);
        assert_eq!(row.met, None);
        let table = markdown(&[row, Row::new("s", "n", true)]);
        assert!(
            table.contains("| s | m | 5.00 | none | – | ≥ 10× |  |"),
            "{table}"
        );
        assert!(table.contains("| s | n | – | – | – |  |  |"), "{table}");
    }
}
