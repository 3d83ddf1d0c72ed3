//! When each maintainer address last got its weekly digest, so a digest goes out once a week however many
//! servers run and whenever they restart.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MailDigests {
    Table,
    Address,
    SentAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MailDigests::Table)
                    .col(text(MailDigests::Address).primary_key())
                    .col(timestamp_with_time_zone(MailDigests::SentAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(MailDigests::Table).to_owned()).await
    }
}
