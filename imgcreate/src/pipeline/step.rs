//! A build step: a name, the inputs that determine what it makes, and the
//! work. What a step creates goes through [`Build::create`], which writes
//! it to the journal before it exists; the undo of each kind of thing is
//! the journal's (see `image/undo.rs`), so no step can forget its undo.

use super::{Build, BuildError};

pub trait Step {
    /// The step's name, in logs and in test faults (`panic-in=NAME`).
    fn name(&self) -> &'static str;

    /// What the build's timing report calls it: steps that buildimage ran
    /// as one phase keep that phase's name.
    fn reported_as(&self) -> &'static str {
        self.name()
    }

    /// What determines the result of this step, as `(input, value)` pairs:
    /// the seam for a layer cache's keys. Never outputs or timestamps.
    fn inputs(&self, build: &Build) -> Vec<(&'static str, String)>;

    fn run(&self, build: &mut Build) -> Result<(), BuildError>;
}
