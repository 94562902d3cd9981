//! One token: the loaded module, the slot, the user PIN, and a pool of logged-in sessions.

use std::{
    collections::HashMap,
    fmt,
    path::{Path, PathBuf},
    sync::{
        Mutex, MutexGuard, OnceLock, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
};

use cryptoki::{
    context::{CInitializeArgs, CInitializeFlags, Pkcs11},
    error::{Error as CkError, RvError},
    session::{Session, SessionState, UserType},
    slot::Slot,
    types::AuthPin,
};
use payhsm_core::BackendFailure;

use crate::Error;

/// The user PIN of a token. Zeroized on drop; `Debug` prints no digit.
pub struct Pin(AuthPin);

impl Pin {
    /// A PIN from its text.
    pub fn new(pin: String) -> Self {
        Self(AuthPin::from(pin))
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin([REDACTED])")
    }
}

/// Which token of a module to use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenSelector {
    /// The token whose label is this (trailing blanks ignored).
    Label(String),
    /// The token in the slot with this id.
    Slot(u64),
}

/// How to reach a token: the PKCS#11 module, the token, and the user PIN.
#[derive(Debug)]
pub struct TokenConfig {
    /// The module's path (`/usr/lib/softhsm/libsofthsm2.so` for Debian's SoftHSM2).
    pub module: PathBuf,
    /// Which token.
    pub token: TokenSelector,
    /// The user PIN.
    pub pin: Pin,
}

/// The path of Debian's SoftHSM2 module.
pub const SOFTHSM2_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// How many idle sessions the pool keeps open.
const MAX_IDLE_SESSIONS: usize = 16;

/// A failed token call: how it failed, and what was being done.
#[derive(Debug)]
pub(crate) struct TokenError {
    pub(crate) failure: BackendFailure,
    pub(crate) detail: String,
}

impl From<TokenError> for Error {
    fn from(e: TokenError) -> Self {
        Self::Token {
            failure: e.failure,
            message: format!("{}: {}", e.failure.describe(), e.detail),
        }
    }
}

impl From<TokenError> for payhsm_core::Error {
    fn from(e: TokenError) -> Self {
        Self::Backend(e.failure)
    }
}

/// What a token's return value means for the caller and for the session that got it.
fn classify(rv: RvError) -> BackendFailure {
    match rv {
        RvError::TokenNotPresent
        | RvError::DeviceRemoved
        | RvError::TokenNotRecognized
        | RvError::SlotIdInvalid => BackendFailure::TokenRemoved,
        RvError::UserNotLoggedIn => BackendFailure::LoginLost,
        RvError::SessionHandleInvalid | RvError::SessionClosed | RvError::SessionCount => {
            BackendFailure::SessionLost
        }
        RvError::DeviceError | RvError::DeviceMemory | RvError::GeneralError => {
            BackendFailure::DeviceError
        }
        _ => BackendFailure::Failed,
    }
}

/// The module contexts of this process, one per module path. PKCS#11 allows one
/// `C_Initialize` per module and process, so every token of a module shares it, and it stays
/// initialized for the life of the process.
pub(crate) fn context(module: &Path) -> Result<Pkcs11, TokenError> {
    static CONTEXTS: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let mut contexts = CONTEXTS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(p) = contexts.get(module) {
        return Ok(p.clone());
    }
    let failed = |what: &str, e: CkError| TokenError {
        failure: BackendFailure::Failed,
        detail: format!("{what} {}: {e}", module.display()),
    };
    let p = Pkcs11::new(module).map_err(|e| failed("cannot load the PKCS#11 module", e))?;
    match p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(failed("cannot initialize the PKCS#11 module", e)),
    }
    contexts.insert(module.to_owned(), p.clone());
    Ok(p)
}

/// A token and a pool of sessions on it, logged in as the user. Safe to share between
/// threads: each call takes a session of its own from the pool.
pub struct Token {
    pkcs11: Pkcs11,
    slot: Slot,
    label: String,
    serial: String,
    pin: Pin,
    idle: Mutex<Vec<Session>>,
    epoch: AtomicU64,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("label", &self.label)
            .field("serial", &self.serial)
            .field("slot", &self.slot.id())
            .finish_non_exhaustive()
    }
}

