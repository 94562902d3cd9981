//! The control plane's key lifecycle on one region's [`Hsm`](crate::Hsm): keys, their states
//! and usage, aliases, tags, resource-based policies and the multi-party approval of
//! protected operations. Key exchange (import and export) is in [`crate::exchange`].

pub mod aliases;
pub mod keys;
pub mod mpa;
mod orphans;
pub mod resource_policy;
pub mod tags;

pub use aliases::{AliasInput, AliasNameInput, ListAliasesInput};
pub use keys::{CeremonyKey, CreateKeyInput, DeleteKeyInput, KeyIdentifierInput, ListKeysInput};
pub use mpa::{AssociateMpaTeamInput, DisassociateMpaTeamInput, GetMpaTeamAssociationInput};
pub use resource_policy::{PutResourcePolicyInput, ResourceArnInput};
pub use tags::{ListTagsInput, TagResourceInput, UntagResourceInput};
