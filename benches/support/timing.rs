//! Timing helpers for a shared, noisy 2-core machine.
//!
//! Each side measures its own timed region and returns it as a [`Timed`], so that setup (opening a
//! temporary directory, creating the document) and verification stay outside the clock. The two
//! sides run **alternately** (baseline, ours, baseline, ours, ...) so that a burst of load from a
//! neighbour hits both about equally, and the reported figure is the **best** run (the one least
//! disturbed); the median and every sample are kept in the JSON for judging the spread.
//!
//! Beside wall-clock time, each run records the CPU time the whole process used (user + system,
//! all threads, from `/proc/self/stat`, 10 ms resolution). When the machine is busy, wall time
//! swells while CPU time stays close to the truth; a side that waits on fsync shows it as wall
//! time without CPU time. Targets are judged on wall time; CPU time is there to judge the noise.

use std::time::{Duration, Instant};

/// A measured region and what it produced (for checking that the work was really done).
#[derive(Clone, Debug)]
pub struct Timed<T> {
    /// Wall-clock time of the measured region.
    pub elapsed: Duration,
    /// CPU time of the whole process during the region (`None` where `/proc` is missing).
    pub cpu: Option<Duration>,
    /// The result of the work, checked by the caller after the clock stopped.
    pub value: T,
}

/// Time `f` alone.
pub fn time<T>(f: impl FnOnce() -> T) -> Timed<T> {
    let cpu_start = process_cpu();
    let start = Instant::now();
    let value = f();
    let elapsed = start.elapsed();
    let cpu = process_cpu()
        .zip(cpu_start)
        .map(|(end, start)| end.saturating_sub(start));
    Timed {
        elapsed,
        cpu,
        value,
    }
}

impl<T> Timed<T> {
    /// The same measurement with another value (to drop a big result after the clock stopped).
    pub fn with<U>(self, value: U) -> Timed<U> {
        Timed {
            elapsed: self.elapsed,
            cpu: self.cpu,
            value,
        }
    }
}

/// User + system CPU time of this process so far (Linux; `None` elsewhere).
pub fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Skip the command name, which may hold spaces; `rest` starts at field 3 (state), so
    // utime and stime (fields 14 and 15) are its 12th and 13th.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    // USER_HZ is 100 on every Linux architecture Rust targets.
    Some(Duration::from_millis((utime + stime) * 10))
}

/// The 1-minute load average and the number of CPUs, to judge how busy the machine was.
pub fn machine_load() -> (Option<f64>, usize) {
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok());
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    (load, cpus)
}

/// Samples of one side, in seconds.
#[derive(Clone, Debug, Default)]
pub struct Samples {
    /// Wall-clock time of every run, in the order run.
    pub secs: Vec<f64>,
    /// CPU time of every run that had it.
    pub cpu_secs: Vec<f64>,
}

impl Samples {
    /// Record one run.
    pub fn push<T>(&mut self, run: &Timed<T>) {
        self.secs.push(run.elapsed.as_secs_f64());
        self.cpu_secs.extend(run.cpu.map(|c| c.as_secs_f64()));
    }

    /// The fastest run (least disturbed by other load).
    pub fn best(&self) -> f64 {
        self.secs.iter().copied().fold(f64::INFINITY, f64::min)
    }

    /// The median run.
    pub fn median(&self) -> f64 {
        median(&self.secs)
    }

    /// Summary for the JSON report.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "best": self.best(),
            "median": self.median(),
            "runs": self.secs,
            "cpu_median": (!self.cpu_secs.is_empty()).then(|| median(&self.cpu_secs)),
            "cpu_runs": self.cpu_secs,
        })
    }
}

/// A line comparing the median CPU times, for the summary of a timed benchmark.
pub fn cpu_note(baseline: &Samples, ours: Option<&Samples>) -> String {
    let med =
        |s: &Samples| (!s.cpu_secs.is_empty()).then(|| format!("{:.2} s", median(&s.cpu_secs)));
    format!(
        "cpu time (median): baseline {}, ours {}",
        med(baseline).unwrap_or_else(|| "-".into()),
        ours.and_then(med)
            .unwrap_or_else(|| "not measured yet".into())
    )
}

fn median(xs: &[f64]) -> f64 {
    let mut s = xs.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// How many runs to make: `$POLYARCH_BENCH_RUNS` if set, else `quick` in quick mode, else `full`.
pub fn runs(full: usize, quick: usize) -> usize {
    std::env::var("POLYARCH_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(if super::quick() { quick } else { full })
}

/// Run `baseline` and `ours` alternately `runs` times each and collect their samples.
///
/// `check` sees every result (baseline and ours) and must panic when it is wrong. Once `ours`
/// returns `None` (not implemented yet) it is not called again and its samples are `None`.
pub fn alternate<T>(
    runs: usize,
    mut baseline: impl FnMut() -> Timed<T>,
    mut ours: impl FnMut() -> Option<Timed<T>>,
    mut check: impl FnMut(&str, &T),
) -> (Samples, Option<Samples>) {
    let mut base = Samples::default();
    let mut mine = Some(Samples::default());
    for run in 0..runs {
        let b = baseline();
        check("baseline", &b.value);
        base.push(&b);
        if let Some(samples) = mine.as_mut() {
            match ours() {
                Some(o) => {
                    check("ours", &o.value);
                    samples.push(&o);
                }
                None => mine = None,
            }
        }
        eprintln!(
            "  run {}/{runs}: baseline {:.3} s (cpu {:.2} s){}",
            run + 1,
            b.elapsed.as_secs_f64(),
            b.cpu.map_or(f64::NAN, |c| c.as_secs_f64()),
            match &mine {
                Some(s) => format!(", ours {:.3} s", s.secs.last().copied().unwrap_or(f64::NAN)),
                None => ", ours not measured yet".to_owned(),
            }
        );
    }
    (base, mine)
}
