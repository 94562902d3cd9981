//! The embedded store: one SQLite database per region.
//!
//! Metadata sits in columns; the key material is whatever the store's [`Vault`] persists: a
//! TR-31 version D key block under the region's master key ([`SoftwareVault`], the default),
//! or a reference to a token object (the PKCS#11 vault). The `meta` table records what the
//! material is bound to (the master key's KCV, or the token), and `nonces` the TR-34 nonces
//! consumed per import token. The database runs in WAL mode
//! with `synchronous=FULL` (a commit is on disk when it returns) and `secure_delete=ON` (freed
//! pages, such as a destroyed key block, are overwritten with zeros). Every write is one
//! `BEGIN IMMEDIATE` transaction, and updates are compare-and-swap on the revision column. The
//! replication outbox is a table written in the transaction of the key record it follows.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::{
        Mutex, MutexGuard, OnceLock, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use payhsm_core::{
    kcv::KcvMethod,
    key::{KeyAlgorithm, KeyAttributes, KeyClass, KeyModesOfUse, KeyUsage},
};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior, params};

use super::{SoftwareVault, Store, Vault, failpoint};
use crate::{
    Error,
    clock::Timestamp,
    master_key::MasterKey,
    model::{AliasRecord, KeyOrigin, KeyRecord, KeyState, OutboxEntry, OutboxItem, Setting},
};

/// Version 2 added the `nonces` table and `keys.resource_policy`; version 3 the key's
/// multi-region part (`keys.multi_region`), the replication outbox and the region's settings;
/// version 4 an ECC key pair's `keys.derive_key_usage`. An older store gains them when opened,
/// one [`upgrade_script`] per version.
const SCHEMA_VERSION: u32 = 4;

const SCHEMA: &str = "
CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
CREATE TABLE keys (
    key_id                    TEXT PRIMARY KEY,
    revision                  INTEGER NOT NULL,
    key_usage                 TEXT NOT NULL,
    key_class                 TEXT NOT NULL,
    key_algorithm             TEXT NOT NULL,
    key_modes_of_use          TEXT NOT NULL,
    exportable                INTEGER NOT NULL,
    key_check_value           TEXT NOT NULL,
    key_check_value_algorithm TEXT NOT NULL,
    enabled                   INTEGER NOT NULL,
    key_state                 TEXT NOT NULL,
    key_origin                TEXT NOT NULL,
    create_timestamp          INTEGER NOT NULL,
    usage_start_timestamp     INTEGER,
    usage_stop_timestamp      INTEGER,
    delete_pending_timestamp  INTEGER,
    delete_timestamp          INTEGER,
    tags                      TEXT NOT NULL,
    key_block                 TEXT,
    resource_policy           TEXT,
    multi_region              TEXT,
    derive_key_usage          TEXT
) STRICT;
CREATE TABLE aliases (
    alias_name TEXT PRIMARY KEY,
    key_id     TEXT,
    revision   INTEGER NOT NULL
) STRICT;
";

/// The nonces TR-34 imports consumed, per import token, until the token expires.
const NONCES: &str = "
CREATE TABLE IF NOT EXISTS nonces (
    token_key_id TEXT NOT NULL,
    nonce        BLOB NOT NULL,
    expires      INTEGER NOT NULL,
    PRIMARY KEY (token_key_id, nonce)
) STRICT;
";

/// What version 3 adds besides `keys.multi_region`.
const OUTBOX_AND_SETTINGS: &str = "
CREATE TABLE outbox (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    key_id TEXT NOT NULL,
    region TEXT NOT NULL
) STRICT;
CREATE TABLE settings (
    name     TEXT PRIMARY KEY,
    value    TEXT NOT NULL,
    revision INTEGER NOT NULL
) STRICT;
";

const KEY_COLUMNS: &str = "key_id, revision, key_usage, key_class, key_algorithm, \
    key_modes_of_use, exportable, key_check_value, key_check_value_algorithm, enabled, \
    key_state, key_origin, create_timestamp, usage_start_timestamp, usage_stop_timestamp, \
    delete_pending_timestamp, delete_timestamp, tags, key_block, resource_policy, multi_region, \
    derive_key_usage";

