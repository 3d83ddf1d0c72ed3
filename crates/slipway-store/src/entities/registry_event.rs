use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "registry_events")]
pub struct Model {
    /// The registry's event id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_id: String,
    pub repository: String,
    pub tag: String,
    pub digest: String,
    /// When the registry says the push happened.
    pub pushed_at: DateTimeUtc,
    pub received_at: DateTimeUtc,
    /// What Slipway did about it, in words.
    pub outcome: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
