//! What a build found: test results and findings (lint warnings, scan results).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Builds {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum TestResults {
    Table,
    Id,
    BuildId,
    Name,
    Result,
    DurationMs,
    Output,
}

#[derive(DeriveIden)]
enum Findings {
    Table,
    Id,
    BuildId,
    Stage,
    Severity,
    Code,
    Line,
    Message,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TestResults::Table)
                    .col(big_pk_auto(TestResults::Id))
                    .col(big_integer(TestResults::BuildId))
                    .col(text(TestResults::Name))
                    .col(text(TestResults::Result))
                    .col(big_integer(TestResults::DurationMs))
                    .col(text(TestResults::Output))
                    .foreign_key(
                        ForeignKey::create()
                            .from(TestResults::Table, TestResults::BuildId)
                            .to(Builds::Table, Builds::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("test_results_build")
                    .table(TestResults::Table)
                    .col(TestResults::BuildId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Findings::Table)
                    .col(big_pk_auto(Findings::Id))
                    .col(big_integer(Findings::BuildId))
                    .col(text(Findings::Stage))
                    .col(text(Findings::Severity))
                    .col(text(Findings::Code))
                    .col(integer_null(Findings::Line))
                    .col(text(Findings::Message))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Findings::Table, Findings::BuildId)
                            .to(Builds::Table, Builds::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("findings_build").table(Findings::Table).col(Findings::BuildId).to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Findings::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(TestResults::Table).to_owned()).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