/// The statement reading one key record (prepared once per connection).
fn select_key() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| format!("SELECT {KEY_COLUMNS} FROM keys WHERE key_id = ?1"))
}

/// A region's keys in one SQLite database file, their material in the vault `V`.
#[derive(Debug)]
pub struct SqliteStore<V: Vault = SoftwareVault> {
    path: PathBuf,
    vault: V,
    conn: Mutex<Connection>,
    /// The transactions this store wrote, counted under the connection's lock: with SQLite's
    /// `data_version` (the commits of every other connection) the store's generation.
    writes: AtomicU64,
    /// Set by the first write the disk failed (an I/O error, e.g. EIO on fsync): from then on
    /// the store refuses every write (fail-stop), because after a failed fsync the kernel may
    /// have dropped the dirty pages and a retry could report success for lost data.
    stopped: OnceLock<String>,
}

fn configure(conn: &Connection) -> Result<(), Error> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "secure_delete", "ON")?;
    Ok(())
}

impl SqliteStore {
    /// Creates a new database at `path` for `master`. Refuses a path that exists.
    pub fn create(path: &Path, master: MasterKey) -> Result<Self, Error> {
        Self::create_with(path, SoftwareVault::new(master))
    }

    /// Opens the database at `path` with `master`. The master key's KCV is checked first on
    /// an immutable read-only connection (no locks, no WAL index): with the wrong key the store
    /// refuses to open and not one byte or file is written.
    pub fn open(path: &Path, master: MasterKey) -> Result<Self, Error> {
        Self::open_with(path, SoftwareVault::new(master))
    }
}

