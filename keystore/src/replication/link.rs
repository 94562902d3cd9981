//! The link from a primary region to a replica region: the key-encrypting keys they share.
//!
//! A link holds up to two KEKs, each made the first time a key needs it
//! ([`KekExchange::for_key`]): an AES-128 KEK exchanged with TR-34 for keys of up to 128 bits,
//! and an AES-256 KEK exchanged under an ECDH-derived KBPK for the stronger ones. Each step of
//! an exchange is an operation of the service's API on the replica region's [`Service`] (so a
//! region in this process and one served by another payhsm are the same).
//!
//! TR-34:
//!
//! 1. `GetParametersForImport` there: the replica's KRD certificate (RSA-3072, key transport)
//!    and its region CA's certificate.
//! 2. Trust, explicitly and both ways: that CA certificate is imported here, and this
//!    region's CA certificate there, each with `ImportKey` / `RootCertificatePublicKey`.
//! 3. `GetParametersForExport` here: this region's KDH signing key and certificate.
//! 4. The KEK is made here as an internal key (no operation by key id reaches it) and
//!    exported by the `ExportKey` machinery as a two-pass TR-34 token to the replica's KRD
//!    certificate, narrowed to `{Decrypt, Unwrap}` and non-exportable.
//! 5. `ImportKey` / `Tr34KeyBlock` there: the replica region checks the KDH certificate against
//!    this region's CA and the signature before its private key runs, and keeps the KEK, whose
//!    KCV must equal this one's.
//!
//! ECDH ([`REPLICATION_KEK_AGREEMENT`], P-521):
//!
//! 1. `CreateKey` there: an ECC key pair for key agreement that derives K1 keys, and its
//!    certificate from its region CA (`GetPublicKeyCertificate`, with the CA's certificate).
//! 2. Trust both ways, as for TR-34.
//! 3. The same here: this region's key pair and certificate.
//! 4. The KEK is made here and exported by the `ExportKey` machinery with
//!    `DiffieHellmanTr31KeyBlock`: a TR-31 version D block under the AES-256 KBPK both regions
//!    derive (NIST SP 800-56C one-step KDF, SHA-512, fresh shared information), narrowed as
//!    for TR-34.
//! 5. `ImportKey` / `DiffieHellmanTr31KeyBlock` there: the replica region checks this region's
//!    certificate against its CA before its private key runs, derives the same KBPK, and keeps
//!    the KEK, whose KCV must equal this one's.
//!
//! The link (each KEK here and the replica's copy) is a setting of this region's store; the
//! keys the link made are tagged `payhsm:replication` in both regions. Should the replica's
//! copy of a KEK stop working (deleted there), that KEK is dropped and made again.

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
    exchange::{
        ExportDiffieHellmanTr31KeyBlock,
        ecdh::DerivationData,
        pki::{CA_ALGORITHM, certificate_text},
    },
    hsm::{Audit, Hsm, NewKey},
    model::{KeyOrigin, KeyRecord, Setting},
    policy::{self, KekExchange, REPLICATION_KEK_AGREEMENT, REPLICATION_KEK_TRANSPORT},
    store::Store,
};

/// This region's side of a link to a replica region: its KEKs, each once made.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Link {
    /// The TR-34 KEK (at the top level, as links stored before the ECDH KEK existed have it).
    #[serde(flatten)]
    tr34: Option<Kek>,
    /// The ECDH KEK.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ecdh: Option<Kek>,
}

impl Link {
    fn slot(&mut self, exchange: KekExchange) -> &mut Option<Kek> {
        match exchange {
            KekExchange::Tr34 => &mut self.tr34,
            KekExchange::Ecdh => &mut self.ecdh,
        }
    }
}

/// A KEK of a link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Kek {
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
fn kek_attributes(exchange: KekExchange) -> KeyAttributes {
    KeyAttributes {
        key_usage: KeyUsage::K1,
        key_class: KeyClass::SymmetricKey,
        key_algorithm: exchange.kek(),
        key_modes_of_use: KeyModesOfUse {
            encrypt: true,
            decrypt: true,
            wrap: true,
            unwrap: true,
            ..KeyModesOfUse::default()
        },
    }
}

/// The header narrowing the KEK's copy: it only unwraps, and cannot leave the replica region.
fn kek_copy_headers() -> KeyBlockHeaders {
    KeyBlockHeaders {
        key_modes_of_use: Some([("Decrypt".to_owned(), true), ("Unwrap".to_owned(), true)].into()),
        key_exportability: Some("NON_EXPORTABLE".to_owned()),
        ..KeyBlockHeaders::default()
    }
}

