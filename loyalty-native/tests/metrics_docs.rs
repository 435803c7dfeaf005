//! The Grafana dashboard in docs/ asks only for metrics that exist: each name
//! it uses is in the table of docs/SELF_HOSTING.md, and each name of that
//! table is recorded by the code (`loyalty_core::observe`, the runtime).

use std::collections::BTreeSet;
use std::path::Path;

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

/// The `loyalty_…` metric names in `text`, histogram suffixes removed.
fn names(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in text.match_indices("loyalty_") {
        let name: String =
            text[at..].chars().take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_').collect();
        let name =
            ["_bucket", "_sum", "_count"].iter().fold(name, |n, s| n.strip_suffix(s).map_or(n.clone(), str::to_owned));
        if name.ends_with("_total")
            || name.ends_with("_seconds")
            || name.ends_with("_pending")
            || name.ends_with("_updates")
        {
            found.insert(name);
        }
    }
    found
}

#[test]
fn the_dashboard_uses_documented_metrics_that_the_code_records() {
    let dashboard = read("../docs/grafana-dashboard.json");
    let _: serde_json::Value = serde_json::from_str(&dashboard).expect("the dashboard is JSON");
    let documented = names(&read("../docs/SELF_HOSTING.md"));
    let used = names(&dashboard);
    assert!(used.len() >= 10, "{used:?}");
    for name in &used {
        assert!(documented.contains(name), "{name} is on the dashboard but not in SELF_HOSTING.md");
    }
    let code = read("../loyalty-core/src/observe.rs") + &read("src/tasks.rs");
    for name in &documented {
        assert!(code.contains(&format!("\"{name}\"")), "{name} is documented but nothing records it");
    }
}
