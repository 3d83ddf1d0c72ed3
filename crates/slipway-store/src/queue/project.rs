//! One build of a project at a time, on PostgreSQL: the claim statement skips the jobs of projects with a build
//! running, but two claimers that picked two builds of one project in the same instant both passed that test.
//! Locking the project row settles it: the one that locks second sees the first one's build running.

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr, Statement};

/// Locks the project of `build_id` (skipping it when another claimer holds it) and tells whether no other of
/// its builds is running. `false`: step back and claim again.
pub(super) async fn project_is_free(txn: &DatabaseTransaction, build_id: i64) -> Result<bool, DbErr> {
    let backend = txn.get_database_backend();
    // SKIP LOCKED, not a wait: a request for a build holds the project row while it updates queued jobs, and a
    // claim holds its job row; waiting here could deadlock the two.
    let lock = Statement::from_sql_and_values(
        backend,
        "SELECT id FROM projects WHERE id = (SELECT project_id FROM builds WHERE id = $1) FOR UPDATE SKIP LOCKED",
        [build_id.into()],
    );
    if txn.query_one_raw(lock).await?.is_none() {
        return Ok(false);
    }
    // A new statement: it sees every build that was set running before the lock was granted.
    let running = Statement::from_sql_and_values(
        backend,
        "SELECT other.id FROM builds mine JOIN builds other ON other.project_id = mine.project_id \
         WHERE mine.id = $1 AND other.state = 'running' AND other.id <> mine.id LIMIT 1",
        [build_id.into()],
    );
    Ok(txn.query_one_raw(running).await?.is_none())
}
