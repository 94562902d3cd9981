//! The store directory as an account's regions: each subfolder with a `master-key.json` is a
//! region, opened once when first asked for and shared from then on; regions that other
//! payhsm servers hold (`payhsm serve --region-endpoint`) are added to them. Each region's HSM
//! reaches the others through it, for multi-region keys.

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, Weak},
    time::Instant,
};

use payhsm_keystore::{
    Error,
    api::{Regions, Service},
    arn::{AccountId, Region},
    replication::{Drained, Retry},
};

use super::{Backend, Home};
use crate::error::CliError;

/// The regions of the store in one directory (`<store>/<region>/…`).
pub(crate) struct StoreRegions {
    store: PathBuf,
    backend: Backend,
    account: AccountId,
    open: Mutex<BTreeMap<Region, Arc<dyn Service>>>,
    /// Regions other processes serve, by name.
    remote: BTreeMap<Region, Arc<dyn Service>>,
    /// Itself, for the HSMs it opens.
    me: Weak<Self>,
}

impl StoreRegions {
    /// The regions under `store`, opened on `backend` with ARNs naming `account`.
    pub(crate) fn new(store: &Path, backend: Backend, account: AccountId) -> Arc<Self> {
        Self::with_remote(store, backend, account, Vec::new())
    }

    /// As [`Self::new`], with `remote`'s regions served by other processes instead of the store.
    pub(crate) fn with_remote(
        store: &Path,
        backend: Backend,
        account: AccountId,
        remote: Vec<Arc<dyn Service>>,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me| Self {
            store: store.to_owned(),
            backend,
            account,
            open: Mutex::new(BTreeMap::new()),
            remote: remote
                .into_iter()
                .map(|s| (s.region().clone(), s))
                .collect(),
            me: me.clone(),
        })
    }

    /// Drains the replication outbox of `region` until `deadline`.
    pub(crate) fn drain(&self, region: &str, deadline: Instant) -> Result<Drained, CliError> {
        Ok(self
            .service(region)?
            .drain_replication(&Retry::default(), deadline)?)
    }

    /// The service of the region named `region`, with the CLI's error and hint when it has no
    /// store or does not open.
    pub(crate) fn service(&self, region: &str) -> Result<Arc<dyn Service>, CliError> {
        if let Some(remote) = Region::new(region).ok().and_then(|r| self.remote.get(&r)) {
            return Ok(Arc::clone(remote));
        }
        let home = Home::new(&self.store, region, self.backend.clone())?;
        // Held while opening, so two callers never open one region's database twice.
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(service) = open.get(home.region()) {
            return Ok(Arc::clone(service));
        }
        let me: Weak<dyn Regions> = self.me.clone();
        let service = home
            .with_account(self.account.clone())
            .with_regions(me)
            .open()?
            .into_service();
        open.insert(service.region().clone(), Arc::clone(&service));
        Ok(service)
    }
}

impl Regions for StoreRegions {
    fn names(&self) -> Result<Vec<Region>, Error> {
        let entries = fs::read_dir(&self.store)
            .map_err(|e| Error::internal(format!("cannot read {}: {e}", self.store.display())))?;
        let mut names: Vec<Region> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().join(Home::INFO_FILE).is_file())
            .filter_map(|e| Region::new(e.file_name().to_str()?).ok())
            .chain(self.remote.keys().cloned())
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn open(&self, region: &Region) -> Result<Arc<dyn Service>, Error> {
        if let Some(remote) = self.remote.get(region) {
            return Ok(Arc::clone(remote));
        }
        if !self
            .store
            .join(region.as_str())
            .join(Home::INFO_FILE)
            .is_file()
        {
            return Err(Error::not_found(region.as_str()));
        }
        self.service(region.as_str())
            .map_err(|e| Error::internal(format!("region {region}: {}", e.describe())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> AccountId {
        AccountId::new(AccountId::DEFAULT).unwrap()
    }

    fn init(store: &Path, region: &str) {
        Home::new(store, region, Backend::Software)
            .unwrap()
            .init(true, None)
            .unwrap();
    }

    #[test]
    fn names_are_the_initialised_regions_and_each_opens_once() {
        let dir = tempfile::tempdir().unwrap();
        init(dir.path(), "us-east-1");
        init(dir.path(), "eu-west-2");
        fs::create_dir(dir.path().join("not-a-region")).unwrap();
        fs::create_dir(dir.path().join("us-west-2")).unwrap();
        let regions = StoreRegions::new(dir.path(), Backend::Software, account());
        let names: Vec<String> = regions
            .names()
            .unwrap()
            .iter()
            .map(|r| r.as_str().to_owned())
            .collect();
        assert_eq!(names, ["eu-west-2", "us-east-1"]);

        let east = Region::new("us-east-1").unwrap();
        let a = regions.open(&east).unwrap();
        let b = regions.open(&east).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.region(), &east);
        let key = a
            .call(
                "CreateKey",
                serde_json::json!({
                    "KeyAttributes": {
                        "KeyUsage": "TR31_M3_ISO_9797_3_MAC_KEY", "KeyClass": "SYMMETRIC_KEY",
                        "KeyAlgorithm": "TDES_2KEY",
                        "KeyModesOfUse": { "Generate": true, "Verify": true }
                    },
                    "Exportable": false
                }),
            )
            .unwrap();
        let arn = key["Key"]["KeyArn"].as_str().unwrap();
        assert!(arn.starts_with("arn:aws:payment-cryptography:us-east-1:111122223333:key/"));
    }

    #[test]
    fn a_region_without_a_store_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        init(dir.path(), "us-east-1");
        fs::create_dir(dir.path().join("us-west-2")).unwrap();
        let regions = StoreRegions::new(dir.path(), Backend::Software, account());
        let err = regions
            .open(&Region::new("us-west-2").unwrap())
            .err()
            .unwrap();
        assert_eq!(err.name(), "ResourceNotFoundException");
    }
}