/// `bytes` fresh random bytes, hex.
fn random_hex(bytes: usize) -> Result<String, Error> {
    let mut out = vec![0u8; bytes];
    OsRandom
        .fill(&mut out)
        .map_err(|_| Error::internal("the random source failed"))?;
    Ok(payhsm_core::hex::encode(&out))
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

/// The CAs two regions trust each other by, as each sees the other's.
struct Trust {
    /// The replica region's CA, imported here.
    replica_ca: String,
    /// This region's CA, imported in the replica region.
    primary_ca: String,
}

/// What the replica region is told of a key the link makes there.
type Tags<'a> = &'a dyn Fn(&str) -> Value;

impl<S: Store> Hsm<S> {
    /// The KEK of the link to `replica`'s region that `exchange` makes, made if there is none
    /// yet.
    pub(crate) fn link(&self, replica: &dyn Service, exchange: KekExchange) -> Result<Kek, Error> {
        let name = setting_name(replica.region().as_str());
        let stored = self.store().get_setting(&name)?;
        let mut link = self.usable_link(stored.as_ref())?;
        if let Some(kek) = link.slot(exchange) {
            return Ok(kek.clone());
        }
        let kek = match exchange {
            KekExchange::Tr34 => self.exchange_tr34(replica)?,
            KekExchange::Ecdh => self.exchange_ecdh(replica)?,
        };
        *link.slot(exchange) = Some(kek.clone());
        let setting = Setting {
            name: name.clone(),
            value: serde_json::to_string(&link).map_err(|e| Error::internal(e.to_string()))?,
            revision: stored.map_or(1, |s| s.revision + 1),
        };
        if self.store().put_setting(&setting)? {
            return Ok(kek);
        }
        // Another worker changed the link first: use its KEK, and drop this one (its copy in
        // the replica region stays, tagged, unused).
        self.destroy_kek(&kek.kek)?;
        self.usable_link(self.store().get_setting(&name)?.as_ref())?
            .slot(exchange)
            .clone()
            .ok_or_else(|| Error::conflict("the region link is changing; retry"))
    }

    /// Drops the `exchange` KEK of the link to `region` (its copy there no longer works): the
    /// next replication that needs it makes a new one.
    pub(crate) fn forget_link(&self, region: &str, exchange: KekExchange) -> Result<(), Error> {
        let name = setting_name(region);
        let Some(stored) = self.store().get_setting(&name)? else {
            return Ok(());
        };
        let mut link = self.usable_link(Some(&stored))?;
        if let Some(kek) = link.slot(exchange).take() {
            self.destroy_kek(&kek.kek)?;
        }
        self.store().put_setting(&Setting {
            name,
            value: serde_json::to_string(&link).map_err(|e| Error::internal(e.to_string()))?,
            revision: stored.revision + 1,
        })?;
        Ok(())
    }

    /// The stored link, with only the KEKs that are usable here.
    fn usable_link(&self, stored: Option<&Setting>) -> Result<Link, Error> {
        let Some(stored) = stored else {
            return Ok(Link::default());
        };
        let link: Option<Link> = serde_json::from_str(&stored.value)
            .map_err(|_| Error::internal("the stored region link does not parse"))?;
        let mut link = link.unwrap_or_default();
        for exchange in [KekExchange::Tr34, KekExchange::Ecdh] {
            let slot = link.slot(exchange);
            if let Some(kek) = slot {
                let usable = self
                    .store()
                    .get_key(&kek.kek)?
                    .is_some_and(|k| policy::check_usable(&k).is_ok());
                if !usable {
                    *slot = None;
                }
            }
        }
        Ok(link)
    }

    fn destroy_kek(&self, key_id: &str) -> Result<(), Error> {
        if let Some(kek) = self.store().get_key(key_id)? {
            self.destroy(&kek, self.now())?;
        }
        Ok(())
    }

    /// The TR-34 KEK of a new link to `replica` (see the module's steps).
    fn exchange_tr34(&self, replica: &dyn Service) -> Result<Kek, Error> {
        let tags = self.link_tags(replica);
        let krd = replica.call(
            "GetParametersForImport",
            json!({
                "KeyMaterialType": "TR34_KEY_BLOCK",
                "WrappingKeyAlgorithm": REPLICATION_KEK_TRANSPORT.name(),
            }),
        )?;
        let trust = self.trust(replica, member(&krd, "WrappingKeyCertificateChain")?, &tags)?;
        let kdh = api::dispatch(
            self,
            "GetParametersForExport",
            json!({
                "KeyMaterialType": "TR34_KEY_BLOCK",
                "SigningKeyAlgorithm": REPLICATION_KEK_TRANSPORT.name(),
            }),
        )?;
        let nonce = random_hex(16)?;
        let export = ExportTr34KeyBlock {
            certificate_authority_public_key_identifier: trust.replica_ca,
            wrapping_key_certificate: member(&krd, "WrappingKeyCertificate")?.to_owned(),
            key_block_format: "X9_TR34_2012".to_owned(),
            export_token: Some(member(&kdh, "ExportToken")?.to_owned()),
            signing_key_identifier: None,
            signing_key_certificate: None,
            random_nonce: Some(nonce.clone()),
            key_block_headers: Some(kek_copy_headers()),
        };
        self.send_kek(
            replica,
            KekExchange::Tr34,
            &tags,
            "Tr34KeyBlock",
            |kek| self.export_tr34(kek, &export),
            |token| {
                Ok(json!({
                    "CertificateAuthorityPublicKeyIdentifier": trust.primary_ca,
                    "SigningKeyCertificate": member(&kdh, "SigningKeyCertificate")?,
                    "WrappedKeyBlock": token,
                    "KeyBlockFormat": "X9_TR34_2012",
                    "ImportToken": member(&krd, "ImportToken")?,
                    "RandomNonce": nonce,
                }))
            },
        )
    }

    /// The ECDH KEK of a new link to `replica` (see the module's steps). The replica region
    /// makes its key pair first, so a region that cannot agree keys fails before anything is
    /// made here.
    fn exchange_ecdh(&self, replica: &dyn Service) -> Result<Kek, Error> {
        let tags = self.link_tags(replica);
        let key_pair = json!({
            "KeyAttributes": {
                "KeyUsage": "TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT",
                "KeyClass": "ASYMMETRIC_KEY_PAIR",
                "KeyAlgorithm": REPLICATION_KEK_AGREEMENT.name(),
                "KeyModesOfUse": { "DeriveKey": true },
            },
            "DeriveKeyUsage": "TR31_K1_KEY_BLOCK_PROTECTION_KEY",
            "Exportable": false,
            "Tags": tags("the key agreement key pair"),
        });
        let certified = |region: &dyn Service| -> Result<(String, Value), Error> {
            let pair = arn_in(
                &region.call("CreateKey", key_pair.clone())?,
                "the key agreement key pair",
            )?;
            let certificate =
                region.call("GetPublicKeyCertificate", json!({ "KeyIdentifier": pair }))?;
            Ok((pair, certificate))
        };
        let (replica_pair, replica_certificate) = certified(replica)?;
        let trust = self.trust(
            replica,
            member(&replica_certificate, "KeyCertificateChain")?,
            &tags,
        )?;
        let (own_pair, own_certificate) = certified(self)?;
        let shared_info = random_hex(32)?;
        let export = ExportDiffieHellmanTr31KeyBlock {
            private_key_identifier: own_pair,
            certificate_authority_public_key_identifier: trust.replica_ca,
            public_key_certificate: member(&replica_certificate, "KeyCertificate")?.to_owned(),
            derive_key_algorithm: KekExchange::Ecdh.kek().name().to_owned(),
            key_derivation_function: "NIST_SP800".to_owned(),
            key_derivation_hash_algorithm: "SHA_512".to_owned(),
            derivation_data: DerivationData::SharedInformation(shared_info.clone()),
            key_block_headers: Some(kek_copy_headers()),
        };
        self.send_kek(
            replica,
            KekExchange::Ecdh,
            &tags,
            "DiffieHellmanTr31KeyBlock",
            |kek| self.export_ecdh_tr31(kek, &export),
            |block| {
                Ok(json!({
                    "PrivateKeyIdentifier": replica_pair,
                    "CertificateAuthorityPublicKeyIdentifier": trust.primary_ca,
                    "PublicKeyCertificate": member(&own_certificate, "KeyCertificate")?,
                    "DeriveKeyAlgorithm": export.derive_key_algorithm,
                    "KeyDerivationFunction": export.key_derivation_function,
                    "KeyDerivationHashAlgorithm": export.key_derivation_hash_algorithm,
                    "DerivationData": { "SharedInformation": shared_info },
                    "WrappedKeyBlock": block,
                }))
            },
        )
    }

    /// The tags of the keys a link to `replica` makes, saying what each is for.
    fn link_tags(&self, replica: &dyn Service) -> impl Fn(&str) -> Value {
        let (here, there) = (self.region().clone(), replica.region().clone());
        move |what: &str| {
            json!([{
                "Key": "payhsm:replication",
                "Value": format!("{what}, for the replication from {here} to {there}"),
            }])
        }
    }

    /// Step 2: the replica region's CA (`replica_ca`, PEM text) trusted here, and this
    /// region's there, each with `ImportKey` / `RootCertificatePublicKey`.
    fn trust(
        &self,
        replica: &dyn Service,
        replica_ca: &str,
        tags: Tags<'_>,
    ) -> Result<Trust, Error> {
        let (here, there) = (self.region().as_str(), replica.region().as_str());
        let ca = |certificate: &str, whose: &str| {
            json!({
                "KeyMaterial": { "RootCertificatePublicKey": {
                    "KeyAttributes": {
                        "KeyUsage": "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE",
                        "KeyClass": "PUBLIC_KEY",
                        "KeyAlgorithm": CA_ALGORITHM.name(),
                        "KeyModesOfUse": { "Verify": true },
                    },
                    "PublicKeyCertificate": certificate,
                } },
                "Tags": tags(&format!("the CA of {whose}")),
            })
        };
        let replica_ca = arn_in(
            &api::dispatch(self, "ImportKey", ca(replica_ca, there))?,
            "the replica region's CA",
        )?;
        let own_ca = certificate_text(&self.authority()?.certificate)?;
        let primary_ca = arn_in(
            &replica.call("ImportKey", ca(&own_ca, here))?,
            "this region's CA in the replica region",
        )?;
        Ok(Trust {
            replica_ca,
            primary_ca,
        })
    }

    /// Steps 4 and 5: a new KEK made here, exported by `export` (audited as an `ExportKey`
    /// service event), and imported there as the `material` member of `KeyMaterial`, which
    /// `import` makes of the export's `KeyMaterial`; its copy there must have its KCV. A KEK
    /// that never reached the replica region is destroyed.
    fn send_kek(
        &self,
        replica: &dyn Service,
        exchange: KekExchange,
        tags: Tags<'_>,
        material: &str,
        export: impl FnOnce(&KeyRecord) -> Result<(Value, Vec<String>), Error>,
        import: impl FnOnce(&Value) -> Result<Value, Error>,
    ) -> Result<Kek, Error> {
        let kek_id = format!(
            "REPLICATIONKEK{}",
            new_key_id(&mut OsRandom)?[..10].to_ascii_uppercase()
        );
        let kek = self.insert_key(
            kek_id,
            NewKey {
                attributes: kek_attributes(exchange),
                exportable: true,
                kcv_method: KcvMethod::Cmac,
                enabled: true,
                tags: std::collections::BTreeMap::new(),
                origin: KeyOrigin::AwsPaymentCryptography,
                multi_region: None,
                derive_key_usage: None,
            },
            None,
        )?;
        let params = json!({
            "exportKeyIdentifier": self.arn(&kek.key_id)?.to_string(),
            "keyMaterial": material,
            "replicaRegion": replica.region().as_str(),
        });
        let sent = self
            .run("ExportKey", Audit::Service, || params, || export(&kek))
            .and_then(|exported| {
                replica.call(
                    "ImportKey",
                    json!({
                        "KeyMaterial": {
                            material: import(&exported["WrappedKey"]["KeyMaterial"])?,
                        },
                        "KeyCheckValueAlgorithm": "CMAC",
                        "Tags": tags("the key-encrypting key"),
                    }),
                )
            })
            .and_then(|imported| {
                if imported["Key"]["KeyCheckValue"].as_str() != Some(kek.key_check_value.as_str()) {
                    return Err(Error::internal(
                        "the replica region's copy of the key-encrypting key has another KCV",
                    ));
                }
                arn_in(
                    &imported,
                    "the replica region's copy of the key-encrypting key",
                )
            });
        if sent.is_err() {
            // The KEK never reached the replica region: nothing may use it.
            self.destroy(&kek, self.now())?;
        }
        Ok(Kek {
            kek: kek.key_id,
            replica_kek: sent?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_stored_before_the_ecdh_kek_reads_as_its_tr34_kek() {
        let old: Link =
            serde_json::from_str(r#"{"Kek":"REPLICATIONKEKA","ReplicaKek":"arn:b"}"#).unwrap();
        let tr34 = Kek {
            kek: "REPLICATIONKEKA".to_owned(),
            replica_kek: "arn:b".to_owned(),
        };
        assert_eq!(
            old,
            Link {
                tr34: Some(tr34.clone()),
                ecdh: None
            }
        );
        let both = Link {
            tr34: Some(tr34),
            ecdh: Some(Kek {
                kek: "REPLICATIONKEKB".to_owned(),
                replica_kek: "arn:c".to_owned(),
            }),
        };
        let text = serde_json::to_string(&both).unwrap();
        assert_eq!(serde_json::from_str::<Link>(&text).unwrap(), both);
        let ecdh_only = Link { tr34: None, ..both };
        let text = serde_json::to_string(&ecdh_only).unwrap();
        assert_eq!(serde_json::from_str::<Link>(&text).unwrap(), ecdh_only);
    }
}
