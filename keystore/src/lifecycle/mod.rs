//! The control plane's key lifecycle on one region's [`Hsm`](crate::Hsm): keys, their states
//! and usage, aliases, tags and resource-based policies. Key exchange (import and export) is in [`crate::exchange`].

pub mod aliases;
pub mod keys;
mod orphans;
pub mod resource_policy;
pub mod tags;

pub use aliases::{AliasInput, AliasNameInput, ListAliasesInput};
pub use keys::{CeremonyKey, CreateKeyInput, DeleteKeyInput, KeyIdentifierInput, ListKeysInput};
pub use resource_policy::{PutResourcePolicyInput, ResourceArnInput};
pub use tags::{ListTagsInput, TagResourceInput, UntagResourceInput};