impl<V: Vault> SqliteStore<V> {
    /// Creates a new database at `path` whose key material lives in `vault`. Refuses a path
    /// that exists.
    pub fn create_with(path: &Path, vault: V) -> Result<Self, Error> {
        // An empty file of the owner's only: SQLite takes it as a new database, and gives the
        // WAL and shared-memory files it creates beside it the same mode.
        crate::files::owner_only()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => Error::conflict(format!(
                    "{} exists; open it instead of creating it",
                    path.display()
                )),
                _ => Error::internal(format!("cannot create {}: {e}", path.display())),
            })?;
        let mut conn = Connection::open(path)?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::internal("the key store needs WAL mode"));
        }
        configure(&conn)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
        tx.execute_batch(SCHEMA)?;
        tx.execute_batch(NONCES)?;
        tx.execute_batch(OUTBOX_AND_SETTINGS)?;
        tx.execute(
            "INSERT INTO meta (name, value) VALUES ('schema_version', ?1), ('key_binding', ?2)",
            params![SCHEMA_VERSION.to_string(), vault.binding()],
        )?;
        tx.commit()?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(Self {
            path: path.to_owned(),
            vault,
            conn: Mutex::new(conn),
            writes: AtomicU64::new(0),
            stopped: OnceLock::new(),
        })
    }

    /// Opens the database at `path` with `vault`. The vault's binding (master key KCV or
    /// token) is checked first on an immutable read-only connection (no locks, no WAL index):
    /// with the wrong master key or token the store refuses to open and not one byte or file is
    /// written.
    pub fn open_with(path: &Path, vault: V) -> Result<Self, Error> {
        if !path.is_file() {
            return Err(Error::internal(format!(
                "{} does not exist; create the store first (payhsm init)",
                path.display()
            )));
        }
        // The immutable look sees the main file only; the meta rows are checkpointed into it
        // when the store is created, so a plain read-only look is needed only for a store
        // whose creator died before that.
        let (version, binding) = read_meta(&immutable_uri(path), OpenFlags::SQLITE_OPEN_URI)
            .or_else(|_| read_meta(&path.to_string_lossy(), OpenFlags::empty()))
            .map_err(|e| {
                Error::internal(format!("{} is not a payhsm key store: {e}", path.display()))
            })?;
        let version = version
            .parse::<u32>()
            .ok()
            .filter(|v| (1..=SCHEMA_VERSION).contains(v))
            .ok_or_else(|| {
                Error::internal(format!(
                    "{} has schema version {version}; this payhsm reads 1 to {SCHEMA_VERSION}",
                    path.display()
                ))
            })?;
        vault.check_binding(&binding, path)?;
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        configure(&conn)?;
        for from in version..SCHEMA_VERSION {
            upgrade(&mut conn, from, &upgrade_script(from))?;
        }
        Ok(Self {
            path: path.to_owned(),
            vault,
            conn: Mutex::new(conn),
            writes: AtomicU64::new(0),
            stopped: OnceLock::new(),
        })
    }

    /// The vault holding the key material.
    pub fn vault(&self) -> &V {
        &self.vault
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // Each use is one statement or one transaction that rolls back when dropped.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` in one immediate transaction, with failpoints before and after the commit.
    fn write<T>(
        &self,
        op: &str,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.write_on(&mut self.conn(), op, f)
    }

    fn write_on<T>(
        &self,
        conn: &mut Connection,
        op: &str,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        if let Some(cause) = self.stopped.get() {
            return Err(Error::ReadOnly {
                message: format!(
                    "{} refuses writes (fail-stop) since {cause}; check the disk, then restart payhsm",
                    self.path.display()
                ),
            });
        }
        // Counted whatever the outcome: a generation that moves without a change costs a
        // store read, never a stale key.
        self.writes.fetch_add(1, Ordering::Relaxed);
        // The disk is written at the commit (WAL frames, then fsync); the statements before it
        // only change pages in memory.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.disk_error(op, e))?;
        let out = f(&tx)?;
        failpoint(&format!("sqlite.{op}.before_commit"));
        tx.commit().map_err(|e| self.disk_error(op, e))?;
        failpoint(&format!("sqlite.{op}.after_commit"));
        Ok(out)
    }

    /// The error for a failed SQLite write: a full disk fails the call (SQLite rolled the
    /// transaction back); an I/O error also stops the store.
    fn disk_error(&self, op: &str, e: rusqlite::Error) -> Error {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DiskFull) => Error::internal(format!(
                "{}: the disk is full; {op} wrote nothing and earlier keys are intact",
                self.path.display()
            )),
            Some(rusqlite::ErrorCode::SystemIoFailure) => {
                let cause = format!("a disk I/O error in {op} ({e})");
                let _ = self.stopped.set(cause.clone());
                Error::ReadOnly {
                    message: format!(
                        "{}: {cause}; the store now refuses writes (fail-stop). Check the \
                         disk, then restart payhsm: the last committed state is kept",
                        self.path.display()
                    ),
                }
            }
            _ => e.into(),
        }
    }
}

/// A consistent copy of the store at `source` written to the new file `dest` (0600), taken
/// with SQLite's online backup while other connections go on writing: the copy holds every
/// transaction committed before the backup's last step and none after. No master key is
/// needed: the key blocks are copied as they are, under the master key, and the copy opens
/// with the same master key. The number of key records copied.
pub fn backup(source: &Path, dest: &Path) -> Result<u64, Error> {
    let src = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    src.busy_timeout(Duration::from_secs(10))?;
    crate::files::owner_only()
        .write(true)
        .create_new(true)
        .open(dest)
        .map_err(|e| {
            Error::internal(format!("cannot create the backup {}: {e}", dest.display()))
        })?;
    let mut out = Connection::open(dest)?;
    {
        let backup = rusqlite::backup::Backup::new(&src, &mut out)?;
        // Pages in steps, so writers are held up for one step at a time; a writer's commit
        // during the copy makes SQLite restart it, and the copy ends consistent.
        backup.run_to_completion(256, Duration::from_millis(5), None)?;
    }
    let check: String = out.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if check != "ok" {
        return Err(Error::internal(format!(
            "the backup {} failed its integrity check: {check}",
            dest.display()
        )));
    }
    let mode: String = out.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::internal("the backup needs WAL mode"));
    }
    let keys: i64 = out.query_row("SELECT count(*) FROM keys", [], |r| r.get(0))?;
    Ok(u64::try_from(keys).unwrap_or(0))
}

