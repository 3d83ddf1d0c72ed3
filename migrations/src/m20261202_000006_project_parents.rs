//! Each project's parents (its `depends-on` images) as rows, so a project's children are one indexed lookup
//! (the project page, and the cascade when a parent is delivered) instead of a scan of every project's JSON.

use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ProjectParents {
    Table,
    ProjectId,
    ParentImage,
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
                    .table(ProjectParents::Table)
                    .col(big_integer(ProjectParents::ProjectId))
                    .col(text(ProjectParents::ParentImage))
                    .primary_key(Index::create().col(ProjectParents::ProjectId).col(ProjectParents::ParentImage))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ProjectParents::Table, ProjectParents::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("project_parents_parent")
                    .table(ProjectParents::Table)
                    .col(ProjectParents::ParentImage)
                    .to_owned(),
            )
            .await?;
        // The projects recorded so far get their rows from their stored lists.
        let backfill = match manager.get_database_backend() {
            DbBackend::Postgres => {
                "INSERT INTO project_parents (project_id, parent_image) \
                 SELECT DISTINCT p.id, parent FROM projects p, jsonb_array_elements_text(p.depends_on) parent"
            }
            _ => {
                "INSERT INTO project_parents (project_id, parent_image) \
                 SELECT DISTINCT p.id, j.value FROM projects p, json_each(p.depends_on) j"
            }
        };
        manager.get_connection().execute_unprepared(backfill).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ProjectParents::Table).to_owned()).await
    }
}
