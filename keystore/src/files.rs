//! Files payhsm creates are its owner's only (mode 0600 on Unix): the key database, a
//! development master key, the audit log, the access keys and backups.

use std::fs::OpenOptions;

/// `OpenOptions` for a file that only its owner may read or write, to which the caller adds
/// how it opens it.
pub fn owner_only() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}
