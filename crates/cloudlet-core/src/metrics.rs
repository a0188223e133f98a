//! The one metrics registry: counters, gauges and histograms, rendered in the
//! Prometheus text exposition format (version 0.0.4).
//!
//! Subsystems get a handle once (`registry.counter(...)`) and update it with
//! atomics on their hot paths; the server renders the registry at `/metrics`
//! and the CLI's `stats` commands read the same numbers. The registry knows
//! nothing about HTTP.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Label pairs of one series, e.g. `&[("method", "GET")]`.
pub type Labels<'a> = &'a [(&'a str, &'a str)];

/// A collection of metric families. Cheap to share behind an `Arc`.
#[derive(Debug, Default)]
pub struct Registry {
    families: Mutex<BTreeMap<String, Family>>,
}

#[derive(Debug)]
struct Family {
    help: String,
    kind: Kind,
    /// Series by their rendered label set (`{a="1",b="2"}` or empty).
    series: BTreeMap<String, Series>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

#[derive(Debug, Clone)]
enum Series {
    Counter(Counter),
    Gauge(Gauge),
    Histogram(Histogram),
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    /// The counter `name` with `labels`, created on first use.
    ///
    /// # Panics
    /// If `name` is already registered as another kind of metric: that is a
    /// programming error, not something input can cause.
    pub fn counter(&self, name: &str, help: &str, labels: Labels<'_>) -> Counter {
        let series = self.series(name, help, Kind::Counter, labels, || Series::Counter(Counter::default()));
        match series {
            Series::Counter(counter) => counter,
            _ => unreachable!("kind checked by Registry::series"),
        }
    }

    /// The gauge `name` with `labels`, created on first use.
    ///
    /// # Panics
    /// If `name` is already registered as another kind of metric.
    pub fn gauge(&self, name: &str, help: &str, labels: Labels<'_>) -> Gauge {
        let series = self.series(name, help, Kind::Gauge, labels, || Series::Gauge(Gauge::default()));
        match series {
            Series::Gauge(gauge) => gauge,
            _ => unreachable!("kind checked by Registry::series"),
        }
    }

    /// The histogram `name` with `labels` and the given upper bucket bounds
    /// (ascending; `+Inf` is implied), created on first use. Later calls for
    /// an existing series keep the buckets it was created with.
    ///
    /// # Panics
    /// If `name` is already registered as another kind of metric.
    pub fn histogram(&self, name: &str, help: &str, labels: Labels<'_>, buckets: &[f64]) -> Histogram {
        let series = self.series(name, help, Kind::Histogram, labels, || Series::Histogram(Histogram::new(buckets)));
        match series {
            Series::Histogram(histogram) => histogram,
            _ => unreachable!("kind checked by Registry::series"),
        }
    }

    fn series(&self, name: &str, help: &str, kind: Kind, labels: Labels<'_>, new: impl FnOnce() -> Series) -> Series {
        let mut families = self.lock();
        let family = families.entry(name.to_owned()).or_insert_with(|| Family {
            help: help.to_owned(),
            kind,
            series: BTreeMap::new(),
        });
        assert_eq!(family.kind, kind, "metric `{name}` registered as two kinds");
        family.series.entry(render_labels(labels)).or_insert_with(new).clone()
    }

    /// Every family in the Prometheus text format, sorted by name then labels.
    pub fn render(&self) -> String {
        let families = self.lock();
        let mut out = String::new();
        for (name, family) in families.iter() {
            let _ = writeln!(out, "# HELP {name} {}", escape_help(&family.help));
            let _ = writeln!(out, "# TYPE {name} {}", family.kind.as_str());
            for (labels, series) in &family.series {
                match series {
                    Series::Counter(counter) => {
                        let _ = writeln!(out, "{name}{labels} {}", counter.get());
                    }
                    Series::Gauge(gauge) => {
                        let _ = writeln!(out, "{name}{labels} {}", gauge.get());
                    }
                    Series::Histogram(histogram) => histogram.render(&mut out, name, labels),
                }
            }
        }
        out
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Family>> {
        // Every update under this lock is a single map insert; a panic cannot
        // leave it half-done, so poisoning is ignored.
        self.families.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A monotonically increasing count.
#[derive(Debug, Clone, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    pub fn inc(&self) {
        self.inc_by(1);
    }

    pub fn inc_by(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Debug, Clone, Default)]
pub struct Gauge(Arc<AtomicI64>);

impl Gauge {
    pub fn set(&self, value: i64) {
        self.0.store(value, Ordering::Relaxed);
    }

