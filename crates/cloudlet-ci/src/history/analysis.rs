//! Critical path and exclusive time over a recorded run (pure).
//!
//! The critical path is the chain of jobs that decided when the run
//! ended: from the job that finished last, back through the need that
//! finished last, to a job with no needs (as CI Visibility tools define
//! it, over measured times rather than estimates). A job's exclusive time
//! is the part of its span during which no other job of the run was
//! running: the time the run would save if that job took no time at all.

use std::time::Duration;

use cloudlet_core::Timestamp;

use super::JobRecord;

/// The critical path, as indexes into `jobs`, first job first. Jobs that
/// never ran are not on it.
pub fn critical_path(jobs: &[JobRecord]) -> Vec<usize> {
    let spans: Vec<Option<(Timestamp, Timestamp)>> = jobs.iter().map(JobRecord::span).collect();
    let index = |id: &str| jobs.iter().position(|j| j.job_id.eq_ignore_ascii_case(id));
    let Some(mut at) =
        (0..jobs.len()).filter(|i| spans[*i].is_some()).max_by_key(|i| (spans[*i].map(|s| s.1), usize::MAX - i))
    else {
        return Vec::new();
    };
    let mut path = vec![at];
    loop {
        let next = jobs[at]
            .needs
            .iter()
            .filter_map(|n| index(n))
            .filter(|n| spans[*n].is_some() && !path.contains(n))
            .max_by_key(|n| (spans[*n].map(|s| s.1), usize::MAX - n));
        match next {
            Some(n) => {
                path.push(n);
                at = n;
            }
            None => break,
        }
    }
    path.reverse();
    path
}

/// Each job's exclusive time: its span minus the parts other jobs overlap.
pub fn exclusive_times(jobs: &[JobRecord]) -> Vec<Duration> {
    let spans: Vec<Option<(Timestamp, Timestamp)>> = jobs.iter().map(JobRecord::span).collect();
    spans
        .iter()
        .enumerate()
        .map(|(i, span)| {
            let Some((start, end)) = *span else { return Duration::ZERO };
            // The other jobs' spans clipped to this one, merged.
            let mut others: Vec<(Timestamp, Timestamp)> = spans
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .filter_map(|(_, s)| *s)
                .map(|(s, e)| (s.max(start), e.min(end)))
                .filter(|(s, e)| s < e)
                .collect();
            others.sort();
            let mut covered = Duration::ZERO;
            let mut cursor = start;
            for (s, e) in others {
                let s = s.max(cursor);
                if e > s {
                    covered += e.saturating_duration_since(s);
                    cursor = e;
                }
            }
            end.saturating_duration_since(start).saturating_sub(covered)
        })
        .collect()
}

