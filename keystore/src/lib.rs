//! The payhsm HSM: key lifecycle and policy, the embedded store, the audit log, and operations
//! by key id, with the semantics of AWS Payment Cryptography.
//!
//! - [`Hsm`] holds one region's keys in a [`Store`] and offers the service's control plane
//!   (CreateKey, ImportKey, ExportKey with TR-31, TR-34 and RSA key cryptograms,
//!   GetParametersForImport/Export, GetPublicKeyCertificate, GetCertificateSigningRequest,
//!   GetKey, ListKeys, DeleteKey, RestoreKey, Start/Stop KeyUsage, aliases, tags, resource
//!   policies) and data plane ([`ops`]: card validation data, PIN, MAC, data encryption with
//!   symmetric and RSA keys, EMV), each taking a typed request and (the data plane) returning a
//!   typed response with the service's member names; [`api::dispatch`] calls them by name
//!   with the service's JSON.
//! - [`lifecycle`] has the key lifecycle (create, get, list, delete, restore, usage), aliases
//!   and tags; [`exchange`] has key exchange on top of it (`ImportKey`, `ExportKey` with TR-31
//!   and TR-34, the import and export parameters) and [`exchange::pki`], the asymmetric keys:
//!   RSA key pairs, imported certificates, the region's CA; [`exchange::ecdh`] is key
//!   agreement on the ECC key pairs of [`ecc`].
//! - [`policy`] is the one place that says which keys may exist and which key may do what; it
//!   runs before any cryptography.
//! - [`store`] has the [`Store`] trait, the embedded [`SqliteStore`] (one database per region,
//!   keys as TR-31 version D blocks under the master key) and the [`MemoryStore`].
//! - [`master_key`] forms the region's master key from components or a development key file.
//! - [`audit`] writes the service-shaped audit log; [`selftest`] runs the known answers at start.
//!
//! ```
//! use payhsm_keystore::{Hsm, HsmConfig, MemoryStore, api, arn::Region, master_key::MasterKey};
//! use payhsm_core::rng::OsRandom;
//! use payhsm_keystore::ops::{
//!     CardAttributes, ExpiryOnly, GenerateCardValidationDataInput, VerifyCardValidationDataInput,
//! };
//! use serde_json::json;
//!
//! let store = MemoryStore::new(MasterKey::generate(&mut OsRandom)?);
//! let hsm = Hsm::new(store, HsmConfig::new(Region::new("us-east-1")?));
//! let key = api::dispatch(&hsm, "CreateKey", json!({
//!     "KeyAttributes": {
//!         "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY", "KeyClass": "SYMMETRIC_KEY",
//!         "KeyAlgorithm": "TDES_2KEY", "KeyModesOfUse": { "Generate": true, "Verify": true }
//!     },
//!     "Exportable": true
//! }))?;
//! let cvk = key["Key"]["KeyArn"].as_str().unwrap();
//!
//! // The data plane is typed: the response's members are checked by the compiler.
//! let cvv = hsm.generate_card_validation_data(GenerateCardValidationDataInput {
//!     key_identifier: cvk.to_owned(),
//!     primary_account_number: "4111111111111111".to_owned(),
//!     generation_attributes: CardAttributes::CardVerificationValue2(ExpiryOnly {
//!         card_expiry_date: "1230".to_owned(),
//!     }),
//!     validation_data_length: None,
//! })?;
//! assert_eq!(cvv.validation_data.expose_secret().len(), 3);
//! let checked = hsm.verify_card_validation_data(VerifyCardValidationDataInput {
//!     key_identifier: cvk.to_owned(),
//!     primary_account_number: "4111111111111111".to_owned(),
//!     verification_attributes: CardAttributes::CardVerificationValue2(ExpiryOnly {
//!         card_expiry_date: "1230".to_owned(),
//!     }),
//!     validation_data: cvv.validation_data.expose_secret().to_owned(),
//! })?;
//! assert_eq!(checked.key_arn, cvk);
//! # Ok::<(), payhsm_keystore::Error>(())
//! ```

pub mod api;
pub mod arn;
pub mod audit;
pub mod clock;
pub mod ecc;
mod error;
pub mod exchange;
pub mod files;
mod hsm;
mod key_cache;
pub mod lifecycle;
pub mod master_key;
mod material;
pub mod model;
pub mod ops;
pub mod policy;
pub mod replication;
pub mod selftest;
pub mod store;
pub mod wire;

pub use error::{Error, Rule, ValidationField, VerificationFailedReason};
pub use exchange::csr::{CertificateSubject, GetCertificateSigningRequestInput};
pub use exchange::pki::{RootCertificatePublicKey, TrustedCertificatePublicKey};
pub use exchange::tr34::{
    ExportTr34KeyBlock, GetParametersForExportInput, GetParametersForImportInput,
    ImportTr34KeyBlock, TOKEN_VALIDITY_DAYS,
};
pub use exchange::{
    ExportKeyCryptogram, ExportKeyInput, ExportKeyMaterial, ExportTr31KeyBlock,
    ImportKeyCryptogram, ImportKeyInput, ImportKeyMaterial, ImportTr31KeyBlock, KeyBlockHeaders,
};
pub use hsm::{Hsm, HsmConfig};
pub use lifecycle::{
    AliasInput, AliasNameInput, CeremonyKey, CreateKeyInput, DeleteKeyInput, KeyIdentifierInput,
    ListAliasesInput, ListKeysInput, ListTagsInput, PutResourcePolicyInput, ResourceArnInput,
    TagResourceInput, UntagResourceInput,
};
pub use store::{MemoryStore, SqliteStore, Store};
