//! The stages of a build and their logs, stored as ordered chunks of whole lines.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Builds {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Stages {
    Table,
    Id,
    BuildId,
    Kind,
    State,
    StartedAt,
    FinishedAt,
    Error,
}

#[derive(DeriveIden)]
enum LogChunks {
    Table,
    Id,
    StageId,
    Seq,
    WrittenAt,
    Text,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Stages::Table)
                    .col(big_pk_auto(Stages::Id))
                    .col(big_integer(Stages::BuildId))
                    .col(text(Stages::Kind))
                    .col(text(Stages::State))
                    .col(timestamp_with_time_zone_null(Stages::StartedAt))
                    .col(timestamp_with_time_zone_null(Stages::FinishedAt))
                    .col(text_null(Stages::Error))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Stages::Table, Stages::BuildId)
                            .to(Builds::Table, Builds::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // A retried build restarts a stage in place: one row per kind and build.
        manager
            .create_index(
                Index::create()
                    .name("stages_build_kind")
                    .table(Stages::Table)
                    .col(Stages::BuildId)
                    .col(Stages::Kind)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LogChunks::Table)
                    .col(big_pk_auto(LogChunks::Id))
                    .col(big_integer(LogChunks::StageId))
                    .col(big_integer(LogChunks::Seq))
                    .col(timestamp_with_time_zone(LogChunks::WrittenAt))
                    .col(text(LogChunks::Text))
                    .foreign_key(
                        ForeignKey::create()
                            .from(LogChunks::Table, LogChunks::StageId)
                            .to(Stages::Table, Stages::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Readers page a log by seq; the unique key also stops two writers taking one seq.
        manager
            .create_index(
                Index::create()
                    .name("log_chunks_stage_seq")
                    .table(LogChunks::Table)
                    .col(LogChunks::StageId)
                    .col(LogChunks::Seq)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(LogChunks::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Stages::Table).to_owned()).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
