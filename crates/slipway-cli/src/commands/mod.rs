pub mod db;
pub mod image;
pub mod index;
pub mod logs;
pub mod mirror;
pub mod pipeline;
pub mod run;
pub mod status;