/// What a store of version `from` gains to become the next version.
fn upgrade_script(from: u32) -> String {
    match from {
        // The nonces table and the resource policy column.
        1 => format!("{NONCES} ALTER TABLE keys ADD COLUMN resource_policy TEXT;"),
        // The multi-region column, the outbox and the settings.
        2 => format!("{OUTBOX_AND_SETTINGS} ALTER TABLE keys ADD COLUMN multi_region TEXT;"),
        // An ECC key pair's DeriveKeyUsage.
        _ => "ALTER TABLE keys ADD COLUMN derive_key_usage TEXT;".to_owned(),
    }
}

/// Upgrades a store of version `from` to the next by `script`, in one transaction.
fn upgrade(conn: &mut Connection, from: u32, script: &str) -> Result<(), Error> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
    let version: String = tx.query_row(
        "SELECT value FROM meta WHERE name = 'schema_version'",
        [],
        |r| r.get(0),
    )?;
    // Another process may have upgraded it since the version was read.
    if version == from.to_string() {
        tx.execute_batch(script)?;
        tx.execute(
            "UPDATE meta SET value = ?1 WHERE name = 'schema_version'",
            [(from + 1).to_string()],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// The schema version and key binding, read on a read-only connection.
fn read_meta(target: &str, extra: OpenFlags) -> rusqlite::Result<(String, String)> {
    let ro = Connection::open_with_flags(
        target,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | extra,
    )?;
    ro.busy_timeout(Duration::from_secs(10))?;
    let meta = |name: &str| {
        ro.query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| {
            r.get::<_, String>(0)
        })
    };
    Ok((meta("schema_version")?, meta("key_binding")?))
}

/// A `file:` URI opening `path` read-only and immutable.
fn immutable_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            c => uri.push(c),
        }
    }
    uri.push_str("?mode=ro&immutable=1");
    uri
}

fn modes_text(m: &KeyModesOfUse) -> String {
    m.iter()
        .filter(|(_, on)| *on)
        .map(|(n, _)| n)
        .collect::<Vec<_>>()
        .join(",")
}

fn revision_from(stored: i64) -> rusqlite::Result<u64> {
    u64::try_from(stored).map_err(|_| corrupt("revision"))
}

fn revision_to(revision: u64) -> Result<i64, Error> {
    i64::try_from(revision).map_err(|_| Error::internal("revision out of range"))
}

fn ts(t: Option<Timestamp>) -> Option<i64> {
    t.map(|t| t.0)
}

fn corrupt(what: &str) -> rusqlite::Error {
    rusqlite::Error::InvalidColumnName(format!("stored {what} is not valid"))
}

fn key_from_row(r: &Row<'_>) -> rusqlite::Result<KeyRecord> {
    let mut modes = KeyModesOfUse::default();
    let modes_text: String = r.get(5)?;
    for name in modes_text.split(',').filter(|n| !n.is_empty()) {
        modes.set(name, true).map_err(|_| corrupt("modes of use"))?;
    }
    let tags_text: String = r.get(17)?;
    let tags: BTreeMap<String, String> =
        serde_json::from_str(&tags_text).map_err(|_| corrupt("tags"))?;
    let multi_region = r
        .get::<_, Option<String>>(20)?
        .map(|t| serde_json::from_str(&t).map_err(|_| corrupt("multi-region state")))
        .transpose()?;
    let text = |i: usize| r.get::<_, String>(i);
    Ok(KeyRecord {
        key_id: r.get(0)?,
        revision: revision_from(r.get(1)?)?,
        attributes: KeyAttributes {
            key_usage: KeyUsage::from_name(&text(2)?).map_err(|_| corrupt("key usage"))?,
            key_class: KeyClass::from_name(&text(3)?).map_err(|_| corrupt("key class"))?,
            key_algorithm: KeyAlgorithm::from_name(&text(4)?)
                .map_err(|_| corrupt("key algorithm"))?,
            key_modes_of_use: modes,
        },
        exportable: r.get(6)?,
        key_check_value: r.get(7)?,
        key_check_value_algorithm: KcvMethod::from_name(&text(8)?)
            .map_err(|_| corrupt("KCV algorithm"))?,
        enabled: r.get(9)?,
        state: KeyState::from_name(&text(10)?).map_err(|_| corrupt("key state"))?,
        origin: KeyOrigin::from_name(&text(11)?).map_err(|_| corrupt("key origin"))?,
        create_timestamp: Timestamp(r.get(12)?),
        usage_start_timestamp: r.get::<_, Option<i64>>(13)?.map(Timestamp),
        usage_stop_timestamp: r.get::<_, Option<i64>>(14)?.map(Timestamp),
        delete_pending_timestamp: r.get::<_, Option<i64>>(15)?.map(Timestamp),
        delete_timestamp: r.get::<_, Option<i64>>(16)?.map(Timestamp),
        tags,
        key_block: r.get(18)?,
        resource_policy: r.get(19)?,
        multi_region,
        derive_key_usage: r
            .get::<_, Option<String>>(21)?
            .map(|u| KeyUsage::from_name(&u).map_err(|_| corrupt("derive key usage")))
            .transpose()?,
    })
}

