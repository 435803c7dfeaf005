//! Runs the storage conformance suite against [`MemoryStore`].

use loyalty_core::MemoryStore;
use loyalty_testkit::conformance::{self, Params};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_passes_the_conformance_suite() {
    let report = conformance::run_all(|| async { Ok(MemoryStore::new()) }, &Params::default()).await;
    assert!(report.results.len() >= 30, "suspiciously few checks: {report}");
    report.assert_success();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_passes_with_high_concurrency() {
    let params = Params::with_concurrency(64);
    conformance::run_matching(|| async { Ok(MemoryStore::new()) }, &params, |name| name.starts_with("concurrent_"))
        .await
        .assert_success();
}

#[tokio::test]
async fn assert_conformance_convenience() {
    conformance::assert_conformance(|| async { Ok(MemoryStore::new()) }).await;
}
