//! What a build found: test results and findings (lint warnings, scan results).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::NotSet, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::Serialize;

use crate::Store;
use crate::entities::{finding, test_result};
use crate::error::{Context, StoreError, parse_state};
use crate::states::{Severity, StageKind, TestResult};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewTestResult {
    pub build_id: i64,
    pub name: String,
    pub result: TestResult,
    pub duration_ms: i64,
    /// The test's output, already capped by the caller.
    pub output: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestResultRow {
    pub id: i64,
    pub build_id: i64,
    pub name: String,
    pub result: TestResult,
    pub duration_ms: i64,
    pub output: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewFinding {
    pub build_id: i64,
    /// The stage that found it (lint, scan).
    pub stage: StageKind,
    pub severity: Severity,
    /// A stable short code, e.g. `privileged-label`.
    pub code: String,
    /// The line of the file it is about, if any.
    pub line: Option<i32>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub id: i64,
    pub build_id: i64,
    pub stage: StageKind,
    pub severity: Severity,
    pub code: String,
    pub line: Option<i32>,
    pub message: String,
}

impl Store {
    pub async fn record_test_result(&self, r: &NewTestResult) -> Result<(), StoreError> {
        test_result::ActiveModel {
            id: NotSet,
            build_id: Set(r.build_id),
            name: Set(r.name.clone()),
            result: Set(r.result.as_str().to_string()),
            duration_ms: Set(r.duration_ms),
            output: Set(r.output.clone()),
        }
        .insert(&self.db)
        .await
        .context(|| format!("recording test `{}` of build {}", r.name, r.build_id))?;
        Ok(())
    }

    /// The build's test results in the order they were recorded.
    pub async fn test_results(&self, build_id: i64) -> Result<Vec<TestResultRow>, StoreError> {
        let rows = test_result::Entity::find()
            .filter(test_result::Column::BuildId.eq(build_id))
            .order_by_asc(test_result::Column::Id)
            .all(&self.db)
            .await
            .context(|| format!("listing the test results of build {build_id}"))?;
        rows.into_iter()
            .map(|m| {
                Ok(TestResultRow {
                    result: parse_state("test_results", "result", m.id, &m.result)?,
                    id: m.id,
                    build_id: m.build_id,
                    name: m.name,
                    duration_ms: m.duration_ms,
                    output: m.output,
                })
            })
            .collect()
    }

    pub async fn record_finding(&self, f: &NewFinding) -> Result<(), StoreError> {
        finding::ActiveModel {
            id: NotSet,
            build_id: Set(f.build_id),
            stage: Set(f.stage.as_str().to_string()),
            severity: Set(f.severity.as_str().to_string()),
            code: Set(f.code.clone()),
            line: Set(f.line),
            message: Set(f.message.clone()),
        }
        .insert(&self.db)
        .await
        .context(|| format!("recording finding {} of build {}", f.code, f.build_id))?;
        Ok(())
    }

    /// The build's findings in the order they were recorded.
    pub async fn findings(&self, build_id: i64) -> Result<Vec<Finding>, StoreError> {
        let rows = finding::Entity::find()
            .filter(finding::Column::BuildId.eq(build_id))
            .order_by_asc(finding::Column::Id)
            .all(&self.db)
            .await
            .context(|| format!("listing the findings of build {build_id}"))?;
        rows.into_iter()
            .map(|m| {
                Ok(Finding {
                    stage: parse_state("findings", "stage", m.id, &m.stage)?,
                    severity: parse_state("findings", "severity", m.id, &m.severity)?,
                    id: m.id,
                    build_id: m.build_id,
                    code: m.code,
                    line: m.line,
                    message: m.message,
                })
            })
            .collect()
    }
}

/// What a digest's QA state rests on: its build's test results and scan findings, and the last move of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImageEvidence {
    /// The number of the build that recorded the digest.
    pub build: i64,
    /// Test results by outcome (`passed`, `failed`, `errored`, `skipped`).
    pub tests: BTreeMap<String, usize>,
    /// Lint and scan findings by severity (`error`, `warning`, `info`).
    pub findings: BTreeMap<String, usize>,
    /// The tier it was last moved to (`rc`, `release`, `revoked`…), by whom and when.
    pub moved_to: Option<String>,
    pub moved_by: Option<String>,
    pub moved_at: Option<DateTime<Utc>>,
}

impl Store {
    /// The evidence behind `image`'s QA state.
    pub async fn image_evidence(&self, image: &crate::Image) -> Result<ImageEvidence, StoreError> {
        let build = self.build(image.build_id).await?;
        let mut evidence = ImageEvidence { build: build.number, ..ImageEvidence::default() };
        for test in self.test_results(image.build_id).await? {
            *evidence.tests.entry(test.result.as_str().to_string()).or_default() += 1;
        }
        for finding in self.findings(image.build_id).await? {
            *evidence.findings.entry(finding.severity.as_str().to_string()).or_default() += 1;
        }
        let promotions = self.promotions(image.build_id).await?;
        if let Some(last) = promotions.iter().rev().find(|p| p.succeeded && p.image_id == image.id) {
            evidence.moved_to = Some(last.to_tier.clone());
            evidence.moved_by = Some(last.by.clone());
            evidence.moved_at = Some(last.at);
        }
        Ok(evidence)
    }
}
