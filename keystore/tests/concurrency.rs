//! T-KS-7: many threads at once use one key, stop and start it, delete and restore it, and move
//! one alias between two keys; every outcome is checked against a sequential model.
//!
//! The store is wrapped so that every committed change is logged in commit order, with the
//! thread that made it. Replaying the log through the model checks each committed change
//! (no lost update, every transition legal); each operation's outcome must then be explained
//! by some model state between the moment it started and the moment it returned
//! (linearizability for this one key and one alias).

use std::{
    collections::HashMap,
    sync::{Arc, Barrier, Mutex, PoisonError},
    thread::{self, ThreadId},
};

use payhsm_core::rng::OsRandom;
use payhsm_keystore::{
    Error, Hsm, HsmConfig, MemoryStore, Rule, SqliteStore, Store, api,
    arn::Region,
    clock::Timestamp,
    master_key::MasterKey,
    model::{AliasRecord, KeyRecord, KeyState, OutboxEntry, OutboxItem, Setting},
};
use serde_json::{Value, json};

#[derive(Clone, Debug)]
enum Commit {
    Key {
        thread: ThreadId,
        state: KeyState,
        enabled: bool,
    },
    Alias {
        thread: ThreadId,
        key_id: Option<String>,
    },
}

/// A store that logs its committed changes in commit order.
struct Recording<S> {
    inner: S,
    log: Mutex<Vec<Commit>>,
}

impl<S> Recording<S> {
    fn log(&self) -> std::sync::MutexGuard<'_, Vec<Commit>> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<S: Store> Store for Recording<S> {
    type Handle = S::Handle;
    type Vault = <S as Store>::Vault;

    fn vault(&self) -> &Self::Vault {
        self.inner.vault()
    }

    fn get_key(&self, key_id: &str) -> Result<Option<KeyRecord>, Error> {
        let r = self.inner.get_key(key_id);
        // Widen the window between a read and the write that follows it, so that races a
        // store without compare-and-swap would lose actually happen.
        perturb();
        r
    }
    fn list_keys(&self, after: Option<&str>, limit: usize) -> Result<Vec<KeyRecord>, Error> {
        self.inner.list_keys(after, limit)
    }
    fn insert_key(&self, record: &KeyRecord, outbox: &[OutboxItem]) -> Result<(), Error> {
        self.inner.insert_key(record, outbox)
    }
    fn update_key(&self, record: &KeyRecord, outbox: &[OutboxItem]) -> Result<bool, Error> {
        // The log's lock is held across the commit, so log order is commit order.
        let mut log = self.log();
        let done = self.inner.update_key(record, outbox)?;
        if done {
            log.push(Commit::Key {
                thread: thread::current().id(),
                state: record.state,
                enabled: record.enabled,
            });
        }
        Ok(done)
    }
    fn outbox(&self, after: Option<u64>, limit: usize) -> Result<Vec<OutboxEntry>, Error> {
        self.inner.outbox(after, limit)
    }
    fn remove_outbox(&self, seq: u64) -> Result<(), Error> {
        self.inner.remove_outbox(seq)
    }
    fn get_setting(&self, name: &str) -> Result<Option<Setting>, Error> {
        self.inner.get_setting(name)
    }
    fn put_setting(&self, setting: &Setting) -> Result<bool, Error> {
        self.inner.put_setting(setting)
    }
    fn get_alias(&self, alias_name: &str) -> Result<Option<AliasRecord>, Error> {
        let r = self.inner.get_alias(alias_name);
        perturb();
        r
    }
    fn list_aliases(&self, after: Option<&str>, limit: usize) -> Result<Vec<AliasRecord>, Error> {
        self.inner.list_aliases(after, limit)
    }
    fn insert_alias(&self, alias: &AliasRecord) -> Result<(), Error> {
        self.inner.insert_alias(alias)
    }
    fn update_alias(&self, alias: &AliasRecord) -> Result<bool, Error> {
        let mut log = self.log();
        let done = self.inner.update_alias(alias)?;
        if done {
            log.push(Commit::Alias {
                thread: thread::current().id(),
                key_id: alias.key_id.clone(),
            });
        }
        Ok(done)
    }
    fn delete_alias(&self, alias_name: &str) -> Result<bool, Error> {
        self.inner.delete_alias(alias_name)
    }
    fn consume_nonce(
        &self,
        token_key_id: &str,
        nonce: &[u8],
        expires: Timestamp,
        now: Timestamp,
    ) -> Result<bool, Error> {
        self.inner.consume_nonce(token_key_id, nonce, expires, now)
    }
}

/// Sleeps a few microseconds, a different amount each time.
fn perturb() {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    let n = N.fetch_add(0x9E37_79B9, Ordering::Relaxed);
    thread::sleep(std::time::Duration::from_micros(n % 300));
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Use,
    Stop,
    Start,
    Delete,
    Restore,
    MoveAliasTo(usize),
    UseAlias,
}

