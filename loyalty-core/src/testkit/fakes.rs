//! Fakes of the ports (in progress).
