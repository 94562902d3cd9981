//! `payhsm backup DIR`: a consistent online copy of the whole store, every region's key
//! database through SQLite's backup API while commands and servers go on writing, with the
//! files that open it. The copy is a store: `payhsm --store DIR …` uses it, with the same
//! master key (components or development key file) as the original. No master key is
//! entered: the key blocks are copied as they are, under the master key.

use std::{
    fs,
    io::Read as _,
    path::{Path, PathBuf},
};

use payhsm_keystore::store;
use serde_json::{Value, json};

use super::Home;
use crate::error::CliError;

/// The files of a region copied as they are (if present) besides its database.
const REGION_FILES: [&str; 3] = [Home::INFO_FILE, "master.key", "audit.jsonl"];

fn failed(what: &str, path: &Path, e: impl std::fmt::Display) -> CliError {
    CliError::failed(format!("cannot {what} {}: {e}", path.display()), None)
}

/// A new directory of the owner's only.
fn new_dir(path: &Path) -> Result<(), CliError> {
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path).map_err(|e| failed("create", path, e))
}

/// Copies `from` to the new file `to` (0600), read under a shared lock so that no writer's
/// line is half in the copy.
fn copy_file(from: &Path, to: &Path) -> Result<(), CliError> {
    let mut source = fs::File::open(from).map_err(|e| failed("read", from, e))?;
    source.lock_shared().map_err(|e| failed("lock", from, e))?;
    let mut bytes = Vec::new();
    let read = source.read_to_end(&mut bytes);
    let _ = source.unlock();
    read.map_err(|e| failed("read", from, e))?;
    let mut file = payhsm_keystore::files::owner_only()
        .write(true)
        .create_new(true)
        .open(to)
        .map_err(|e| failed("create", to, e))?;
    std::io::Write::write_all(&mut file, &bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| failed("write", to, e))
}

/// `payhsm backup DIR`.
pub(crate) fn backup(store_dir: &Path, dest: &Path) -> Result<Value, CliError> {
    if dest.exists() {
        return Err(CliError::usage(
            format!("{} exists", dest.display()),
            Some("Give a new directory: a backup never overwrites anything."),
        ));
    }
    let mut regions: Vec<PathBuf> = fs::read_dir(store_dir)
        .map_err(|e| failed("read", store_dir, e))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join(Home::INFO_FILE).is_file())
        .collect();
    regions.sort();
    if regions.is_empty() {
        return Err(CliError::failed(
            format!("no store in {}", store_dir.display()),
            Some("Point --store / PAYHSM_HOME at the store to back up."),
        ));
    }
    new_dir(dest)?;
    let mut copied = Vec::new();
    for region in &regions {
        let name = region.file_name().unwrap_or_default();
        let to = dest.join(name);
        new_dir(&to)?;
        let keys = store::backup(&region.join("keys.db"), &to.join("keys.db"))?;
        for file in REGION_FILES {
            if region.join(file).is_file() {
                copy_file(&region.join(file), &to.join(file))?;
            }
        }
        copied.push(json!({ "Region": name.to_string_lossy(), "Keys": keys }));
    }
    // The access keys that sign requests to `payhsm serve`.
    let credentials = store_dir.join("credentials.json");
    if credentials.is_file() {
        copy_file(&credentials, &dest.join("credentials.json"))?;
    }
    Ok(json!({
        "Backup": dest.display().to_string(),
        "Regions": copied,
        "Restore": format!("payhsm --store {} … (the same master key opens it)", dest.display()),
    }))
}
