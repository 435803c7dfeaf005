//! Test kit for backends and applications (feature `testkit`): the storage
//! conformance suite, fakes of every port, and update builders.

pub mod conformance;
pub mod fakes;
mod faults;
pub mod folding;
mod inspect;
pub mod scenario;

pub use fakes::*;
pub use faults::FaultyStore;
pub use inspect::*;
