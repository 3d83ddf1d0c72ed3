pub mod image;
pub mod index;
pub mod mirror;
