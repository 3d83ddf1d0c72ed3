//! When a build's end was handled by the notifier (mailed, or found not worth a mail). Builds that ended
//! before this migration count as handled, so turning mail on never mails the past.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Builds {
    Table,
    NotifiedAt,
    FinishedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Builds::Table)
                    .add_column(timestamp_with_time_zone_null(Builds::NotifiedAt))
                    .to_owned(),
            )
            .await?;
        let backfill = Query::update()
            .table(Builds::Table)
            .value(Builds::NotifiedAt, Expr::col(Builds::FinishedAt))
            .and_where(Expr::col(Builds::FinishedAt).is_not_null())
            .to_owned();
        manager.exec_stmt(backfill).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Builds::Table).drop_column(Builds::NotifiedAt).to_owned()).await
    }
}
