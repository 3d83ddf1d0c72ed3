//! Projects, their builds, the parents a build waits for, and the job queue.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
    Image,
    AppId,
    JobId,
    DesiredTag,
    GitUrl,
    GitBranch,
    GitPath,
    TargetFile,
    BuildContext,
    DependsOn,
    NotifyEmail,
    Entry,
    IndexFile,
    IndexLine,
    Active,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Builds {
    Table,
    Id,
    ProjectId,
    Number,
    Causes,
    State,
    Commit,
    CommitSubject,
    SemverTag,
    FailedStage,
    Error,
    Digest,
    Worker,
    CreatedAt,
    StartedAt,
    FinishedAt,
}

#[derive(DeriveIden)]
enum BuildParents {
    Table,
    BuildId,
    ParentBuildId,
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    BuildId,
    State,
    Priority,
    Attempts,
    MaxAttempts,
    Worker,
    LeaseUntil,
    LastError,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Projects::Table)
                    .col(big_pk_auto(Projects::Id))
                    .col(text_uniq(Projects::Image))
                    .col(text(Projects::AppId))
                    .col(text(Projects::JobId))
                    .col(text(Projects::DesiredTag))
                    .col(text(Projects::GitUrl))
                    .col(text(Projects::GitBranch))
                    .col(text(Projects::GitPath))
                    .col(text(Projects::TargetFile))
                    .col(text(Projects::BuildContext))
                    .col(json_binary(Projects::DependsOn))
                    .col(text_null(Projects::NotifyEmail))
                    .col(json_binary(Projects::Entry))
                    .col(text(Projects::IndexFile))
                    .col(integer(Projects::IndexLine))
                    .col(boolean(Projects::Active))
                    .col(timestamp_with_time_zone(Projects::CreatedAt))
                    .col(timestamp_with_time_zone(Projects::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Builds::Table)
                    .col(big_pk_auto(Builds::Id))
                    .col(big_integer(Builds::ProjectId))
                    .col(big_integer(Builds::Number))
                    .col(json_binary(Builds::Causes))
                    .col(text(Builds::State))
                    .col(text_null(Builds::Commit))
                    .col(text_null(Builds::CommitSubject))
                    .col(text_null(Builds::SemverTag))
                    .col(text_null(Builds::FailedStage))
                    .col(text_null(Builds::Error))
                    .col(text_null(Builds::Digest))
                    .col(text_null(Builds::Worker))
                    .col(timestamp_with_time_zone(Builds::CreatedAt))
                    .col(timestamp_with_time_zone_null(Builds::StartedAt))
                    .col(timestamp_with_time_zone_null(Builds::FinishedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Builds::Table, Builds::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Numbers count per project; this index also serves "the builds of a project, newest first".
        manager
            .create_index(
                Index::create()
                    .name("builds_project_number")
                    .table(Builds::Table)
                    .col(Builds::ProjectId)
                    .col(Builds::Number)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BuildParents::Table)
                    .col(big_integer(BuildParents::BuildId))
                    .col(big_integer(BuildParents::ParentBuildId))
                    .primary_key(Index::create().col(BuildParents::BuildId).col(BuildParents::ParentBuildId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(BuildParents::Table, BuildParents::BuildId)
                            .to(Builds::Table, Builds::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(BuildParents::Table, BuildParents::ParentBuildId)
                            .to(Builds::Table, Builds::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // A failed build skips its children: they are found by parent.
        manager
            .create_index(
                Index::create()
                    .name("build_parents_parent")
                    .table(BuildParents::Table)
                    .col(BuildParents::ParentBuildId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Jobs::Table)
                    .col(big_pk_auto(Jobs::Id))
                    .col(big_integer_uniq(Jobs::BuildId))
                    .col(text(Jobs::State))
                    .col(integer(Jobs::Priority))
                    .col(integer(Jobs::Attempts))
                    .col(integer(Jobs::MaxAttempts))
                    .col(text_null(Jobs::Worker))
                    .col(timestamp_with_time_zone_null(Jobs::LeaseUntil))
                    .col(text_null(Jobs::LastError))
                    .col(timestamp_with_time_zone(Jobs::CreatedAt))
                    .col(timestamp_with_time_zone(Jobs::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Jobs::Table, Jobs::BuildId)
                            .to(Builds::Table, Builds::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The claim looks at queued and running jobs only, highest priority and oldest first.
        manager
            .create_index(
                Index::create()
                    .name("jobs_claim_order")
                    .table(Jobs::Table)
                    .col(Jobs::State)
                    .col((Jobs::Priority, IndexOrder::Desc))
                    .col(Jobs::CreatedAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Jobs::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(BuildParents::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Builds::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Projects::Table).to_owned()).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
