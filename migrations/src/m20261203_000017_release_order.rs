//! One release order per project: the build each project's `rc` and release tags were last moved to (its
//! *heads*, moved only by a compare-and-set on the build number), and the per-repository locks held while tags
//! are written, so the registry sees the moves in the order the store granted them.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ReleaseHeads {
    Table,
    ProjectId,
    Tier,
    BuildId,
    BuildNumber,
    Digest,
    By,
    MovedAt,
}

#[derive(DeriveIden)]
enum RepositoryLocks {
    Table,
    Repository,
    Holder,
    Until,
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
}

/// The heads of an existing database: for each project and tier, the newest build (by number) whose image
/// reached it. `rc` counts the released images too (they passed rc).
const BACKFILL: &str = "
INSERT INTO release_heads (project_id, tier, build_id, build_number, digest, by, moved_at)
SELECT b.project_id, $TIER, b.id, b.number, i.digest, 'the upgrade to release heads', i.updated_at
FROM images i
JOIN builds b ON b.id = i.build_id
WHERE i.qa_state IN ($STATES)
  AND b.number = (
      SELECT MAX(b2.number)
      FROM images i2
      JOIN builds b2 ON b2.id = i2.build_id
      WHERE b2.project_id = b.project_id AND i2.qa_state IN ($STATES)
  )
ON CONFLICT (project_id, tier) DO NOTHING";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ReleaseHeads::Table)
                    .col(big_integer(ReleaseHeads::ProjectId))
                    .col(text(ReleaseHeads::Tier))
                    .col(big_integer(ReleaseHeads::BuildId))
                    .col(big_integer(ReleaseHeads::BuildNumber))
                    .col(text(ReleaseHeads::Digest))
                    .col(text(ReleaseHeads::By))
                    .col(timestamp_with_time_zone(ReleaseHeads::MovedAt))
                    .primary_key(Index::create().col(ReleaseHeads::ProjectId).col(ReleaseHeads::Tier))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ReleaseHeads::Table, ReleaseHeads::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RepositoryLocks::Table)
                    .col(text(RepositoryLocks::Repository).primary_key())
                    .col(text(RepositoryLocks::Holder))
                    .col(timestamp_with_time_zone(RepositoryLocks::Until))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // The claim's "no other build of this project is running" looks here.
        db.execute_unprepared("CREATE INDEX builds_running ON builds (project_id) WHERE state = 'running'").await?;
        for (tier, states) in [("'rc'", "'rc', 'released'"), ("'release'", "'released'")] {
            db.execute_unprepared(&BACKFILL.replace("$TIER", tier).replace("$STATES", states)).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("DROP INDEX builds_running").await?;
        manager.drop_table(Table::drop().table(RepositoryLocks::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(ReleaseHeads::Table).to_owned()).await
    }
}
