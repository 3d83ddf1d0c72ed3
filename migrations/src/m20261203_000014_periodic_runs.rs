//! When each periodic job (the scheduled retention run) last ran, so it runs once per interval however many
//! servers there are.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PeriodicRuns {
    Table,
    Name,
    LastRunAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PeriodicRuns::Table)
                    .col(text(PeriodicRuns::Name).primary_key())
                    .col(timestamp_with_time_zone(PeriodicRuns::LastRunAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(PeriodicRuns::Table).to_owned()).await
    }
}
