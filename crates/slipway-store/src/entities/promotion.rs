use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "promotions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub build_id: i64,
    pub image_id: i64,
    pub from_tier: String,
    pub to_tier: String,
    pub state: String,
    pub at: DateTimeUtc,
    pub by: String,
    pub error: Option<String>,
    pub announced_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
