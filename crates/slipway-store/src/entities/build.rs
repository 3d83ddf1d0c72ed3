use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "builds")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub project_id: i64,
    pub number: i64,
    #[sea_orm(column_type = "JsonBinary")]
    pub causes: Json,
    pub state: String,
    pub commit: Option<String>,
    pub commit_subject: Option<String>,
    pub semver_tag: Option<String>,
    pub failed_stage: Option<String>,
    pub error: Option<String>,
    pub digest: Option<String>,
    pub worker: Option<String>,
    pub created_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub notified_at: Option<DateTimeUtc>,
    pub announced_at: Option<DateTimeUtc>,
    /// The image pushed elsewhere this build tests and delivers instead of building one.
    pub source_image: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