    pub fn add(&self, delta: i64) {
        self.0.fetch_add(delta, Ordering::Relaxed);
    }

    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Observations counted into cumulative buckets, with their sum.
#[derive(Debug, Clone)]
pub struct Histogram(Arc<HistogramCells>);

#[derive(Debug)]
struct HistogramCells {
    bounds: Vec<f64>,
    /// Non-cumulative count per bucket; the last cell is `+Inf`.
    counts: Vec<AtomicU64>,
    sum_bits: AtomicU64,
}

impl Histogram {
    fn new(bounds: &[f64]) -> Histogram {
        let mut bounds: Vec<f64> = bounds.iter().copied().filter(|b| b.is_finite()).collect();
        bounds.sort_by(f64::total_cmp);
        bounds.dedup();
        let counts = (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect();
        Histogram(Arc::new(HistogramCells { bounds, counts, sum_bits: AtomicU64::new(0f64.to_bits()) }))
    }

    pub fn observe(&self, value: f64) {
        let cells = &self.0;
        let bucket = cells.bounds.partition_point(|bound| *bound < value);
        cells.counts[bucket].fetch_add(1, Ordering::Relaxed);
        let _ = cells
            .sum_bits
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| Some((f64::from_bits(bits) + value).to_bits()));
    }

    /// The number of observations so far.
    pub fn count(&self) -> u64 {
        self.0.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// The sum of all observations so far.
    pub fn sum(&self) -> f64 {
        f64::from_bits(self.0.sum_bits.load(Ordering::Relaxed))
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let cells = &self.0;
        let mut cumulative = 0;
        let bucket_labels = |le: &str| {
            let le = format!("le=\"{le}\"");
            match labels.strip_suffix('}') {
                Some(open) => format!("{open},{le}}}"),
                None => format!("{{{le}}}"),
            }
        };
        for (i, count) in cells.counts.iter().enumerate() {
            cumulative += count.load(Ordering::Relaxed);
            let le = cells.bounds.get(i).map_or_else(|| "+Inf".to_owned(), |b| b.to_string());
            let _ = writeln!(out, "{name}_bucket{} {cumulative}", bucket_labels(&le));
        }
        let _ = writeln!(out, "{name}_sum{labels} {}", self.sum());
        let _ = writeln!(out, "{name}_count{labels} {cumulative}");
    }
}

fn render_labels(labels: Labels<'_>) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let mut sorted = labels.to_vec();
    sorted.sort_unstable();
    let body: Vec<String> =
        sorted.iter().map(|(key, value)| format!("{key}=\"{}\"", escape_label_value(value))).collect();
    format!("{{{}}}", body.join(","))
}

fn escape_label_value(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let registry = Registry::new();
        let ok = registry.counter("http_requests_total", "Requests served.", &[("status", "200"), ("method", "GET")]);
        ok.inc_by(3);
        registry.counter("http_requests_total", "Requests served.", &[("method", "GET"), ("status", "404")]).inc();
        registry.gauge("environments", "Live environments.", &[]).set(-2);
        let latency = registry.histogram("latency_seconds", "Latency.", &[("api", "x\"y")], &[0.5, 0.1]);
        latency.observe(0.05);
        latency.observe(0.1);
        latency.observe(3.0);
        assert_eq!(
            registry.render(),
            r#"# HELP environments Live environments.
# TYPE environments gauge
environments -2
# HELP http_requests_total Requests served.
# TYPE http_requests_total counter
http_requests_total{method="GET",status="200"} 3
http_requests_total{method="GET",status="404"} 1
# HELP latency_seconds Latency.
# TYPE latency_seconds histogram
latency_seconds_bucket{api="x\"y",le="0.1"} 2
latency_seconds_bucket{api="x\"y",le="0.5"} 2
latency_seconds_bucket{api="x\"y",le="+Inf"} 3
latency_seconds_sum{api="x\"y"} 3.15
latency_seconds_count{api="x\"y"} 3
"#
        );
        assert_eq!(latency.count(), 3);
    }

    #[test]
    fn handles_share_one_series() {
        let registry = Registry::new();
        let a = registry.counter("c", "c", &[("k", "v")]);
        let b = registry.counter("c", "c", &[("k", "v")]);
        a.inc();
        b.inc();
        assert_eq!(a.get(), 2);
    }
}
