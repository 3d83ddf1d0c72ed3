//! Jobs by lease end: a claim and the expiry of lost workers look only at the leases that lapsed, instead of
//! reading every running job.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Jobs {
    Table,
    State,
    LeaseUntil,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("jobs_by_lease")
                    .table(Jobs::Table)
                    .col(Jobs::State)
                    .col(Jobs::LeaseUntil)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("jobs_by_lease").table(Jobs::Table).to_owned()).await
    }
}