#[derive(Debug)]
struct Done {
    thread: ThreadId,
    kind: Kind,
    result: Result<Value, Error>,
    start: usize,
    end: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Model {
    state: KeyState,
    enabled: bool,
    alias: String,
}

/// A small deterministic generator, so a failing schedule's choices can be replayed.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const THREADS: usize = 8;
const OPS: usize = 60;

fn run<S: Store + 'static>(store: S, seed: u64) {
    let store = Recording {
        inner: store,
        log: Mutex::new(Vec::new()),
    };
    let hsm = Arc::new(Hsm::new(
        store,
        HsmConfig::new(Region::new("us-east-1").unwrap()),
    ));
    let create = |usage: &str| {
        api::dispatch(&*hsm, "CreateKey", json!({ "KeyAttributes": { "KeyUsage": usage, "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "AES_128", "KeyModesOfUse": { "Generate": true, "Verify": true } }, "Exportable": false }))
            .unwrap()["Key"]["KeyArn"].as_str().unwrap().to_owned()
    };
    let key = create("TR31_M6_ISO_9797_5_CMAC_KEY");
    let targets = [
        create("TR31_M6_ISO_9797_5_CMAC_KEY"),
        create("TR31_M6_ISO_9797_5_CMAC_KEY"),
    ];
    api::dispatch(
        &*hsm,
        "CreateAlias",
        json!({ "AliasName": "alias/hot", "KeyArn": targets[0] }),
    )
    .unwrap();
    assert!(hsm.store().log().is_empty());

    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (hsm, barrier, key, targets) = (Arc::clone(&hsm), Arc::clone(&barrier), key.clone(), targets.clone());
            thread::spawn(move || {
                let mut rng = XorShift(seed ^ (0x9E37_79B9_7F4A_7C15_u64.wrapping_mul(t as u64 + 1)));
                barrier.wait();
                let mut done = Vec::new();
                for _ in 0..OPS {
                    let kind = match rng.next() % 10 {
                        0..=2 => Kind::Use,
                        3 => Kind::Stop,
                        4 => Kind::Start,
                        5 => Kind::Delete,
                        6 => Kind::Restore,
                        7 => Kind::MoveAliasTo((rng.next() % 2) as usize),
                        _ => Kind::UseAlias,
                    };
                    let (op, input) = match kind {
                        Kind::Use => ("GenerateMac", json!({ "KeyIdentifier": key, "MessageData": "0011", "GenerationAttributes": { "Algorithm": "CMAC" } })),
                        Kind::Stop => ("StopKeyUsage", json!({ "KeyIdentifier": key })),
                        Kind::Start => ("StartKeyUsage", json!({ "KeyIdentifier": key })),
                        Kind::Delete => ("DeleteKey", json!({ "KeyIdentifier": key, "DeleteKeyInDays": 3 })),
                        Kind::Restore => ("RestoreKey", json!({ "KeyIdentifier": key })),
                        Kind::MoveAliasTo(i) => ("UpdateAlias", json!({ "AliasName": "alias/hot", "KeyArn": targets[i] })),
                        Kind::UseAlias => ("GetKey", json!({ "KeyIdentifier": "alias/hot" })),
                    };
                    let start = hsm.store().log().len();
                    let result = api::dispatch(&*hsm, op, input);
                    let end = hsm.store().log().len();
                    done.push(Done { thread: thread::current().id(), kind, result, start, end });
                }
                done
            })
        })
        .collect();
    let done: Vec<Done> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let log = hsm.store().log().clone();
    let key_id = key.rsplit('/').next().unwrap();
    let target_id = |i: usize| targets[i].rsplit('/').next().unwrap().to_owned();

    // Replay the commits through the model; attribute each to the operation that made it.
    let mut states = vec![Model {
        state: KeyState::CreateComplete,
        enabled: true,
        alias: target_id(0),
    }];
    let mut commits_of: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, c) in log.iter().enumerate() {
        let thread = match c {
            Commit::Key { thread, .. } | Commit::Alias { thread, .. } => *thread,
        };
        let owner = done
            .iter()
            .position(|d| d.thread == thread && d.start <= i && i < d.end)
            .unwrap_or_else(|| panic!("seed {seed}: commit {i} belongs to no operation"));
        commits_of.entry(owner).or_default().push(i);
        let prev = states.last().unwrap().clone();
        let kind = done[owner].kind;
        let next = match (c, kind) {
            (Commit::Key { .. }, Kind::Stop | Kind::Start)
                if prev.state == KeyState::CreateComplete =>
            {
                Model {
                    enabled: kind == Kind::Start,
                    ..prev.clone()
                }
            }
            (Commit::Key { .. }, Kind::Delete) if prev.state == KeyState::CreateComplete => Model {
                state: KeyState::DeletePending,
                enabled: false,
                ..prev.clone()
            },
            (Commit::Key { .. }, Kind::Restore) if prev.state == KeyState::DeletePending => Model {
                state: KeyState::CreateComplete,
                ..prev.clone()
            },
            (
                Commit::Alias {
                    key_id: Some(id), ..
                },
                Kind::MoveAliasTo(t),
            ) if *id == target_id(t) => Model {
                alias: id.clone(),
                ..prev.clone()
            },
            _ => panic!("seed {seed}: commit {i} {c:?} by {kind:?} is illegal from {prev:?}"),
        };
        if let Commit::Key { state, enabled, .. } = c {
            assert_eq!(
                (*state, *enabled),
                (next.state, next.enabled),
                "seed {seed}: commit {i}"
            );
        }
        states.push(next);
    }

    // Every outcome is explained by a model state within its window.
    for (n, d) in done.iter().enumerate() {
        let window = &states[d.start..=d.end];
        let any = |f: &dyn Fn(&Model) -> bool| window.iter().any(f);
        let commits = commits_of.get(&n).map_or(0, Vec::len);
        let ok = match (&d.kind, &d.result) {
            (Kind::Use, Ok(_)) => any(&|m| m.state == KeyState::CreateComplete && m.enabled),
            (
                Kind::Use,
                Err(Error::Policy {
                    rule: Rule::KeyState,
                    ..
                }),
            ) => any(&|m| m.state != KeyState::CreateComplete),
            (
                Kind::Use,
                Err(Error::Policy {
                    rule: Rule::KeyDisabled,
                    ..
                }),
            ) => any(&|m| m.state == KeyState::CreateComplete && !m.enabled),
            (Kind::Stop | Kind::Start, Ok(v)) => {
                commits == 1
                    && v["Key"]["Enabled"] == json!(d.kind == Kind::Start)
                    && v["Key"]["KeyState"] == "CREATE_COMPLETE"
            }
            (Kind::Stop | Kind::Start, Err(Error::Conflict { .. })) => {
                commits == 0 && any(&|m| m.state != KeyState::CreateComplete)
            }
            (Kind::Delete, Ok(v)) => {
                v["Key"]["KeyState"] == "DELETE_PENDING"
                    && (commits == 1 || any(&|m| m.state == KeyState::DeletePending))
            }
            (Kind::Restore, Ok(v)) => commits == 1 && v["Key"]["KeyState"] == "CREATE_COMPLETE",
            (Kind::Restore, Err(Error::Conflict { .. })) => {
                commits == 0 && any(&|m| m.state != KeyState::DeletePending)
            }
            (Kind::MoveAliasTo(_), Ok(_)) => commits == 1,
            (Kind::UseAlias, Ok(v)) => {
                let arn = v["Key"]["KeyArn"].as_str().unwrap();
                any(&|m| arn.ends_with(&m.alias))
            }
            _ => false,
        };
        assert!(
            ok,
            "seed {seed}: {:?} -> {:?} is not explained by any of {window:?}",
            d.kind, d.result
        );
    }

    // The store ends where the model ends.
    let last = states.last().unwrap();
    let record = hsm.store().get_key(key_id).unwrap().unwrap();
    assert_eq!(
        (record.state, record.enabled),
        (last.state, last.enabled),
        "seed {seed}"
    );
    assert_eq!(
        hsm.store()
            .get_alias("alias/hot")
            .unwrap()
            .unwrap()
            .key_id
            .as_deref(),
        Some(last.alias.as_str())
    );
    assert_eq!(
        record.revision,
        1 + log
            .iter()
            .filter(|c| matches!(c, Commit::Key { .. }))
            .count() as u64,
        "seed {seed}: no lost update"
    );
    let kinds = |f: fn(&Done) -> bool| done.iter().filter(|d| f(d)).count();
    assert!(
        kinds(|d| d.kind == Kind::Use && d.result.is_ok()) > 0,
        "some uses succeeded"
    );
    assert!(
        kinds(|d| d.kind == Kind::Use && d.result.is_err()) > 0,
        "some uses were refused"
    );
}

fn seed() -> u64 {
    std::env::var("PAYHSM_CONCURRENCY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let mut b = [0u8; 8];
            payhsm_core::rng::RandomSource::fill(&mut OsRandom, &mut b).unwrap();
            u64::from_le_bytes(b) | 1
        })
}

#[test]
fn memory_store_is_linearizable_under_contention() {
    for _ in 0..5 {
        let s = seed();
        run(
            MemoryStore::new(MasterKey::generate(&mut OsRandom).unwrap()),
            s,
        );
    }
}

#[test]
fn sqlite_store_is_linearizable_under_contention() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..2 {
        let s = seed();
        let store = SqliteStore::create(
            &dir.path().join(format!("keys{i}.db")),
            MasterKey::generate(&mut OsRandom).unwrap(),
        )
        .unwrap();
        run(store, s);
    }
}
