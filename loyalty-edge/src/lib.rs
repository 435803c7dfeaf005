#![doc = include_str!("../README.md")]

pub use loyalty_core as core;