fn alias_from_row(r: &Row<'_>) -> rusqlite::Result<AliasRecord> {
    Ok(AliasRecord {
        alias_name: r.get(0)?,
        key_id: r.get(1)?,
        revision: revision_from(r.get(2)?)?,
    })
}

fn tags_text(record: &KeyRecord) -> Result<String, Error> {
    serde_json::to_string(&record.tags).map_err(|e| Error::internal(e.to_string()))
}

fn multi_region_text(record: &KeyRecord) -> Result<Option<String>, Error> {
    record
        .multi_region
        .as_ref()
        .map(|m| serde_json::to_string(m).map_err(|e| Error::internal(e.to_string())))
        .transpose()
}

/// Adds `outbox` items in the transaction `tx`.
fn enqueue(tx: &rusqlite::Transaction<'_>, outbox: &[OutboxItem]) -> Result<(), Error> {
    for item in outbox {
        tx.execute(
            "INSERT INTO outbox (key_id, region) VALUES (?1, ?2)",
            params![item.key_id, item.region],
        )?;
    }
    Ok(())
}

impl<V: Vault> Store for SqliteStore<V> {
    type Handle = V::Handle;
    type Vault = V;

    fn vault(&self) -> &V {
        &self.vault
    }

    fn sweep_orphans(&self, grace: Duration) -> Result<Vec<String>, Error> {
        let referenced = {
            let conn = self.conn();
            let mut statement =
                conn.prepare_cached("SELECT key_block FROM keys WHERE key_block IS NOT NULL")?;
            let blocks = statement.query_map([], |r| r.get::<_, String>(0))?;
            blocks.collect::<Result<std::collections::BTreeSet<_>, _>>()?
        };
        self.vault.sweep_orphans(&referenced, grace)
    }

