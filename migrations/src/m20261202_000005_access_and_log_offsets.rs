//! Web access (API tokens and login sessions, both stored as SHA-256 hashes only), and where each log chunk
//! ends in its stage's log (in bytes), so a byte range is found without reading the chunks before it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    Name,
    Hash,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    TokenId,
    Hash,
    Csrf,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Images {
    Table,
    ProjectId,
    QaState,
}

#[derive(DeriveIden)]
enum LogChunks {
    Table,
    EndByte,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApiTokens::Table)
                    .col(big_pk_auto(ApiTokens::Id))
                    .col(text_uniq(ApiTokens::Name))
                    .col(text_uniq(ApiTokens::Hash))
                    .col(timestamp_with_time_zone(ApiTokens::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::LastUsedAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::RevokedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(big_pk_auto(Sessions::Id))
                    .col(big_integer(Sessions::TokenId))
                    .col(text_uniq(Sessions::Hash))
                    .col(text(Sessions::Csrf))
                    .col(timestamp_with_time_zone(Sessions::CreatedAt))
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Sessions::Table, Sessions::TokenId)
                            .to(ApiTokens::Table, ApiTokens::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The dashboard asks for each project's newest image per QA state.
        manager
            .create_index(
                Index::create()
                    .name("images_project_state")
                    .table(Images::Table)
                    .col(Images::ProjectId)
                    .col(Images::QaState)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(LogChunks::Table)
                    .add_column(big_integer(LogChunks::EndByte).default(0))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(LogChunks::Table).drop_column(LogChunks::EndByte).to_owned()).await?;
        manager.drop_index(Index::drop().name("images_project_state").table(Images::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Sessions::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(ApiTokens::Table).to_owned()).await
    }
}
