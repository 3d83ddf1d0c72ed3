use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tag_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub registry: String,
    pub repository: String,
    pub tag: String,
    pub digest: String,
    pub previous_digest: Option<String>,
    pub at: DateTimeUtc,
    pub by: String,
    pub build_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
