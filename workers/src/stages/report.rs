//! The test report travels with the image: once the tests ran, their results are attached to the tested
//! digest in the registry as an in-toto statement with the test-result predicate
//! (`https://in-toto.io/attestation/test-result/v0.1`), so `slipway image inspect` and any OCI tool find it
//! through the referrers API or its tag fallback (`sha256-<hex>`), wherever the image is copied with its
//! referrers.

use std::collections::BTreeMap;

use serde_json::json;
use slipway_registry::{Artifact, Reference};
use slipway_store::TestResult;

use crate::failure::{StageFailure, StageResult};
use crate::run::{BuildRun, Log};

/// The in-toto media type (statement, not DSSE-signed).
pub const IN_TOTO: &str = "application/vnd.in-toto+json";
pub const TEST_RESULT_PREDICATE: &str = "https://in-toto.io/attestation/test-result/v0.1";

impl BuildRun<'_> {
    /// Attaches the build's recorded test results to its digest.
    pub(crate) async fn attach_test_report(&self, log: Log<'_>) -> StageResult<()> {
        let repository = self.repository();
        let digest = self.digest()?.to_string();
        let results = self.worker.store.test_results(self.build.id).await?;
        let named = |wanted: TestResult| -> Vec<&str> {
            results.iter().filter(|r| r.result == wanted).map(|r| r.name.as_str()).collect()
        };
        let (passed, failed) = (named(TestResult::Passed), named(TestResult::Failed));
        let hex = digest.strip_prefix("sha256:").unwrap_or(&digest);
        let statement = json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{ "name": repository, "digest": { "sha256": hex } }],
            "predicateType": TEST_RESULT_PREDICATE,
            "predicate": {
                "result": if failed.is_empty() { "PASSED" } else { "FAILED" },
                "configuration": [{
                    "name": format!("{}#{}", self.spec.image, self.build.number),
                    "uri": format!("{}@{}", self.spec.git_url, self.commit.as_deref().unwrap_or("")),
                }],
                "passedTests": passed,
                "warnedTests": [],
                "failedTests": failed,
            },
        });
        let artifact = Artifact {
            artifact_type: IN_TOTO.to_string(),
            media_type: IN_TOTO.to_string(),
            data: serde_json::to_vec(&statement).unwrap_or_default().into(),
            annotations: BTreeMap::from([
                ("org.opencontainers.image.created".to_string(), chrono::Utc::now().to_rfc3339()),
                ("dev.slipway.predicate-type".to_string(), TEST_RESULT_PREDICATE.to_string()),
                ("dev.slipway.build".to_string(), format!("{}#{}", self.spec.image, self.build.number)),
            ]),
        };
        let subject: Reference = format!("{repository}@{digest}")
            .parse()
            .map_err(|e| StageFailure::errored(format!("{repository}@{digest}: {e}")))?;
        let attached = self
            .worker
            .registry
            .attach(&subject, &artifact)
            .await
            .map_err(|e| StageFailure::errored(format!("attaching the test report to {digest}: {e}")))?;
        log.line(format!(
            "[slipway] test report ({} passed, {} failed) attached to {digest} as {attached}",
            passed.len(),
            failed.len()
        ));
        Ok(())
    }
}
