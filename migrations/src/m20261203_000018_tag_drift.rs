//! The last result of the tag check for each tag Slipway records as current: whether the registry serves the
//! digest Slipway recorded (and, for a release tag, the stable digest), so every server and page shows the
//! same drift.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TagDrift {
    Table,
    Repository,
    Tag,
    State,
    Recorded,
    Found,
    Stable,
    Error,
    CheckedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TagDrift::Table)
                    .col(text(TagDrift::Repository))
                    .col(text(TagDrift::Tag))
                    .col(text(TagDrift::State))
                    .col(text(TagDrift::Recorded))
                    .col(text_null(TagDrift::Found))
                    .col(text_null(TagDrift::Stable))
                    .col(text_null(TagDrift::Error))
                    .col(timestamp_with_time_zone(TagDrift::CheckedAt))
                    .primary_key(Index::create().col(TagDrift::Repository).col(TagDrift::Tag))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(TagDrift::Table).to_owned()).await
    }
}
