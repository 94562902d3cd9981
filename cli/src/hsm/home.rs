//! The store directory: one folder per region holding the key database, the audit log and
//! what the master key is made from.
//!
//! ```text
//! <store>/<region>/keys.db            the keys (TR-31 D blocks under the master key)
//! <store>/<region>/audit.jsonl        the audit log
//! <store>/<region>/master-key.json    how the master key is formed, and its KCV
//! <store>/<region>/master.key         the development master key (0600), if it is one
//! ```
//!
//! With `--backend pkcs11` the keys are objects in a PKCS#11 token and `keys.db` holds their
//! records (metadata and object references); `master-key.json` then names the token instead
//! of a master key, and the database refuses to open on another token.

use std::{
    fs,
    io::{IsTerminal as _, Write as _},
    path::{Path, PathBuf},
    sync::{Arc, Weak},
};

use payhsm_core::rng::OsRandom;
use payhsm_keystore::{
    CeremonyKey, Hsm, HsmConfig, SqliteStore, api,
    arn::{AccountId, Region},
    audit::AuditLog,
    master_key::{
        DEV_KEY_WARNING, MASTER_KEY_LEN, MasterKey, component_check_value, read_dev_key_file,
        write_dev_key_file,
    },
    store::pkcs11::{Pin, Pkcs11Store, TokenConfig, TokenSelector},
};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::custodians::{Evidence, read_key_components};
use crate::error::CliError;

/// Where the keys live (`--backend`).
#[derive(Clone, Debug)]
pub(crate) enum Backend {
    /// TR-31 blocks under the master key in the store's database.
    Software,
    /// Objects in a PKCS#11 token; their records in the store's database.
    Pkcs11 {
        /// The module (`--pkcs11-module`).
        module: PathBuf,
        /// The token (`--token-label` or `--slot`).
        token: TokenSelector,
    },
}

impl Backend {
    /// The backend the global options name.
    pub(crate) fn from_matches(m: &clap::ArgMatches) -> Result<Self, CliError> {
        match m.get_one::<String>("backend").map(String::as_str) {
            None | Some("software") => Ok(Self::Software),
            Some(_) => {
                let module = m
                    .get_one::<PathBuf>("pkcs11_module")
                    .cloned()
                    .unwrap_or_default();
                let token = match (m.get_one::<String>("token_label"), m.get_one::<u64>("slot")) {
                    (Some(label), _) => TokenSelector::Label(label.clone()),
                    (None, Some(slot)) => TokenSelector::Slot(*slot),
                    (None, None) => {
                        return Err(CliError::usage(
                            "--backend pkcs11 needs the token: give --token-label or --slot",
                            Some(
                                "List the tokens with `softhsm2-util --show-slots` or `pkcs11-tool -L`.",
                            ),
                        ));
                    }
                };
                Ok(Self::Pkcs11 { module, token })
            }
        }
    }

    /// How to reach the token, with the user PIN from `PAYHSM_PKCS11_PIN` or, on a terminal,
    /// a prompt.
    fn token_config(module: &Path, token: &TokenSelector) -> Result<TokenConfig, CliError> {
        let pin = match std::env::var("PAYHSM_PKCS11_PIN") {
            Ok(pin) => Zeroizing::new(pin),
            Err(_) if std::io::stdin().is_terminal() => Zeroizing::new(
                rpassword::prompt_password("PKCS#11 user PIN: ").map_err(|e| {
                    CliError::failed(format!("cannot read from the terminal: {e}"), None)
                })?,
            ),
            Err(_) => {
                return Err(CliError::usage(
                    "the token's user PIN is needed",
                    Some("Set PAYHSM_PKCS11_PIN, or run from a terminal to be asked for it."),
                ));
            }
        };
        Ok(TokenConfig {
            module: module.to_owned(),
            token: token.clone(),
            pin: Pin::new(pin.trim().to_owned()),
        })
    }
}

