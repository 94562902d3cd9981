//! Placeholder until the tr31 crate lands on this branch.
#![no_std]
