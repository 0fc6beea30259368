//! Tests of the IMGAPI test server itself, over raw TCP.

mod auth;
mod binary;
mod channels;
mod faults;
mod publish;
mod reads;
mod util;
