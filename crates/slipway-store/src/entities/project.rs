use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "projects")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub image: String,
    pub app_id: String,
    pub job_id: String,
    pub desired_tag: String,
    pub git_url: String,
    pub git_branch: String,
    pub git_path: String,
    pub target_file: String,
    pub build_context: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub depends_on: Json,
    pub notify_email: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub entry: Json,
    pub index_file: String,
    pub index_line: i32,
    pub active: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