/// An open HSM on either backend.
pub(crate) enum OpenHsm {
    /// Keys under the master key.
    Software(Box<Hsm<SqliteStore>>),
    /// Keys in a token.
    Pkcs11(Box<Hsm<Pkcs11Store>>),
}

impl OpenHsm {
    /// The region's service, to share.
    pub(crate) fn into_service(self) -> Arc<dyn api::Service> {
        match self {
            Self::Software(h) => Arc::new(*h),
            Self::Pkcs11(h) => Arc::new(*h),
        }
    }

    /// Imports a key formed in a key ceremony.
    pub(crate) fn import_clear_key(
        &self,
        key: CeremonyKey,
    ) -> Result<Value, payhsm_keystore::Error> {
        match self {
            Self::Software(h) => h
                .import_clear_key(key)
                .and_then(payhsm_keystore::api::response),
            Self::Pkcs11(h) => h
                .import_clear_key(key)
                .and_then(payhsm_keystore::api::response),
        }
    }

    /// Runs a `payhsm mpa` command.
    pub(crate) fn mpa(&self, cmd: &super::mpa::MpaCmd) -> Result<Value, payhsm_keystore::Error> {
        match self {
            Self::Software(h) => super::mpa::run(h, cmd),
            Self::Pkcs11(h) => super::mpa::run(h, cmd),
        }
    }
}

/// Where one region's store lives.
pub(crate) struct Home {
    dir: PathBuf,
    region: Region,
    account: Option<AccountId>,
    regions: Option<Weak<dyn api::Regions>>,
    backend: Backend,
}

const DEV: &str = "DEVELOPMENT_KEY_FILE";
const COMPONENTS: &str = "COMPONENTS";
const TOKEN: &str = "PKCS11_TOKEN";

impl Home {
    pub(crate) fn new(store: &Path, region: &str, backend: Backend) -> Result<Self, CliError> {
        let region = Region::new(region).map_err(|_| {
            CliError::usage(
                format!("--region {region} is not a region name"),
                Some("Give a region such as us-east-1."),
            )
        })?;
        Ok(Self {
            dir: store.join(region.as_str()),
            region,
            account: None,
            regions: None,
            backend,
        })
    }

    /// The file whose presence makes a folder of the store a region.
    pub(crate) const INFO_FILE: &str = "master-key.json";

    /// The region.
    pub(crate) fn region(&self) -> &Region {
        &self.region
    }

    /// ARNs name `account` instead of the default one.
    pub(crate) fn with_account(mut self, account: AccountId) -> Self {
        self.account = Some(account);
        self
    }

    /// The HSM reaches the account's other regions through `regions` (multi-region keys).
    pub(crate) fn with_regions(mut self, regions: Weak<dyn api::Regions>) -> Self {
        self.regions = Some(regions);
        self
    }

    fn db(&self) -> PathBuf {
        self.dir.join("keys.db")
    }

    fn info_path(&self) -> PathBuf {
        self.dir.join(Self::INFO_FILE)
    }

    fn audit_path(&self) -> PathBuf {
        self.dir.join("audit.jsonl")
    }

    /// `payhsm audit verify`: the audit log's hash chain, checked.
    pub(crate) fn verify_audit(&self) -> Result<Value, CliError> {
        let path = self.audit_path();
        let text = fs::read(&path)
            .map_err(|e| CliError::failed(format!("cannot read {}: {e}", path.display()), None))?;
        match payhsm_keystore::audit::verify(&text) {
            Ok(v) => Ok(serde_json::json!({
                "AuditLog": path.display().to_string(),
                "Lines": v.lines,
                "LastHash": v.last_hash,
            })),
            Err(broken) => Err(CliError::mismatch(
                format!("{} line {}: {}", path.display(), broken.line, broken.reason),
                Some(
                    "Keep the file as evidence; compare it with your copies and the hashes you recorded.",
                ),
            )),
        }
    }

