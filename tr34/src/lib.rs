//! Placeholder until the tr34 crate lands on this branch.
#![no_std]
