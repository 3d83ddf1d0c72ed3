//! The external base images (`FROM`s outside the index) each project was last built on, with the digest it was
//! built on and the newest digest a rebuild was asked for, so a changed base rebuilds its projects once.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum BaseImages {
    Table,
    ProjectId,
    Image,
    BuiltDigest,
    AskedDigest,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(BaseImages::Table)
                    .col(big_integer(BaseImages::ProjectId))
                    .col(text(BaseImages::Image))
                    .col(text(BaseImages::BuiltDigest))
                    .col(text_null(BaseImages::AskedDigest))
                    .col(timestamp_with_time_zone(BaseImages::UpdatedAt))
                    .primary_key(Index::create().col(BaseImages::ProjectId).col(BaseImages::Image))
                    .foreign_key(
                        ForeignKey::create()
                            .from(BaseImages::Table, BaseImages::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(BaseImages::Table).to_owned()).await
    }
}