    fn dev_key(&self) -> PathBuf {
        self.dir.join("master.key")
    }

    /// `payhsm init`: a new store whose master key comes from a development key file or from
    /// `components` components.
    pub(crate) fn init(&self, dev: bool, components: Option<usize>) -> Result<Value, CliError> {
        if self.db().exists() {
            return Err(CliError::failed(
                format!(
                    "a store for {} already exists in {}",
                    self.region,
                    self.dir.display()
                ),
                Some("Use another --store or --region, or keep using this one."),
            ));
        }
        fs::create_dir_all(&self.dir).map_err(|e| {
            CliError::failed(format!("cannot create {}: {e}", self.dir.display()), None)
        })?;
        if let Backend::Pkcs11 { module, token } = &self.backend {
            if dev || components.is_some() {
                return Err(CliError::usage(
                    "a PKCS#11 store has no master key: the token holds the keys",
                    Some("Drop --dev-master-key and --components with --backend pkcs11."),
                ));
            }
            let store =
                Pkcs11Store::create_for_token(&self.db(), Backend::token_config(module, token)?)?;
            let binding = payhsm_keystore::Store::key_binding(&store).to_owned();
            let info = json!({ "Source": TOKEN, "Token": binding });
            self.write_info(&info)?;
            return Ok(json!({
                "Store": self.dir.display().to_string(),
                "Region": self.region.as_str(),
                "Backend": "pkcs11",
                "Token": binding,
            }));
        }
        let (master, source, count) = match (dev, components) {
            (true, None) => {
                let k = write_dev_key_file(&self.dev_key(), &mut OsRandom)?;
                eprintln!("{DEV_KEY_WARNING}");
                (k, DEV, 0)
            }
            (false, Some(n)) => (read_components(self, n)?, COMPONENTS, n),
            _ => {
                return Err(CliError::usage(
                    "give either --dev-master-key or --components N",
                    Some("Use --components N for a master key formed in a key ceremony."),
                ));
            }
        };
        let kcv = master.check_value().to_owned();
        SqliteStore::create(&self.db(), master)?;
        let info = json!({ "Source": source, "Components": count, "KeyCheckValue": kcv });
        self.write_info(&info)?;
        Ok(json!({
            "Store": self.dir.display().to_string(),
            "Region": self.region.as_str(),
            "MasterKeySource": source,
            "MasterKeyCheckValue": kcv,
        }))
    }

    fn write_info(&self, info: &Value) -> Result<(), CliError> {
        fs::write(self.info_path(), format!("{info:#}\n")).map_err(|e| {
            CliError::failed(
                format!("cannot write {}: {e}", self.info_path().display()),
                None,
            )
        })
    }

