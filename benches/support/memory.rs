//! Peak memory, measured in a child process per side so that the two peaks never mix.
//!
//! The bench binary re-executes itself as `<exe> --polyarch-child <mode>`. The child loads its
//! input, resets the kernel's resident-set high-water mark (`echo 5 > /proc/self/clear_refs`,
//! Linux >= 4.0) so that loading the input does not count, does the work, then reads `VmHWM` from
//! `/proc/self/status` and prints one line `POLYARCH_CHILD {json}` that the parent parses.
//! Linux only: elsewhere the measurement is reported as not available.

use std::process::{Command, Stdio};

use serde_json::{Value, json};

const CHILD_FLAG: &str = "--polyarch-child";
const RESULT_PREFIX: &str = "POLYARCH_CHILD ";

/// The mode this process was started with when it is a measuring child.
pub fn child_mode() -> Option<String> {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == CHILD_FLAG {
            return args.next();
        }
    }
    None
}

/// A field of `/proc/self/status` given in kB (`VmHWM`, `VmRSS`), in KiB.
pub fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status
        .lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))?;
    line[field.len() + 1..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Reset the high-water mark to the current resident set size; false when the kernel refused.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Memory of one side's run, in KiB.
#[derive(Clone, Copy, Debug)]
pub struct Peak {
    /// Resident set size just before the work started (the loaded input and the runtime).
    pub before_kib: u64,
    /// Highest resident set size during the work.
    pub peak_kib: u64,
    /// Whether the high-water mark could be reset before the work; if not, `peak_kib` may
    /// include loading the input.
    pub reset: bool,
}

impl Peak {
    /// What the work itself added at its peak, in MiB.
    pub fn added_mib(&self) -> f64 {
        self.peak_kib.saturating_sub(self.before_kib) as f64 / 1024.0
    }

    /// The JSON form used in reports.
    pub fn to_json(self) -> Value {
        json!({
            "before_kib": self.before_kib,
            "peak_kib": self.peak_kib,
            "added_mib": self.added_mib(),
            "hwm_reset": self.reset,
        })
    }
}

/// In the child: measure `work` (which returns `None` when that side is not implemented yet)
/// and print the result line for the parent.
pub fn report_from_child(work: impl FnOnce() -> Option<()>) {
    let reset = reset_peak();
    let before = status_kib("VmRSS");
    let done = work();
    let peak = status_kib("VmHWM");
    let result = match (done, before, peak) {
        (Some(()), Some(before_kib), Some(peak_kib)) => {
            json!({ "measured": true, "before_kib": before_kib, "peak_kib": peak_kib, "reset": reset })
        }
        (Some(()), ..) => json!({ "measured": false, "why": "no /proc/self/status" }),
        (None, ..) => json!({ "measured": false, "why": "not implemented yet" }),
    };
    println!("{RESULT_PREFIX}{result}");
}

/// In the parent: run this executable as a child in `mode` and return its peak, or `None` when
/// the child reported that it measured nothing. Panics when the child fails.
pub fn run_child(mode: &str) -> Option<Peak> {
    let exe = std::env::current_exe().expect("the bench knows its own executable");
    let out = Command::new(exe)
        .args([CHILD_FLAG, mode])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("cannot start the {mode} child: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the {mode} child failed ({}):\n{stdout}",
        out.status
    );
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix(RESULT_PREFIX))
        .unwrap_or_else(|| panic!("the {mode} child printed no result:\n{stdout}"));
    let v: Value = serde_json::from_str(line).expect("the child prints valid JSON");
    if v["measured"] != json!(true) {
        eprintln!("  {mode}: {}", v["why"].as_str().unwrap_or("not measured"));
        return None;
    }
    let kib = |k: &str| v[k].as_u64().expect("the child reports KiB as integers");
    Some(Peak {
        before_kib: kib("before_kib"),
        peak_kib: kib("peak_kib"),
        reset: v["reset"] == json!(true),
    })
}
