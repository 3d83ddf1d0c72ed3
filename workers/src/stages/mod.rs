//! The stage executors, one file each. Each is a method of [`crate::run::BuildRun`] that writes its log
//! lines as they come and returns a [`crate::failure::StageFailure`] that says what to do.

mod checkout;
mod contain;
mod deliver;
mod image;
mod lint;
mod prebuild;
mod report;
mod scan;
mod test;
