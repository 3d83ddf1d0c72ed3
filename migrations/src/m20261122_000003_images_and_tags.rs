//! Images (a digest in a repository, with its QA state), the history of every tag move, and promotions.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Builds {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Images {
    Table,
    Id,
    ProjectId,
    BuildId,
    Repository,
    Digest,
    QaState,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TagEvents {
    Table,
    Id,
    Registry,
    Repository,
    Tag,
    Digest,
    PreviousDigest,
    At,
    By,
    BuildId,
}

#[derive(DeriveIden)]
enum Promotions {
    Table,
    Id,
    BuildId,
    ImageId,
    FromTier,
    ToTier,
    State,
    At,
    By,
    Error,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Images::Table)
                    .col(big_pk_auto(Images::Id))
                    .col(big_integer(Images::ProjectId))
                    .col(big_integer(Images::BuildId))
                    .col(text(Images::Repository))
                    .col(text(Images::Digest))
                    .col(text(Images::QaState))
                    .col(timestamp_with_time_zone(Images::CreatedAt))
                    .col(timestamp_with_time_zone(Images::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Images::Table, Images::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Images::Table, Images::BuildId)
                            .to(Builds::Table, Builds::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // QA state lives with the digest: one row per digest and repository.
        manager
            .create_index(
                Index::create()
                    .name("images_repository_digest")
                    .table(Images::Table)
                    .col(Images::Repository)
                    .col(Images::Digest)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("images_build").table(Images::Table).col(Images::BuildId).to_owned())
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TagEvents::Table)
                    .col(big_pk_auto(TagEvents::Id))
                    .col(text(TagEvents::Registry))
                    .col(text(TagEvents::Repository))
                    .col(text(TagEvents::Tag))
                    .col(text(TagEvents::Digest))
                    .col(text_null(TagEvents::PreviousDigest))
                    .col(timestamp_with_time_zone(TagEvents::At))
                    .col(text(TagEvents::By))
                    .col(big_integer_null(TagEvents::BuildId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(TagEvents::Table, TagEvents::BuildId)
                            .to(Builds::Table, Builds::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("tag_events_repository_tag")
                    .table(TagEvents::Table)
                    .col(TagEvents::Repository)
                    .col(TagEvents::Tag)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Promotions::Table)
                    .col(big_pk_auto(Promotions::Id))
                    .col(big_integer(Promotions::BuildId))
                    .col(big_integer(Promotions::ImageId))
                    .col(text(Promotions::FromTier))
                    .col(text(Promotions::ToTier))
                    .col(text(Promotions::State))
                    .col(timestamp_with_time_zone(Promotions::At))
                    .col(text(Promotions::By))
                    .col(text_null(Promotions::Error))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Promotions::Table, Promotions::BuildId)
                            .to(Builds::Table, Builds::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Promotions::Table, Promotions::ImageId)
                            .to(Images::Table, Images::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("promotions_build").table(Promotions::Table).col(Promotions::BuildId).to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Promotions::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(TagEvents::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Images::Table).to_owned()).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
