//! The link from a primary region to a replica region: the key-encrypting key they share.
//!
//! The first time a key is replicated from this region to another, the two regions set up
//! their link, each step an operation of the service's API on the replica region's
//! [`Service`] (so a region in this process and one served by another payhsm are the same):
//!
//! 1. `GetParametersForImport` there: the replica's KRD certificate (RSA-3072, key transport)
//!    and its region CA's certificate.
//! 2. Trust, explicitly and both ways: that CA certificate is imported here, and this
//!    region's CA certificate there, each with `ImportKey` / `RootCertificatePublicKey`.
//! 3. `GetParametersForExport` here: this region's KDH signing key and certificate.
//! 4. The KEK ([`policy::REPLICATION_KEK`]) is made here as an internal key (no operation by
//!    key id reaches it) and exported by the `ExportKey` machinery as a two-pass TR-34 token
//!    to the replica's KRD certificate, narrowed to `{Decrypt, Unwrap}` and non-exportable.
//! 5. `ImportKey` / `Tr34KeyBlock` there: the replica region checks the KDH certificate against
//!    this region's CA and the signature before its private key runs, and keeps the KEK, whose
//!    KCV must equal this one's.
//!
//! The link (this region's KEK and the replica's copy) is a setting of this region's store;
//! the keys the link made are tagged `payhsm:replication` in both regions. Should the
//! replica's copy stop working (deleted there), the link is dropped and made again.

use payhsm_core::{
    kcv::KcvMethod,
    key::{KeyAttributes, KeyClass, KeyModesOfUse, KeyUsage},
    rng::{OsRandom, RandomSource as _},
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    Error, ExportTr34KeyBlock, KeyBlockHeaders,
    api::{self, Service},
    arn::new_key_id,
    exchange::pki::certificate_text,
    hsm::{Audit, Hsm, NewKey},
    model::{KeyOrigin, KeyRecord, Setting},
    policy::{self, REPLICATION_KEK, REPLICATION_KEK_TRANSPORT},
    store::Store,
};

/// This region's side of a link to a replica region.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Link {
    /// The KEK here (an internal key id).
    pub(crate) kek: String,
    /// The replica region's copy of the KEK (its ARN there).
    pub(crate) replica_kek: String,
}

/// The setting holding the link to `region`.
fn setting_name(region: &str) -> String {
    format!("replication.link.{region}")
}

/// The KEK's attributes here: a K1 AES key that may wrap (its copy only unwraps).
fn kek_attributes() -> KeyAttributes {
    KeyAttributes {
        key_usage: KeyUsage::K1,
        key_class: KeyClass::SymmetricKey,
        key_algorithm: REPLICATION_KEK,
        key_modes_of_use: KeyModesOfUse {
            encrypt: true,
            decrypt: true,
            wrap: true,
            unwrap: true,
            ..KeyModesOfUse::default()
        },
    }
}

/// The `KeyArn` of a `{ "Key": … }` response.
fn arn_in(response: &Value, what: &str) -> Result<String, Error> {
    response["Key"]["KeyArn"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| Error::internal(format!("{what}: the response has no Key.KeyArn")))
}

/// A string member of a response.
fn member<'a>(response: &'a Value, name: &str) -> Result<&'a str, Error> {
    response[name]
        .as_str()
        .ok_or_else(|| Error::internal(format!("the response has no {name}")))
}

impl<S: Store> Hsm<S> {
    /// The link to `replica`'s region, set up if there is none yet.
    pub(crate) fn link(&self, replica: &dyn Service) -> Result<Link, Error> {
        let name = setting_name(replica.region().as_str());
        let stored = self.store().get_setting(&name)?;
        if let Some(link) = self.usable_link(stored.as_ref())? {
            return Ok(link);
        }
        let link = self.exchange(replica)?;
        let setting = Setting {
            name: name.clone(),
            value: serde_json::to_string(&link).map_err(|e| Error::internal(e.to_string()))?,
            revision: stored.map_or(1, |s| s.revision + 1),
        };
        if self.store().put_setting(&setting)? {
            return Ok(link);
        }
        // Another worker linked the regions first: use its link, and drop this KEK (its copy
        // in the replica region stays, tagged, unused).
        self.destroy_kek(&link.kek)?;
        self.usable_link(self.store().get_setting(&name)?.as_ref())?
            .ok_or_else(|| Error::conflict("the region link is changing; retry"))
    }

    /// Drops the link to `region` (its KEK copy there no longer works): the next
    /// replication makes a new one.
    pub(crate) fn forget_link(&self, region: &str) -> Result<(), Error> {
        let name = setting_name(region);
        let Some(stored) = self.store().get_setting(&name)? else {
            return Ok(());
        };
        if let Some(link) = self.usable_link(Some(&stored))? {
            self.destroy_kek(&link.kek)?;
        }
        self.store().put_setting(&Setting {
            name,
            value: "null".to_owned(),
            revision: stored.revision + 1,
        })?;
        Ok(())
    }

    /// The stored link, if there is one and its KEK here is usable.
    fn usable_link(&self, stored: Option<&Setting>) -> Result<Option<Link>, Error> {
        let Some(stored) = stored else {
            return Ok(None);
        };
        let link: Option<Link> = serde_json::from_str(&stored.value)
            .map_err(|_| Error::internal("the stored region link does not parse"))?;
        let Some(link) = link else {
            return Ok(None);
        };
        let usable = self
            .store()
            .get_key(&link.kek)?
            .is_some_and(|k| policy::check_usable(&k).is_ok());
        Ok(usable.then_some(link))
    }

    fn destroy_kek(&self, key_id: &str) -> Result<(), Error> {
        if let Some(kek) = self.store().get_key(key_id)? {
            self.destroy(&kek, self.now())?;
        }
        Ok(())
    }

