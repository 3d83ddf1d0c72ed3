//! The worker loop: claim a build, run it while renewing the lease, record how it ended, repeat.

use tokio::sync::watch;

use crate::Worker;
use crate::run::BuildRun;
use slipway_store::{BuildOutcome, BuildState, ClaimedJob};

/// Why a worker loop returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerExit {
    /// `stop` was set: the worker finished its build and took no new one.
    Stopped,
    /// `until_idle` was asked and the queue had nothing left to claim or run.
    Idle,
}

/// Runs builds until `stop` turns true or, with `until_idle`, until nothing is queued or running.
pub async fn run_worker(
    worker: Worker,
    mut stop: watch::Receiver<bool>,
    until_idle: bool,
) -> Result<WorkerExit, slipway_store::StoreError> {
    let settings = worker.settings.clone();
    let docker = &worker.docker;
    tracing::info!(worker.name = %settings.name, docker.endpoint = docker.endpoint(), engine = %docker.engine(), "worker started");
    loop {
        if *stop.borrow() {
            return Ok(WorkerExit::Stopped);
        }
        match worker.store.claim(&settings.name, settings.lease).await? {
            Some(job) => run_claimed(&worker, job).await?,
            None => {
                if until_idle {
                    let counts = worker.store.queue_counts().await?;
                    if counts.queued == 0 && counts.running == 0 {
                        return Ok(WorkerExit::Idle);
                    }
                }
                tokio::select! {
                    () = tokio::time::sleep(settings.poll) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }
}

/// Runs one claimed build with its lease renewed; a lost lease abandons the build to its new holder.
async fn run_claimed(worker: &Worker, job: ClaimedJob) -> Result<(), slipway_store::StoreError> {
    let settings = &worker.settings;
    let store = &worker.store;
    let span = tracing::info_span!("build", build.id = job.build_id, job.id = job.job_id, attempt = job.attempt);
    let _entered = span.enter();
    let outcome = async {
        let build = store.build(job.build_id).await?;
        let project = store.project(build.project_id).await?;
        tracing::info!(project.image = %project.image, build.number = build.number, "build claimed");
        let run = match BuildRun::new(worker, build, project, job.attempt) {
            Ok(run) => run,
            Err(failure) => {
                return Ok(Some(BuildOutcome {
                    state: BuildState::Errored,
                    failed_stage: None,
                    error: Some(failure.to_string()),
                }));
            }
        };
        let heartbeat = async {
            let mut ticks = tokio::time::interval(settings.lease / 3);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                match store.heartbeat(job.job_id, &settings.name, settings.lease).await {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(err) => tracing::warn!(error = %err, "heartbeat failed; retrying"),
                }
            }
        };
        tokio::select! {
            outcome = run.execute() => Ok::<_, slipway_store::StoreError>(Some(outcome)),
            () = heartbeat => {
                tracing::warn!("lease lost: another worker holds this build now");
                Ok(None)
            }
        }
    }
    .await?;
    if let Some(outcome) = outcome {
        tracing::info!(state = outcome.state.as_str(), "build finished");
        match store.finish_build(job.job_id, &settings.name, &outcome).await {
            Ok(()) => {}
            Err(slipway_store::StoreError::LeaseLost { .. }) => {
                tracing::warn!("lease lost before the build finished; its new holder records the result");
            }
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

/// The worker loop must be spawnable on a multi-threaded runtime; this fails to compile otherwise.
#[allow(dead_code)]
fn worker_loop_is_send(worker: Worker, stop: watch::Receiver<bool>) {
    fn send<T: Send>(_: T) {}
    send(run_worker(worker, stop, true));
}
