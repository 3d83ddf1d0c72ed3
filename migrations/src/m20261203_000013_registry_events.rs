//! Registry notifications: each event handled once (by its id), and the newest push of each tag, so a
//! duplicate or an event older than one already handled changes nothing. A build may take its image from a
//! push made elsewhere (`source_image`) instead of building it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RegistryEvents {
    Table,
    EventId,
    Repository,
    Tag,
    Digest,
    PushedAt,
    ReceivedAt,
    Outcome,
}

#[derive(DeriveIden)]
enum Builds {
    Table,
    SourceImage,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RegistryEvents::Table)
                    .col(text(RegistryEvents::EventId).primary_key())
                    .col(text(RegistryEvents::Repository))
                    .col(text(RegistryEvents::Tag))
                    .col(text(RegistryEvents::Digest))
                    .col(timestamp_with_time_zone(RegistryEvents::PushedAt))
                    .col(timestamp_with_time_zone(RegistryEvents::ReceivedAt))
                    .col(text(RegistryEvents::Outcome))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("registry_events_by_tag")
                    .table(RegistryEvents::Table)
                    .col(RegistryEvents::Repository)
                    .col(RegistryEvents::Tag)
                    .col(RegistryEvents::PushedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(Table::alter().table(Builds::Table).add_column(text_null(Builds::SourceImage)).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Builds::Table).drop_column(Builds::SourceImage).to_owned()).await?;
        manager.drop_table(Table::drop().table(RegistryEvents::Table).to_owned()).await
    }
}
