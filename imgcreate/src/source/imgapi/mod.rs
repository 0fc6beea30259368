//! An IMGAPI image server's client side: requests (`client.rs`), HTTP
//! Signature auth (`auth.rs`), checked and retried file downloads
//! (`download.rs`) and publishing an image (`publish.rs`).

pub mod auth;
pub mod client;
pub mod download;
pub mod publish;

pub use client::{Client, ClientError, ClientOptions};
