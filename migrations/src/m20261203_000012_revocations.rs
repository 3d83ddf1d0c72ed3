//! Who revoked a digest, when and why: kept on the image, which stays in the store as evidence.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Images {
    Table,
    RevokedBy,
    RevokedReason,
    RevokedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for column in [text_null(Images::RevokedBy), text_null(Images::RevokedReason)] {
            let mut column = column;
            manager.alter_table(Table::alter().table(Images::Table).add_column(&mut column).to_owned()).await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Images::Table)
                    .add_column(timestamp_with_time_zone_null(Images::RevokedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Images::RevokedBy, Images::RevokedReason, Images::RevokedAt] {
            manager.alter_table(Table::alter().table(Images::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
