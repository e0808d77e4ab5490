//! Results: one JSON file per benchmark in `target/polyarch-bench/<name>.json`, and one summary
//! line on stdout.
//!
//! JSON fields: `name`, `ours` (null while the Polyarch side is not measured yet — never a
//! made-up number), `baseline`, `unit`, `ratio` (`ours / baseline`, null without `ours`),
//! `target` and `target_kind` (`"ratio"`: pass when `ratio <= target`; `"at_most"`: pass when
//! `ours <= target`; `"ratio_at_least"`: pass when `ratio >= target`; `"at_least"`: pass when
//! `ours >= target`; `"none"`: context only, `target` null), `pass` (null when not measured),
//! `quick` (whether `POLYARCH_BENCH_QUICK` shortened the inputs), `machine` (1-minute load
//! average and CPUs when the result was written: a busy machine inflates wall times) and
//! `details` (samples, sizes, counts: whatever explains the figure), `notes` (the lines printed
//! under the summary).

use serde_json::{Map, Value, json};

/// What the Polyarch figure is held to.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// `ours / baseline` at most this.
    Ratio(f64),
    /// `ours` at most this, in the report's unit.
    AtMost(f64),
    /// `ours / baseline` at least this (bigger is better: capacity, throughput).
    RatioAtLeast(f64),
    /// `ours` at least this, in the report's unit (bigger is better).
    AtLeast(f64),
    /// No target: the figure is context for the others.
    Context,
}

/// One benchmark's result.
#[derive(Clone, Debug)]
pub struct Report {
    name: String,
    unit: String,
    ours: Option<f64>,
    baseline: Option<f64>,
    target: Target,
    details: Map<String, Value>,
    notes: Vec<String>,
}

impl Report {
    /// A result named `name` (also the JSON file's stem), in `unit`.
    pub fn new(name: &str, unit: &str, ours: Option<f64>, baseline: f64, target: Target) -> Self {
        Report {
            name: name.to_owned(),
            unit: unit.to_owned(),
            ours,
            baseline: Some(baseline),
            target,
            details: Map::new(),
            notes: Vec::new(),
        }
    }

    /// A result with no baseline figure (none could be measured, or none applies): `baseline`
    /// and `ratio` are null in the JSON.
    pub fn without_baseline(name: &str, unit: &str, ours: Option<f64>, target: Target) -> Self {
        let mut report = Self::new(name, unit, ours, f64::NAN, target);
        report.baseline = None;
        report
    }

    /// Add a detail to the JSON (`details.<key>`).
    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    /// Add a line printed under the summary (and kept in the JSON's `notes`).
    pub fn note(mut self, line: impl Into<String>) -> Self {
        self.notes.push(line.into());
        self
    }

    /// `ours / baseline`, when both were measured (and the baseline is not zero).
    pub fn ratio(&self) -> Option<f64> {
        let (ours, baseline) = (self.ours?, self.baseline?);
        (baseline != 0.0).then(|| ours / baseline)
    }

    /// Whether the target is met; `None` when not measured or when there is no target.
    pub fn pass(&self) -> Option<bool> {
        let ours = self.ours?;
        match self.target {
            Target::Ratio(max) => Some(self.ratio()? <= max),
            Target::AtMost(max) => Some(ours <= max),
            // A baseline of zero is beaten by any positive figure.
            Target::RatioAtLeast(min) => {
                if self.baseline? == 0.0 {
                    Some(ours > 0.0)
                } else {
                    Some(self.ratio()? >= min)
                }
            }
            Target::AtLeast(min) => Some(ours >= min),
            Target::Context => None,
        }
    }

    /// The JSON document written for this result.
    pub fn to_json(&self) -> Value {
        let (target, kind) = match self.target {
            Target::Ratio(t) => (json!(t), "ratio"),
            Target::AtMost(t) => (json!(t), "at_most"),
            Target::RatioAtLeast(t) => (json!(t), "ratio_at_least"),
            Target::AtLeast(t) => (json!(t), "at_least"),
            Target::Context => (Value::Null, "none"),
        };
        let (load, cpus) = super::timing::machine_load();
        json!({
            "name": self.name,
            "ours": self.ours,
            "baseline": self.baseline,
            "unit": self.unit,
            "ratio": self.ratio(),
            "target": target,
            "target_kind": kind,
            "pass": self.pass(),
            "quick": super::quick(),
            "machine": { "loadavg_1m": load, "cpus": cpus },
            "details": self.details,
            "notes": self.notes,
        })
    }

    /// The one-line summary, e.g.
    /// `local_apply: ours 7.1 s, baseline 6.6 s, ratio 1.08 (target <= 1.3)`.
    pub fn summary(&self) -> String {
        let unit = &self.unit;
        let ours = match self.ours {
            Some(o) => format!("ours {} {unit}", fmt_num(o)),
            None => "ours not measured yet".to_owned(),
        };
        let ratio = self
            .ratio()
            .map_or_else(|| "-".to_owned(), |r| format!("{r:.3}"));
        let target = match self.target {
            Target::Ratio(t) => format!("target <= {}", fmt_num(t)),
            Target::AtMost(t) => format!("target: ours <= {} {unit}", fmt_num(t)),
            Target::RatioAtLeast(t) => format!("target >= {}", fmt_num(t)),
            Target::AtLeast(t) => format!("target: ours >= {} {unit}", fmt_num(t)),
            Target::Context => "context, no target".to_owned(),
        };
        let verdict = match self.pass() {
            Some(true) => " PASS",
            Some(false) => " FAIL",
            None => "",
        };
        let baseline = self.baseline.map_or_else(
            || "not measured".to_owned(),
            |b| format!("{} {unit}", fmt_num(b)),
        );
        format!(
            "{}: {ours}, baseline {baseline}, ratio {ratio} ({target}){verdict}",
            self.name
        )
    }

    /// Print the summary and write `target/polyarch-bench/<name>.json`.
    ///
    /// Panics when the file cannot be written: a result that is not recorded is a failed run.
    pub fn write(&self) {
        println!("{}", self.summary());
        for line in &self.notes {
            println!("  {line}");
        }
        let timed = self.unit == "s" || self.unit.ends_with("/s");
        if let (true, (Some(load), cpus)) = (timed, super::timing::machine_load())
            && load > cpus as f64
        {
            println!("  (machine busy: load {load:.1} on {cpus} CPUs; wall times are inflated)");
        }
        let dir = super::out_dir();
        let path = dir.join(format!("{}.json", self.name));
        let text = serde_json::to_string_pretty(&self.to_json()).expect("a JSON value serializes");
        std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(&path, text + "\n"))
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }
}

/// Up to four significant digits, without trailing noise on whole numbers.
pub fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else if x.abs() >= 100.0 {
        format!("{x:.1}")
    } else if x.abs() >= 1.0 {
        format!("{x:.3}")
    } else {
        format!("{x:.4}")
    }
}
