//! The control plane's key lifecycle on one region's [`Hsm`](crate::Hsm): keys, their states
//! and usage, aliases and tags. Key exchange (import and export) is in [`crate::exchange`].

pub mod aliases;
pub mod keys;
pub mod tags;

pub use aliases::{AliasInput, AliasNameInput, ListAliasesInput};
pub use keys::{CeremonyKey, CreateKeyInput, DeleteKeyInput, KeyIdentifierInput, ListKeysInput};
pub use tags::{ListTagsInput, TagResourceInput, UntagResourceInput};