/// The depth of each job in the `needs` graph (0 for jobs without needs).
pub fn depths(jobs: &[JobRecord]) -> Vec<usize> {
    let index = |id: &str| jobs.iter().position(|j| j.job_id.eq_ignore_ascii_case(id));
    let mut depth = vec![0usize; jobs.len()];
    // Relax as often as there are jobs: enough for any graph without cycles.
    for _ in 0..jobs.len() {
        let mut changed = false;
        for (i, job) in jobs.iter().enumerate() {
            let d = job.needs.iter().filter_map(|n| index(n)).map(|n| depth[n] + 1).max().unwrap_or(0);
            if d != depth[i] && d <= jobs.len() {
                depth[i] = d;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    depth
}

/// The DAG drawn as text: jobs by depth, indented under their needs,
/// `*` marking the critical path, with durations and exclusive times.
pub fn draw(jobs: &[JobRecord]) -> String {
    let path = critical_path(jobs);
    let excl = exclusive_times(jobs);
    let depth = depths(jobs);
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by_key(|i| (depth[*i], *i));
    let label = |i: usize| format!("{}{}", "  ".repeat(depth[i]), jobs[i].job_id);
    let width = order.iter().map(|i| label(*i).chars().count()).max().unwrap_or(3).max(3);
    let mut out = format!("  {:<width$}  {:<9}  {:>9}  {:>9}  NEEDS\n", "JOB", "RESULT", "DURATION", "EXCLUSIVE");
    for i in order {
        let j = &jobs[i];
        let mark = if path.contains(&i) { '*' } else { ' ' };
        let dur = j.span().map(|(s, e)| format!("{:.1}s", e.saturating_duration_since(s).as_secs_f64()));
        let ex = j.span().map(|_| format!("{:.1}s", excl[i].as_secs_f64()));
        let needs = if j.needs.is_empty() { String::new() } else { format!("← {}", j.needs.join(", ")) };
        let line = format!(
            "{mark} {:<width$}  {:<9}  {:>9}  {:>9}  {needs}",
            label(i),
            j.result.as_deref().unwrap_or("-"),
            dur.unwrap_or_else(|| "-".to_owned()),
            ex.unwrap_or_else(|| "-".to_owned()),
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if !path.is_empty() {
        let names: Vec<&str> = path.iter().map(|i| jobs[*i].job_id.as_str()).collect();
        out.push_str(&format!("* critical path: {}\n", names.join(" → ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::LegRecord;

    /// A job that ran from `start` to `end` seconds.
    fn job(id: &str, needs: &[&str], span: Option<(u64, u64)>) -> JobRecord {
        let t = |s: u64| Timestamp::from_unix_secs(1_000 + s);
        JobRecord {
            job_id: id.to_owned(),
            name: id.to_owned(),
            needs: needs.iter().map(|n| (*n).to_owned()).collect(),
            environment: None,
            result: Some(if span.is_some() { "success" } else { "skipped" }.to_owned()),
            legs: vec![LegRecord {
                leg: 0,
                name: id.to_owned(),
                matrix_json: None,
                status: "completed".to_owned(),
                result: Some("success".to_owned()),
                outputs_json: "{}".to_owned(),
                started_at: span.map(|s| t(s.0)),
                finished_at: span.map(|s| t(s.1)),
                steps: Vec::new(),
            }],
        }
    }

    fn secs(d: &[Duration]) -> Vec<u64> {
        d.iter().map(Duration::as_secs).collect()
    }

    #[test]
    fn the_critical_path_follows_the_need_that_finished_last() {
        // setup 0-2; lint 2-5; test 2-12; build needs lint+test 12-20; docs 2-4 (skipped branch)
        let jobs = vec![
            job("setup", &[], Some((0, 2))),
            job("lint", &["setup"], Some((2, 5))),
            job("test", &["setup"], Some((2, 12))),
            job("build", &["lint", "test"], Some((12, 20))),
            job("docs", &["setup"], Some((2, 4))),
            job("never", &["build"], None),
        ];
        let path: Vec<&str> = critical_path(&jobs).into_iter().map(|i| jobs[i].job_id.as_str()).collect();
        assert_eq!(path, ["setup", "test", "build"]);
        assert!(critical_path(&[job("x", &[], None)]).is_empty());
    }

    #[test]
    fn exclusive_time_is_the_part_no_other_job_overlaps() {
        let jobs = vec![
            job("setup", &[], Some((0, 2))),
            job("lint", &["setup"], Some((2, 5))),
            job("test", &["setup"], Some((2, 12))),
            job("build", &["lint", "test"], Some((12, 20))),
            job("docs", &["setup"], Some((3, 4))),
            job("never", &["build"], None),
        ];
        // test: 2-12 overlapped by lint 2-5 (and docs inside it) → 7 s alone.
        assert_eq!(secs(&exclusive_times(&jobs)), [2, 0, 7, 8, 0, 0]);
    }

    #[test]
    fn the_drawing_marks_the_critical_path_and_indents_by_depth() {
        let jobs = vec![
            job("setup", &[], Some((0, 2))),
            job("lint", &["setup"], Some((2, 5))),
            job("test", &["setup"], Some((2, 12))),
            job("build", &["lint", "test"], Some((12, 20))),
        ];
        let text = draw(&jobs);
        let expected = "  JOB        RESULT      DURATION  EXCLUSIVE  NEEDS\n\
                        * setup      success         2.0s       2.0s\n\
                        \x20   lint     success         3.0s       0.0s  ← setup\n\
                        *   test     success        10.0s       7.0s  ← setup\n\
                        *     build  success         8.0s       8.0s  ← lint, test\n\
                        * critical path: setup → test → build\n";
        assert_eq!(text, expected, "\n{text}");
    }
}
