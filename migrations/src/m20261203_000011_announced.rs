//! When a build's end and a promotion were sent to the event webhooks. What happened before this migration
//! counts as sent, so turning webhooks on never replays the past.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Builds {
    Table,
    AnnouncedAt,
    FinishedAt,
}

#[derive(DeriveIden)]
enum Promotions {
    Table,
    AnnouncedAt,
    At,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Builds::Table)
                    .add_column(timestamp_with_time_zone_null(Builds::AnnouncedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Promotions::Table)
                    .add_column(timestamp_with_time_zone_null(Promotions::AnnouncedAt))
                    .to_owned(),
            )
            .await?;
        let builds = Query::update()
            .table(Builds::Table)
            .value(Builds::AnnouncedAt, Expr::col(Builds::FinishedAt))
            .and_where(Expr::col(Builds::FinishedAt).is_not_null())
            .to_owned();
        manager.exec_stmt(builds).await?;
        let promotions = Query::update()
            .table(Promotions::Table)
            .value(Promotions::AnnouncedAt, Expr::col(Promotions::At))
            .to_owned();
        manager.exec_stmt(promotions).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Builds::Table).drop_column(Builds::AnnouncedAt).to_owned()).await?;
        manager
            .alter_table(Table::alter().table(Promotions::Table).drop_column(Promotions::AnnouncedAt).to_owned())
            .await
    }
}
