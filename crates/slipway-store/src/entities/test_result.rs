use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "test_results")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub build_id: i64,
    pub name: String,
    pub result: String,
    pub duration_ms: i64,
    pub output: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
