//! Throw-away SoftHSM2 tokens for tests, benches and development.
//!
//! SoftHSM2 reads its configuration file, named by `SOFTHSM2_CONF`, once, when the module is
//! initialized. The workspace's `.cargo/config.toml` points `SOFTHSM2_CONF` into `target/`;
//! the first [`temporary_token`] of a process writes that file with a token directory of the
//! process's own (removing those of processes that are gone), before the module is loaded,
//! and each call then initializes a fresh token in it.

use std::{
    fs,
    path::{Path, PathBuf},
    sync::{Mutex, OnceLock, PoisonError},
};

use cryptoki::{session::UserType, types::AuthPin};

use super::token::{Pin, SOFTHSM2_MODULE, TokenConfig, TokenSelector, context};
use crate::Error;

/// The security officer PIN of the temporary tokens.
const SO_PIN: &str = "0000";

/// The module to test with: `PAYHSM_PKCS11_MODULE`, else Debian's SoftHSM2 path; `None` when
/// there is no such file (SoftHSM2 is not installed).
pub fn module() -> Option<PathBuf> {
    let path = std::env::var_os("PAYHSM_PKCS11_MODULE")
        .map_or_else(|| PathBuf::from(SOFTHSM2_MODULE), PathBuf::from);
    path.is_file().then_some(path)
}

/// Writes the SoftHSM2 configuration for this process (once): its token directory is
/// `tokens-<pid>` beside the file named by `SOFTHSM2_CONF`.
fn configure() -> Result<(), Error> {
    static DONE: OnceLock<Result<(), Error>> = OnceLock::new();
    DONE.get_or_init(|| {
        let conf = std::env::var_os("SOFTHSM2_CONF")
            .map(PathBuf::from)
            .ok_or_else(|| {
                Error::internal(
                    "SOFTHSM2_CONF is not set; run through cargo, whose .cargo/config.toml sets it",
                )
            })?;
        let dir = conf.parent().unwrap_or(Path::new(".")).to_owned();
        let io = |what: &str, e: std::io::Error| Error::internal(format!("{what}: {e}"));
        fs::create_dir_all(&dir).map_err(|e| io("creating the SoftHSM2 directory", e))?;
        if let Ok(entries) = fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let gone = name
                    .strip_prefix("tokens-")
                    .is_some_and(|pid| !Path::new("/proc").join(pid).exists());
                if gone {
                    let _ = fs::remove_dir_all(entry.path());
                }
            }
        }
        let tokens = dir.join(format!("tokens-{}", std::process::id()));
        fs::create_dir_all(&tokens).map_err(|e| io("creating the token directory", e))?;
        let text = format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n\
             slots.removable = false\n",
            tokens.display()
        );
        fs::write(&conf, text).map_err(|e| io("writing SOFTHSM2_CONF", e))
    })
    .clone()
}

/// Initializes a new token labelled `label` (at most 32 characters) with user PIN `pin` on
/// the module `module`, and returns how to open it. Only for SoftHSM2 test tokens: it writes
/// the module's configuration first (see the module documentation).
pub fn temporary_token(module: &Path, label: &str, pin: &str) -> Result<TokenConfig, Error> {
    configure()?;
    // Free slots are taken one caller at a time.
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    let pkcs11 = context(module)?;
    let failed =
        |what: &str, e: cryptoki::error::Error| Error::internal(format!("SoftHSM2: {what}: {e}"));
    let slot = pkcs11
        .get_all_slots()
        .map_err(|e| failed("listing slots", e))?
        .into_iter()
        .find(|s| {
            pkcs11
                .get_token_info(*s)
                .is_ok_and(|i| !i.token_initialized())
        })
        .ok_or_else(|| Error::internal("SoftHSM2 offers no free slot"))?;
    let so_pin = AuthPin::from(SO_PIN);
    pkcs11
        .init_token(slot, &so_pin, label)
        .map_err(|e| failed("initializing the token", e))?;
    // The initialized token may move to another slot id: find it by label.
    let slot = pkcs11
        .get_slots_with_token()
        .map_err(|e| failed("listing slots", e))?
        .into_iter()
        .find(|s| {
            pkcs11
                .get_token_info(*s)
                .is_ok_and(|i| i.label().trim_end() == label)
        })
        .ok_or_else(|| Error::internal("SoftHSM2 lost the token it initialized"))?;
    let session = pkcs11
        .open_rw_session(slot)
        .map_err(|e| failed("opening a session", e))?;
    session
        .login(UserType::So, Some(&so_pin))
        .map_err(|e| failed("logging in as security officer", e))?;
    session
        .init_pin(&AuthPin::from(pin))
        .map_err(|e| failed("setting the user PIN", e))?;
    session.logout().map_err(|e| failed("logging out", e))?;
    Ok(TokenConfig {
        module: module.to_owned(),
        token: TokenSelector::Label(label.to_owned()),
        pin: Pin::new(pin.to_owned()),
    })
}