impl Token {
    /// Loads the module, finds the token and logs in. A wrong PIN, a missing token or an
    /// uninitialized one is an error naming what to fix.
    pub fn open(config: TokenConfig) -> Result<Self, Error> {
        let pkcs11 = context(&config.module)?;
        let call = |what: &str, e: CkError| -> Error {
            TokenError {
                failure: match &e {
                    CkError::Pkcs11(rv, _) => classify(*rv),
                    _ => BackendFailure::Failed,
                },
                detail: format!("{what}: {e}"),
            }
            .into()
        };
        let slots = pkcs11
            .get_slots_with_token()
            .map_err(|e| call("listing the slots", e))?;
        let mut found = None;
        for slot in slots {
            // A token that cannot describe itself is not the one asked for: skip it, so one
            // broken token does not hide the others.
            let Ok(info) = pkcs11.get_token_info(slot) else {
                continue;
            };
            let hit = match &config.token {
                TokenSelector::Label(l) => info.label().trim_end() == l.trim_end(),
                TokenSelector::Slot(id) => slot.id() == *id,
            };
            if hit {
                found = Some((slot, info));
                break;
            }
        }
        let Some((slot, info)) = found else {
            return Err(Error::internal(format!(
                "no token {:?} in {}; initialize one (softhsm2-util --init-token) or check \
                 the label or slot",
                config.token,
                config.module.display()
            )));
        };
        if !info.token_initialized() || !info.user_pin_initialized() {
            return Err(Error::internal(format!(
                "the token in slot {} has no user PIN yet; initialize it first",
                slot.id()
            )));
        }
        let token = Self {
            pkcs11,
            slot,
            label: info.label().trim_end().to_owned(),
            serial: info.serial_number().trim_end().to_owned(),
            pin: config.pin,
            idle: Mutex::new(Vec::new()),
            epoch: AtomicU64::new(0),
        };
        // Log in now, so a wrong PIN is reported when the store opens.
        let session = token.new_session().map_err(|e| match e {
            CkError::Pkcs11(
                rv @ (RvError::PinIncorrect
                | RvError::PinInvalid
                | RvError::PinLenRange
                | RvError::PinExpired
                | RvError::PinLocked),
                _,
            ) => Error::AccessDenied {
                message: format!("the token {:?} refused the user PIN: {rv}", token.label),
            },
            e => call("logging in", e),
        })?;
        token.idle().push(session);
        Ok(token)
    }

    /// The token's label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The token's serial number.
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// The slot the token is in.
    pub fn slot(&self) -> Slot {
        self.slot
    }

    /// Counts the failures that dropped every session. Object handles found before the last
    /// one may be stale (a token drops private objects' handles when the login is lost).
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// The module context (for tests and tools that inspect the token).
    pub fn pkcs11(&self) -> &Pkcs11 {
        &self.pkcs11
    }

    fn idle(&self) -> MutexGuard<'_, Vec<Session>> {
        // A pool of sessions holds no invariant a panicking holder could break.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new read-write session, logged in (login is per token and application, so a session
    /// opened while another is logged in is logged in already).
    fn new_session(&self) -> Result<Session, CkError> {
        let session = self.pkcs11.open_rw_session(self.slot)?;
        match session.login(UserType::User, Some(&self.pin.0)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(session),
            Err(e) => Err(e),
        }
    }

    /// Runs `f` on a pooled session (`what` names the call in errors).
    pub(crate) fn with_session<T>(
        &self,
        what: &str,
        f: impl FnOnce(&Session) -> Result<T, CkError>,
    ) -> Result<T, TokenError> {
        let pooled = self.idle().pop();
        let session = match pooled {
            Some(s) => s,
            None => self.new_session().map_err(|e| self.failed(what, None, e))?,
        };
        match f(&session) {
            Ok(value) => {
                self.release(session);
                Ok(value)
            }
            Err(e) => Err(self.failed(what, Some(session), e)),
        }
    }

    /// Returns a session to the pool, or closes it when the pool is full.
    fn release(&self, session: Session) {
        let mut idle = self.idle();
        if idle.len() < MAX_IDLE_SESSIONS {
            idle.push(session);
        }
    }

    /// The typed error of a failed call. A session that saw the token fail is not reused, and
    /// neither are the idle ones, which share its fate: the next call opens and logs in
    /// afresh, and handles found before are stale (the epoch moves on).
    fn failed(&self, what: &str, session: Option<Session>, e: CkError) -> TokenError {
        let failure = match &e {
            CkError::Pkcs11(RvError::ObjectHandleInvalid, _) => {
                // A private object vanishes from a session that lost its login.
                let logged_in = session
                    .as_ref()
                    .and_then(|s| s.get_session_info().ok())
                    .is_some_and(|i| i.session_state() == SessionState::RwUser);
                if logged_in {
                    BackendFailure::Failed
                } else {
                    BackendFailure::LoginLost
                }
            }
            CkError::Pkcs11(rv, _) => classify(*rv),
            _ => BackendFailure::Failed,
        };
        match session {
            Some(s) if failure == BackendFailure::Failed => self.release(s),
            _ if failure == BackendFailure::Failed => {}
            _ => {
                self.idle().clear();
                self.epoch.fetch_add(1, Ordering::AcqRel);
            }
        }
        TokenError {
            failure,
            detail: format!("{what}: {e}"),
        }
    }
}
