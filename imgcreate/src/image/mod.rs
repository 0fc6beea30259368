//! Images on this host: the strict manifest model, creating images from
//! datasets, installing image files, imgadm's database, and the journals
//! and undo that let no failure leave anything behind.

pub mod cleanup;
pub mod create;
pub mod db;
pub mod install;
pub mod journal;
pub mod model;
pub mod owner;
pub mod undo;