    fn generation(&self) -> Result<Option<u64>, Error> {
        let conn = self.conn();
        // Changes when another connection (thread or process) commits; this connection's
        // own commits are `writes`. Both only grow, so their sum changes when either does.
        let others: i64 = conn
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |r| r.get(0))?;
        Ok(Some(
            self.writes
                .load(Ordering::Relaxed)
                .wrapping_add(others.cast_unsigned()),
        ))
    }

    fn get_key(&self, key_id: &str) -> Result<Option<KeyRecord>, Error> {
        Ok(self
            .conn()
            .prepare_cached(select_key())?
            .query_row([key_id], key_from_row)
            .optional()?)
    }

    fn list_keys(&self, after: Option<&str>, limit: usize) -> Result<Vec<KeyRecord>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {KEY_COLUMNS} FROM keys WHERE key_id > ?1 ORDER BY key_id LIMIT ?2"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![after.unwrap_or(""), limit], key_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn insert_key(&self, record: &KeyRecord, outbox: &[OutboxItem]) -> Result<(), Error> {
        let tags = tags_text(record)?;
        let multi_region = multi_region_text(record)?;
        self.write("insert_key", |tx| {
            let exists: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM keys WHERE key_id = ?1)",
                [&record.key_id],
                |r| r.get(0),
            )?;
            if exists {
                return Err(Error::conflict("a key with this id exists"));
            }
            tx.execute(
                &format!(
                    "INSERT INTO keys ({KEY_COLUMNS}) VALUES \
                     (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)"
                ),
                params![
                    record.key_id,
                    revision_to(record.revision)?,
                    record.attributes.key_usage.to_string(),
                    record.attributes.key_class.name(),
                    record.attributes.key_algorithm.name(),
                    modes_text(&record.attributes.key_modes_of_use),
                    record.exportable,
                    record.key_check_value,
                    record.key_check_value_algorithm.name(),
                    record.enabled,
                    record.state.name(),
                    record.origin.name(),
                    record.create_timestamp.0,
                    ts(record.usage_start_timestamp),
                    ts(record.usage_stop_timestamp),
                    ts(record.delete_pending_timestamp),
                    ts(record.delete_timestamp),
                    tags,
                    record.key_block,
                    record.resource_policy,
                    multi_region,
                    record.derive_key_usage.map(|u| u.to_string()),
                ],
            )?;
            enqueue(tx, outbox)
        })
    }

    fn update_key(&self, record: &KeyRecord, outbox: &[OutboxItem]) -> Result<bool, Error> {
        let tags = tags_text(record)?;
        let multi_region = multi_region_text(record)?;
        let mut conn = self.conn();
        let mut destroyed_block = false;
        let updated = self.write_on(&mut conn, "update_key", |tx| {
            let destroyed = match &record.key_block {
                Some(_) => None,
                None => tx
                    .query_row(
                        "SELECT key_block FROM keys WHERE key_id = ?1 AND revision = ?2",
                        params![record.key_id, revision_to(record.revision)? - 1],
                        |r| r.get::<_, Option<String>>(0),
                    )
                    .optional()?
                    .flatten(),
            };
            // Attributes, KCV, origin and creation time never change; the rest may.
            let changed = tx.execute(
                "UPDATE keys SET revision = ?2, enabled = ?3, key_state = ?4, \
                 usage_start_timestamp = ?5, usage_stop_timestamp = ?6, \
                 delete_pending_timestamp = ?7, delete_timestamp = ?8, tags = ?9, \
                 key_block = ?10, resource_policy = ?12, multi_region = ?13 \
                 WHERE key_id = ?1 AND revision = ?11",
                params![
                    record.key_id,
                    revision_to(record.revision)?,
                    record.enabled,
                    record.state.name(),
                    ts(record.usage_start_timestamp),
                    ts(record.usage_stop_timestamp),
                    ts(record.delete_pending_timestamp),
                    ts(record.delete_timestamp),
                    tags,
                    record.key_block,
                    revision_to(record.revision)? - 1,
                    record.resource_policy,
                    multi_region,
                ],
            )?;
            if changed == 1 {
                enqueue(tx, outbox)?;
                // Material the update removes is destroyed before the commit: if that fails
                // the record keeps it and the next attempt destroys it (destroying is
                // idempotent); if the commit fails the material is gone either way.
                if let Some(block) = destroyed {
                    self.vault.destroy(&record.key_id, &block)?;
                    destroyed_block = true;
                }
                return Ok(true);
            }
            let exists: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM keys WHERE key_id = ?1)",
                [&record.key_id],
                |r| r.get(0),
            )?;
            if exists {
                Ok(false)
            } else {
                Err(Error::not_found(&record.key_id))
            }
        })?;
        if destroyed_block {
            // secure_delete zeroed the block in the database's pages; the WAL still holds
            // earlier images of them until it is checkpointed and emptied.
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(|e| self.disk_error("update_key.checkpoint", e))?;
        }
        Ok(updated)
    }

    fn get_alias(&self, alias_name: &str) -> Result<Option<AliasRecord>, Error> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT alias_name, key_id, revision FROM aliases WHERE alias_name = ?1",
            )?
            .query_row([alias_name], alias_from_row)
            .optional()?)
    }

    fn list_aliases(&self, after: Option<&str>, limit: usize) -> Result<Vec<AliasRecord>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT alias_name, key_id, revision FROM aliases WHERE alias_name > ?1 \
             ORDER BY alias_name LIMIT ?2",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![after.unwrap_or(""), limit], alias_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn insert_alias(&self, alias: &AliasRecord) -> Result<(), Error> {
        self.write("insert_alias", |tx| {
            let changed = tx.execute(
                "INSERT INTO aliases (alias_name, key_id, revision) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (alias_name) DO NOTHING",
                params![alias.alias_name, alias.key_id, revision_to(alias.revision)?],
            )?;
            if changed == 1 {
                Ok(())
            } else {
                Err(Error::conflict("the alias exists"))
            }
        })
    }

    fn update_alias(&self, alias: &AliasRecord) -> Result<bool, Error> {
        self.write("update_alias", |tx| {
            let changed = tx.execute(
                "UPDATE aliases SET key_id = ?2, revision = ?3 \
                 WHERE alias_name = ?1 AND revision = ?4",
                params![
                    alias.alias_name,
                    alias.key_id,
                    revision_to(alias.revision)?,
                    revision_to(alias.revision)? - 1
                ],
            )?;
            if changed == 1 {
                return Ok(true);
            }
            let exists: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM aliases WHERE alias_name = ?1)",
                [&alias.alias_name],
                |r| r.get(0),
            )?;
            if exists {
                Ok(false)
            } else {
                Err(Error::not_found(&alias.alias_name))
            }
        })
    }

    fn delete_alias(&self, alias_name: &str) -> Result<bool, Error> {
        self.write("delete_alias", |tx| {
            Ok(tx.execute("DELETE FROM aliases WHERE alias_name = ?1", [alias_name])? == 1)
        })
    }

    fn consume_nonce(
        &self,
        token_key_id: &str,
        nonce: &[u8],
        expires: Timestamp,
        now: Timestamp,
    ) -> Result<bool, Error> {
        self.write("consume_nonce", |tx| {
            tx.execute("DELETE FROM nonces WHERE expires <= ?1", [now.0])?;
            let added = tx.execute(
                "INSERT OR IGNORE INTO nonces (token_key_id, nonce, expires) VALUES (?1, ?2, ?3)",
                params![token_key_id, nonce, expires.0],
            )?;
            Ok(added == 1)
        })
    }

    fn outbox(&self, after: Option<u64>, limit: usize) -> Result<Vec<OutboxEntry>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT seq, key_id, region FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let after = revision_to(after.unwrap_or(0))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![after, limit], |r| {
            Ok(OutboxEntry {
                seq: revision_from(r.get(0)?)?,
                item: OutboxItem {
                    key_id: r.get(1)?,
                    region: r.get(2)?,
                },
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn remove_outbox(&self, seq: u64) -> Result<(), Error> {
        self.write("remove_outbox", |tx| {
            tx.execute("DELETE FROM outbox WHERE seq = ?1", [revision_to(seq)?])?;
            Ok(())
        })
    }

    fn get_setting(&self, name: &str) -> Result<Option<Setting>, Error> {
        Ok(self
            .conn()
            .query_row(
                "SELECT name, value, revision FROM settings WHERE name = ?1",
                [name],
                |r| {
                    Ok(Setting {
                        name: r.get(0)?,
                        value: r.get(1)?,
                        revision: revision_from(r.get(2)?)?,
                    })
                },
            )
            .optional()?)
    }

    fn put_setting(&self, setting: &Setting) -> Result<bool, Error> {
        // The failpoints name what the setting is for (`replication`, `clock`).
        let kind = setting.name.split('.').next().unwrap_or_default();
        self.write(&format!("put_setting.{kind}"), |tx| {
            let revision = revision_to(setting.revision)?;
            let changed = if revision == 1 {
                tx.execute(
                    "INSERT INTO settings (name, value, revision) VALUES (?1, ?2, 1) \
                     ON CONFLICT (name) DO NOTHING",
                    params![setting.name, setting.value],
                )?
            } else {
                tx.execute(
                    "UPDATE settings SET value = ?2, revision = ?3 \
                     WHERE name = ?1 AND revision = ?4",
                    params![setting.name, setting.value, revision, revision - 1],
                )?
            };
            Ok(changed == 1)
        })
    }
}