    /// Opens the region's HSM: on the token for a PKCS#11 store, else forming the master key
    /// as the store was made.
    pub(crate) fn open(&self) -> Result<OpenHsm, CliError> {
        let text = fs::read_to_string(self.info_path()).map_err(|_| {
            CliError::failed(
                format!("no store for {} in {}", self.region, self.dir.display()),
                Some("Create one with `payhsm init --dev-master-key` (development) or `payhsm init --components N`, or point --store / PAYHSM_HOME at an existing one."),
            )
        })?;
        let info: Value = serde_json::from_str(&text)
            .map_err(|e| CliError::failed(format!("{}: {e}", self.info_path().display()), None))?;
        let source = info["Source"].as_str();
        match (&self.backend, source) {
            (Backend::Pkcs11 { module, token }, Some(TOKEN)) => {
                let store =
                    Pkcs11Store::open_on_token(&self.db(), Backend::token_config(module, token)?)?;
                return Ok(OpenHsm::Pkcs11(Box::new(self.hsm(store)?)));
            }
            (Backend::Software, Some(TOKEN)) => {
                return Err(CliError::usage(
                    format!(
                        "the store for {} keeps its keys in a PKCS#11 token ({})",
                        self.region, info["Token"]
                    ),
                    Some("Give --backend pkcs11 with --pkcs11-module and --token-label or --slot."),
                ));
            }
            (Backend::Pkcs11 { .. }, _) => {
                return Err(CliError::usage(
                    format!(
                        "the store for {} keeps its keys under a master key, not in a token",
                        self.region
                    ),
                    Some(
                        "Drop --backend pkcs11, or make a token store with `payhsm --backend pkcs11 … init` in another --store.",
                    ),
                ));
            }
            (Backend::Software, _) => {}
        }
        let master = match source {
            Some(DEV) => {
                eprintln!("{DEV_KEY_WARNING}");
                read_dev_key_file(&self.dev_key())?
            }
            Some(COMPONENTS) => {
                let n = info["Components"]
                    .as_u64()
                    .and_then(|n| usize::try_from(n).ok());
                read_components(self, n.unwrap_or(2))?
            }
            _ => {
                return Err(CliError::failed(
                    format!(
                        "{} does not say how the master key is formed",
                        self.info_path().display()
                    ),
                    None,
                ));
            }
        };
        let store = SqliteStore::open(&self.db(), master)?;
        Ok(OpenHsm::Software(Box::new(self.hsm(store)?)))
    }

    /// The region's audit log.
    pub(crate) fn audit_log(&self) -> Result<AuditLog, CliError> {
        Ok(AuditLog::file(&self.audit_path())?)
    }

    /// Where a ceremony forming `purpose` (`MasterKey`, `ImportKey`) records its custodians.
    pub(crate) fn evidence<'a>(&'a self, log: &'a AuditLog, purpose: &'a str) -> Evidence<'a> {
        Evidence {
            log,
            region: self.region.as_str(),
            account: self
                .account
                .as_ref()
                .map_or(AccountId::DEFAULT, AccountId::as_str),
            purpose,
        }
    }

    /// The region's HSM over `store`, with its audit log, after the self-tests.
    fn hsm<S: payhsm_keystore::Store>(&self, store: S) -> Result<Hsm<S>, CliError> {
        let mut config = HsmConfig::new(self.region.clone());
        if let Some(account) = &self.account {
            config.account = account.clone();
        }
        config.regions.clone_from(&self.regions);
        config.audit = self.audit_log()?;
        let hsm = Hsm::new(store, config);
        hsm.self_test_result()?;
        Ok(hsm)
    }
}

/// The master key from `n` components (64 hex digits each), entered by their custodians.
fn read_components(home: &Home, n: usize) -> Result<MasterKey, CliError> {
    let log = home.audit_log()?;
    let evidence = home.evidence(&log, "MasterKey");
    let components =
        read_key_components(n, "Master key component", MASTER_KEY_LEN, &evidence, |m| {
            Ok(component_check_value(m)?)
        })?;
    Ok(MasterKey::from_components(&components)?)
}

/// One line: from a terminal after `prompt`, without echo if `secret`; otherwise from
/// standard input (a tool's pipe), with no prompt.
pub(crate) fn read_line(prompt: &str, secret: bool) -> Result<Zeroizing<String>, CliError> {
    let tty = std::io::stdin().is_terminal();
    let text =
        if tty && secret {
            Zeroizing::new(rpassword::prompt_password(prompt).map_err(|e| {
                CliError::failed(format!("cannot read from the terminal: {e}"), None)
            })?)
        } else {
            // Prompts are for people; a tool piping the lines gets none.
            if tty {
                eprint!("{prompt}");
                let _ = std::io::stderr().flush();
            }
            let mut buf = Zeroizing::new(String::new());
            std::io::stdin()
                .read_line(&mut buf)
                .map_err(|e| CliError::failed(format!("cannot read standard input: {e}"), None))?;
            buf
        };
    Ok(Zeroizing::new(text.trim().to_owned()))
}