    /// Sets up a link to `replica` (see the module's steps).
    fn exchange(&self, replica: &dyn Service) -> Result<Link, Error> {
        let (here, there) = (self.region().as_str(), replica.region().as_str());
        let tags = |what: &str| {
            json!([{
                "Key": "payhsm:replication",
                "Value": format!("{what}, for the replication from {here} to {there}"),
            }])
        };
        let ca = |certificate: &str| {
            json!({ "RootCertificatePublicKey": {
                "KeyAttributes": {
                    "KeyUsage": "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE",
                    "KeyClass": "PUBLIC_KEY",
                    "KeyAlgorithm": crate::exchange::pki::CA_ALGORITHM.name(),
                    "KeyModesOfUse": { "Verify": true },
                },
                "PublicKeyCertificate": certificate,
            } })
        };
        let krd = replica.call(
            "GetParametersForImport",
            json!({
                "KeyMaterialType": "TR34_KEY_BLOCK",
                "WrappingKeyAlgorithm": REPLICATION_KEK_TRANSPORT.name(),
            }),
        )?;
        let replica_ca = arn_in(
            &api::dispatch(
                self,
                "ImportKey",
                json!({
                    "KeyMaterial": ca(member(&krd, "WrappingKeyCertificateChain")?),
                    "Tags": tags(&format!("the CA of {there}")),
                }),
            )?,
            "the replica region's CA",
        )?;
        let own_ca = certificate_text(&self.authority()?.certificate)?;
        let primary_ca = arn_in(
            &replica.call(
                "ImportKey",
                json!({
                    "KeyMaterial": ca(&own_ca),
                    "Tags": tags(&format!("the CA of {here}")),
                }),
            )?,
            "this region's CA in the replica region",
        )?;
        let kdh = api::dispatch(
            self,
            "GetParametersForExport",
            json!({
                "KeyMaterialType": "TR34_KEY_BLOCK",
                "SigningKeyAlgorithm": REPLICATION_KEK_TRANSPORT.name(),
            }),
        )?;
        let kek_id = format!(
            "REPLICATIONKEK{}",
            new_key_id(&mut OsRandom)?[..10].to_ascii_uppercase()
        );
        let kek = self.insert_key(
            kek_id,
            NewKey {
                attributes: kek_attributes(),
                exportable: true,
                kcv_method: KcvMethod::Cmac,
                enabled: true,
                tags: std::collections::BTreeMap::new(),
                origin: KeyOrigin::AwsPaymentCryptography,
                multi_region: None,
            },
            None,
        )?;
        let sent = self.send_kek(replica, &kek, &krd, &kdh, primary_ca, replica_ca, &tags);
        if sent.is_err() {
            // The KEK never reached the replica region: nothing may use it.
            self.destroy(&kek, self.now())?;
        }
        Ok(Link {
            kek: kek.key_id,
            replica_kek: sent?,
        })
    }

    /// Steps 4 and 5: the KEK to the replica region in a TR-34 token; its ARN there.
    #[allow(clippy::too_many_arguments)] // The exchange's parts, named.
    fn send_kek(
        &self,
        replica: &dyn Service,
        kek: &KeyRecord,
        krd: &Value,
        kdh: &Value,
        primary_ca: String,
        replica_ca: String,
        tags: &dyn Fn(&str) -> Value,
    ) -> Result<String, Error> {
        let mut nonce = [0u8; 16];
        OsRandom
            .fill(&mut nonce)
            .map_err(|_| Error::internal("the random source failed"))?;
        let nonce = payhsm_core::hex::encode(&nonce);
        let export = ExportTr34KeyBlock {
            certificate_authority_public_key_identifier: replica_ca,
            wrapping_key_certificate: member(krd, "WrappingKeyCertificate")?.to_owned(),
            key_block_format: "X9_TR34_2012".to_owned(),
            export_token: Some(member(kdh, "ExportToken")?.to_owned()),
            signing_key_identifier: None,
            signing_key_certificate: None,
            random_nonce: Some(nonce.clone()),
            key_block_headers: Some(KeyBlockHeaders {
                key_modes_of_use: Some(
                    [("Decrypt".to_owned(), true), ("Unwrap".to_owned(), true)].into(),
                ),
                key_exportability: Some("NON_EXPORTABLE".to_owned()),
                ..KeyBlockHeaders::default()
            }),
        };
        let params = json!({
            "exportKeyIdentifier": self.arn(&kek.key_id)?.to_string(),
            "keyMaterial": "Tr34KeyBlock",
            "replicaRegion": replica.region().as_str(),
        });
        let token = self.run(
            "ExportKey",
            Audit::Service,
            || params,
            || self.export_tr34(kek, &export),
        )?;
        let imported = replica.call(
            "ImportKey",
            json!({
                "KeyMaterial": { "Tr34KeyBlock": {
                    "CertificateAuthorityPublicKeyIdentifier": primary_ca,
                    "SigningKeyCertificate": member(kdh, "SigningKeyCertificate")?,
                    "WrappedKeyBlock": token["WrappedKey"]["KeyMaterial"],
                    "KeyBlockFormat": "X9_TR34_2012",
                    "ImportToken": member(krd, "ImportToken")?,
                    "RandomNonce": nonce,
                } },
                "KeyCheckValueAlgorithm": "CMAC",
                "Tags": tags("the key-encrypting key"),
            }),
        )?;
        if imported["Key"]["KeyCheckValue"].as_str() != Some(kek.key_check_value.as_str()) {
            return Err(Error::internal(
                "the replica region's copy of the key-encrypting key has another KCV",
            ));
        }
        arn_in(
            &imported,
            "the replica region's copy of the key-encrypting key",
        )
    }
}
