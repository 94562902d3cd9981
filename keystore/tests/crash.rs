//! T-KS-1: a crash at any failpoint of create, import, delete (scheduling and completion) and
//! alias changes loses no committed key and leaves no half-written one.
//!
//! For each failpoint the test prepares a store, then runs one operation in a child process (this
//! test binary, re-run as `crash_child_entry` with `PAYHSM_FAILPOINT` set). When the child
//! announces that it reached the failpoint, the test kills it with SIGKILL, reopens the store and
//! checks that every committed key is there and opens, and that the interrupted operation is
//! either wholly there (it had committed) or wholly absent.
//!
//! Replication (issue 11): a child creates a key replicated to a second region and drains the
//! outbox, and is killed after the outbox commit, after the export, after the replica import,
//! before the status update (and while the regions link). The restart (the next process)
//! drains again and must end with the replica `SYNCHRONIZED`, exactly one replica in the
//! region, and the replica's KCV equal to the primary's.
//!
//! File-system faults (T-KS-2, T-KS-3, T-KS-4): the child runs with `preload/faults.c` loaded by
//! `LD_PRELOAD`, below SQLite, which makes fsync fail with EIO, writes fail with ENOSPC, or
//! cuts the power at the k-th sync after losing, tearing or reordering the writes since the
//! previous one. After EIO the store refuses writes (fail-stop) and keeps serving reads; after
//! ENOSPC the call fails and the next succeeds; after a power cut the store reopens intact with
//! each change all there or not at all.

mod preload;

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{Arc, mpsc},
    time::{Duration, Instant},
};

use payhsm_core::{kcv, rng::OsRandom};
use payhsm_keystore::{
    Hsm, HsmConfig, SqliteStore, Store,
    api::{self, LocalRegions},
    arn::Region,
    clock::{ManualClock, Timestamp},
    master_key::{read_dev_key_file, write_dev_key_file},
    model::{KeyState, MultiRegion},
    replication,
};
use serde_json::{Value, json};

const T0: i64 = 1_795_000_000_000;

fn open(dir: &Path, now: i64) -> Hsm<SqliteStore> {
    let store = SqliteStore::open(
        &dir.join("keys.db"),
        read_dev_key_file(&dir.join("master.key")).unwrap(),
    )
    .unwrap();
    let mut config = HsmConfig::new(Region::new("us-east-1").unwrap());
    config.clock = Arc::new(ManualClock::new(Timestamp(now)));
    Hsm::new(store, config)
}

fn call(h: &Hsm<SqliteStore>, op: &str, input: Value) -> Value {
    api::dispatch(h, op, input).unwrap_or_else(|e| panic!("{op}: {e}"))
}

fn create(h: &Hsm<SqliteStore>, usage: &str, alg: &str, modes: Value, exportable: bool) -> String {
    call(h, "CreateKey", json!({ "KeyAttributes": { "KeyUsage": usage, "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": alg, "KeyModesOfUse": modes }, "Exportable": exportable }))["Key"]["KeyArn"]
        .as_str().unwrap().to_owned()
}

/// What the prepared store holds (all committed before the child starts).
struct Setup {
    dir: PathBuf,
    kbpk: String,
    victim: String,
    pending: String,
    a: String,
    b: String,
    block: String,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap().keep();
    let master = write_dev_key_file(&dir.join("master.key"), &mut OsRandom).unwrap();
    SqliteStore::create(&dir.join("keys.db"), master).unwrap();
    let h = open(&dir, T0);
    let b4 = json!({ "Encrypt": true, "Decrypt": true, "Wrap": true, "Unwrap": true });
    let kbpk = create(&h, "TR31_K1_KEY_BLOCK_PROTECTION_KEY", "AES_256", b4, false);
    let gv = json!({ "Generate": true, "Verify": true });
    let victim = create(
        &h,
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        gv.clone(),
        true,
    );
    let pending = create(
        &h,
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        gv.clone(),
        false,
    );
    let a = create(
        &h,
        "TR31_M3_ISO_9797_3_MAC_KEY",
        "TDES_2KEY",
        gv.clone(),
        false,
    );
    let b = create(&h, "TR31_M3_ISO_9797_3_MAC_KEY", "TDES_2KEY", gv, false);
    call(
        &h,
        "CreateAlias",
        json!({ "AliasName": "alias/hot", "KeyArn": a }),
    );
    call(
        &h,
        "CreateAlias",
        json!({ "AliasName": "alias/old", "KeyArn": b }),
    );
    call(
        &h,
        "DeleteKey",
        json!({ "KeyIdentifier": pending, "DeleteKeyInDays": 3 }),
    );
    let block = call(&h, "ExportKey", json!({ "ExportKeyIdentifier": victim, "KeyMaterial": { "Tr31KeyBlock": { "WrappingKeyIdentifier": kbpk } } }))["WrappedKey"]["KeyMaterial"]
        .as_str().unwrap().to_owned();
    Setup {
        dir,
        kbpk,
        victim,
        pending,
        a,
        b,
        block,
    }
}

/// The operations a child runs, by name.
fn child_op(op: &str, dir: &Path, s: &Value) {
    let h = open(dir, T0 + 4 * 86_400_000);
    arm_fault_from_env();
    let arg = |k: &str| s[k].as_str().unwrap().to_owned();
    match op {
        "create" => {
            create(
                &h,
                "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY",
                "AES_128",
                json!({ "NoRestrictions": true }),
                false,
            );
        }
        "import" => {
            call(
                &h,
                "ImportKey",
                json!({ "KeyMaterial": { "Tr31KeyBlock": { "WrappingKeyIdentifier": arg("kbpk"), "WrappedKeyBlock": arg("block") } } }),
            );
        }
        "delete" => {
            call(&h, "DeleteKey", json!({ "KeyIdentifier": arg("victim") }));
        }
        "complete_deletion" => {
            call(&h, "GetKey", json!({ "KeyIdentifier": arg("pending") }));
        }
        "create_alias" => {
            call(
                &h,
                "CreateAlias",
                json!({ "AliasName": "alias/new", "KeyArn": arg("victim") }),
            );
        }
        "move_alias" => {
            call(
                &h,
                "UpdateAlias",
                json!({ "AliasName": "alias/hot", "KeyArn": arg("b") }),
            );
        }
        "delete_alias" => {
            call(&h, "DeleteAlias", json!({ "AliasName": "alias/old" }));
        }
        "eio" => eio_fails_stop(&h, &arg("a")),
        "enospc" => enospc_fails_the_call(&h),
        other => panic!("unknown op {other}"),
    }
    // Told before the store closes: a change reported done must survive a cut after this.
    eprintln!("RETURNED");
    drop(h);
}

/// The child's entry point: does nothing unless the crash test started this process.
#[test]
fn crash_child_entry() {
    let (Ok(dir), Ok(op), Ok(setup)) = (
        std::env::var("PAYHSM_CRASH_DIR"),
        std::env::var("PAYHSM_CRASH_OP"),
        std::env::var("PAYHSM_CRASH_SETUP"),
    ) else {
        return;
    };
    if op == "replicate" {
        replicate(Path::new(&dir));
    } else {
        child_op(&op, Path::new(&dir), &serde_json::from_str(&setup).unwrap());
    }
    eprintln!("DONE");
}

/// Runs `op` in a child stopped at `failpoint` (or to completion if `None`), SIGKILLs it there.
fn run_child(s: &Setup, op: &str, failpoint: Option<&str>) {
    let setup = json!({ "kbpk": s.kbpk, "victim": s.victim, "pending": s.pending, "a": s.a, "b": s.b, "block": s.block });
    run_child_in(&s.dir, op, &setup, failpoint);
}

/// Runs `op` on the store in `dir` in a child (see [`run_child`]).
fn run_child_in(dir: &Path, op: &str, setup: &Value, failpoint: Option<&str>) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "crash_child_entry",
        "--nocapture",
        "--test-threads",
        "1",
    ])
    .env("PAYHSM_CRASH_DIR", dir)
    .env("PAYHSM_CRASH_OP", op)
    .env("PAYHSM_CRASH_SETUP", setup.to_string())
    .env_remove("PAYHSM_FAILPOINT")
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    if let Some(f) = failpoint {
        cmd.env("PAYHSM_FAILPOINT", f);
    }
    let mut child = cmd.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.starts_with("FAILPOINT ") || line == "DONE" {
                let _ = tx.send(line);
            }
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(120))
        .unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("{op}: the child never reached {failpoint:?}")
        });
    match failpoint {
        Some(f) => {
            assert_eq!(line, format!("FAILPOINT {f}"));
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
        }
        None => {
            assert_eq!(line, "DONE");
            assert!(child.wait().unwrap().success());
        }
    }
}

/// After the crash: the store opens, every record authenticates, the committed keys are all
/// there, and the interrupted change is all there or not there at all.
/// `committed: None` accepts either, for a power cut whose moment is not known.
fn check(s: &Setup, op: &str, committed: Option<bool>) {
    let db = s.dir.join("keys.db");
    {
        let conn = rusqlite_check(&db);
        assert_eq!(conn, "ok", "{op}: integrity_check");
    }
    let h = open(&s.dir, T0 + 86_400_000);
    let store = h.store();
    let records = store.list_keys(None, 1000).unwrap();
    for r in &records {
        if r.state == KeyState::DeleteComplete {
            assert!(r.key_block.is_none());
            continue;
        }
        let handle = store
            .open(r)
            .unwrap_or_else(|e| panic!("{op}: key {} does not open: {e}", r.key_id));
        let kcv = kcv::compute(&*handle, r.key_check_value_algorithm, 3).unwrap();
        assert_eq!(kcv.to_string(), r.key_check_value, "{op}: key {}", r.key_id);
    }
    let id = |arn: &str| arn.rsplit('/').next().unwrap().to_owned();
    for arn in [&s.kbpk, &s.victim, &s.pending, &s.a, &s.b] {
        assert!(
            records.iter().any(|r| r.key_id == id(arn)),
            "{op}: committed key {arn} lost"
        );
    }
    let extra = records.len() - 5;
    let alias = |name: &str| store.get_alias(name).unwrap();
    let state_of = |arn: &str| records.iter().find(|r| r.key_id == id(arn)).unwrap().state;
    let (present, label) = match op {
        "create" | "import" => (extra == 1, "the new key"),
        "delete" => (
            state_of(&s.victim) == KeyState::DeletePending,
            "the deletion",
        ),
        "complete_deletion" => (
            state_of(&s.pending) == KeyState::DeleteComplete,
            "the completed deletion",
        ),
        "create_alias" => (alias("alias/new").is_some(), "the new alias"),
        "move_alias" => (
            alias("alias/hot").unwrap().key_id == Some(id(&s.b)),
            "the alias move",
        ),
        "delete_alias" => (alias("alias/old").is_none(), "the alias deletion"),
        _ => unreachable!(),
    };
    assert_eq!(
        present,
        committed.unwrap_or(present),
        "{op}: {label} is {} after the crash",
        if present { "present" } else { "absent" }
    );
    if !matches!(op, "create" | "import") {
        assert_eq!(extra, 0, "{op}: no key appeared");
    }
    // Whatever else happened, the unchanged alias still points where it did.
    if op != "move_alias" {
        assert_eq!(alias("alias/hot").unwrap().key_id, Some(id(&s.a)));
    }
    // The untouched state stayed put.
    if op != "delete" {
        assert_eq!(state_of(&s.victim), KeyState::CreateComplete);
    }
}

fn rusqlite_check(db: &Path) -> String {
    // A read-only look with the store's own SQLite.
    let store_conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    store_conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn no_committed_key_is_lost_and_none_is_half_written() {
    // (operation, failpoint, whether the change had committed when the process died)
    let cases: &[(&str, &str, bool)] = &[
        ("create", "hsm.add_key.before_insert", false),
        ("create", "sqlite.insert_key.before_commit", false),
        ("create", "sqlite.insert_key.after_commit", true),
        ("import", "hsm.add_key.before_insert", false),
        ("import", "sqlite.insert_key.before_commit", false),
        ("import", "sqlite.insert_key.after_commit", true),
        ("delete", "sqlite.update_key.before_commit", false),
        ("delete", "sqlite.update_key.after_commit", true),
        (
            "complete_deletion",
            "hsm.complete_deletion.before_update",
            false,
        ),
        (
            "complete_deletion",
            "sqlite.update_key.before_commit",
            false,
        ),
        ("complete_deletion", "sqlite.update_key.after_commit", true),
        ("create_alias", "hsm.create_alias.before_insert", false),
        ("create_alias", "sqlite.insert_alias.before_commit", false),
        ("create_alias", "sqlite.insert_alias.after_commit", true),
        ("move_alias", "hsm.update_alias.before_update", false),
        ("move_alias", "sqlite.update_alias.before_commit", false),
        ("move_alias", "sqlite.update_alias.after_commit", true),
        ("delete_alias", "sqlite.delete_alias.before_commit", false),
        ("delete_alias", "sqlite.delete_alias.after_commit", true),
    ];
    for (op, failpoint, committed) in cases {
        let s = setup();
        run_child(&s, op, Some(failpoint));
        check(&s, op, Some(*committed));
    }
    // Without a failpoint every operation completes: the harness itself is sound.
    for op in [
        "create",
        "import",
        "delete",
        "complete_deletion",
        "create_alias",
        "move_alias",
        "delete_alias",
    ] {
        let s = setup();
        run_child(&s, op, None);
        check(&s, op, Some(true));
    }
}

const EAST: &str = "us-east-1";
const WEST: &str = "us-west-2";

/// Both regions' stores in `dir/<region>/`, linked in this process.
fn open_regions(
    dir: &Path,
) -> (
    Arc<LocalRegions>,
    Arc<Hsm<SqliteStore>>,
    Arc<Hsm<SqliteStore>>,
) {
    let regions = LocalRegions::new();
    let open = |name: &str| {
        let store = SqliteStore::open(
            &dir.join(name).join("keys.db"),
            read_dev_key_file(&dir.join(name).join("master.key")).unwrap(),
        )
        .unwrap();
        regions.add_hsm(store, HsmConfig::new(Region::new(name).unwrap()))
    };
    let east = open(EAST);
    let west = open(WEST);
    (regions, east, west)
}

fn drain(east: &Hsm<SqliteStore>) -> replication::Drained {
    replication::drain(
        east,
        &replication::Retry::default(),
        Instant::now() + Duration::from_secs(120),
    )
    .unwrap()
}

/// The child's work: a key replicated to `WEST`, and the drain.
fn replicate(dir: &Path) {
    let (_regions, east, _west) = open_regions(dir);
    call(
        &east,
        "CreateKey",
        json!({
            "KeyAttributes": { "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "TDES_2KEY", "KeyModesOfUse": { "Generate": true, "Verify": true } },
            "Exportable": true, "ReplicationRegions": [WEST],
        }),
    );
    drain(&east);
}

#[test]
fn replication_converges_after_a_crash_at_every_failpoint() {
    let cases = [
        // The key and its outbox item committed; nothing replicated yet.
        "sqlite.insert_key.after_commit",
        // The regions exchanged the KEK, and the link was not saved yet.
        "sqlite.put_setting.replication.before_commit",
        "replication.after_export",
        "replication.after_replica_import",
        "replication.before_status_update",
    ];
    for failpoint in cases.into_iter().map(Some).chain([None]) {
        let dir = tempfile::tempdir().unwrap().keep();
        for region in [EAST, WEST] {
            std::fs::create_dir(dir.join(region)).unwrap();
            let master =
                write_dev_key_file(&dir.join(region).join("master.key"), &mut OsRandom).unwrap();
            SqliteStore::create(&dir.join(region).join("keys.db"), master).unwrap();
        }
        run_child_in(&dir, "replicate", &json!({}), failpoint);
        // The restart: the next process drains what is left.
        let (_regions, east, west) = open_regions(&dir);
        let drained = drain(&east);
        assert!(drained.is_complete(), "{failpoint:?}: {drained:?}");
        for region in [EAST, WEST] {
            let db = dir.join(region).join("keys.db");
            assert_eq!(
                rusqlite_check(&db),
                "ok",
                "{failpoint:?}: {region} integrity_check"
            );
        }
        let primaries: Vec<_> = east
            .store()
            .list_keys(None, 1000)
            .unwrap()
            .into_iter()
            .filter(|r| matches!(r.multi_region, Some(MultiRegion::Primary(_))))
            .collect();
        assert_eq!(primaries.len(), 1, "{failpoint:?}: the primary");
        let primary = &primaries[0];
        let arn = east.arn(&primary.key_id).unwrap().to_string();
        let key = call(&east, "GetKey", json!({ "KeyIdentifier": arn }));
        assert_eq!(
            key["Key"]["ReplicationStatus"][WEST]["Status"], "SYNCHRONIZED",
            "{failpoint:?}"
        );
        let replicas: Vec<_> = west
            .store()
            .list_keys(None, 1000)
            .unwrap()
            .into_iter()
            .filter(|r| matches!(r.multi_region, Some(MultiRegion::Replica { .. })))
            .collect();
        assert_eq!(replicas.len(), 1, "{failpoint:?}: exactly one replica");
        assert_eq!(replicas[0].key_id, primary.key_id);
        assert_eq!(replicas[0].state, KeyState::CreateComplete);
        let handle = west.store().open(&replicas[0]).unwrap();
        let kcv = kcv::compute(&*handle, replicas[0].key_check_value_algorithm, 3).unwrap();
        assert_eq!(
            kcv.to_string(),
            primary.key_check_value,
            "{failpoint:?}: replica KCV"
        );
        assert!(east.store().outbox(None, 10).unwrap().is_empty());
    }
}

// File-system faults.

const FAULT_OFF: i32 = 0;
const FAULT_EIO: i32 = 1;
const FAULT_ENOSPC: i32 = 2;
/// The power-cut modes: the writes since the last sync are lost, torn, or reordered.
const POWER_CUTS: [(&str, i32); 3] = [("lose", 3), ("tear", 4), ("reorder", 5)];

/// Arms the preloaded shim: `mode`, and for a power cut the sync `k` that ends the process.
fn arm(mode: i32, k: i32) {
    let file = std::env::var("PAYHSM_FAULT_FILE").expect("the fault shim's file");
    std::fs::write(file, format!("{mode} {k}")).unwrap();
}

/// Arms the fault `PAYHSM_FAULT` ("mode,k") names, if any.
fn arm_fault_from_env() {
    if let Ok(fault) = std::env::var("PAYHSM_FAULT") {
        let (mode, k) = fault.split_once(',').unwrap();
        arm(mode.parse().unwrap(), k.parse().unwrap());
    }
}

/// Runs `op` in a child with the shim loaded and `fault` armed once the store is open.
/// Whether the operation returned, and whether the process then ended without a power cut.
fn run_faulted(s: &Setup, op: &str, fault: (i32, i32)) -> (bool, bool) {
    let setup = json!({ "kbpk": s.kbpk, "victim": s.victim, "pending": s.pending, "a": s.a, "b": s.b, "block": s.block });
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_child_entry",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("PAYHSM_CRASH_DIR", &s.dir)
        .env("PAYHSM_CRASH_OP", op)
        .env("PAYHSM_CRASH_SETUP", setup.to_string())
        .env("PAYHSM_FAULT", format!("{},{}", fault.0, fault.1))
        .env("PAYHSM_FAULT_FILE", s.dir.join("fault"))
        .env("LD_PRELOAD", preload::shim("faults"))
        .env_remove("PAYHSM_FAILPOINT")
        .output()
        .unwrap();
    let returned = String::from_utf8_lossy(&out.stderr).contains("RETURNED");
    match out.status.code() {
        Some(0) => (returned, true),
        Some(86) => (returned, false),
        _ => panic!(
            "{op} under fault {fault:?}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

fn create_request() -> Value {
    json!({ "KeyAttributes": { "KeyUsage": "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "AES_128", "KeyModesOfUse": { "NoRestrictions": true } }, "Exportable": false })
}

/// In the child: EIO on fsync fails the write and stops the store; reads go on.
fn eio_fails_stop(h: &Hsm<SqliteStore>, mac_key: &str) {
    let e = api::dispatch(h, "CreateKey", create_request()).unwrap_err();
    assert_eq!(e.name(), "ServiceUnavailableException", "{e}");
    assert!(e.message().contains("fail-stop"), "{e}");
    arm(FAULT_OFF, 0);
    // The disk is back, but a store that lost an fsync does not trust its page cache again.
    for (op, input) in [
        ("CreateKey", create_request()),
        (
            "CreateAlias",
            json!({ "AliasName": "alias/after", "KeyArn": mac_key }),
        ),
        ("StopKeyUsage", json!({ "KeyIdentifier": mac_key })),
    ] {
        let e = api::dispatch(h, op, input).unwrap_err();
        assert_eq!(e.name(), "ServiceUnavailableException", "{op}: {e}");
        assert!(
            e.message()
                .contains("refuses writes (fail-stop) since a disk I/O error"),
            "{op}: {e}"
        );
    }
    call(h, "GetKey", json!({ "KeyIdentifier": mac_key }));
    call(
        h,
        "GenerateMac",
        json!({ "KeyIdentifier": mac_key, "MessageData": "0011223344556677", "GenerationAttributes": { "Algorithm": "ISO9797_ALGORITHM3" } }),
    );
}

/// In the child: ENOSPC fails the write with nothing written; the next write succeeds.
fn enospc_fails_the_call(h: &Hsm<SqliteStore>) {
    let e = api::dispatch(h, "CreateKey", create_request()).unwrap_err();
    assert_eq!(e.name(), "InternalServerException", "{e}");
    assert!(e.message().contains("the disk is full"), "{e}");
    arm(FAULT_OFF, 0);
    call(h, "CreateKey", create_request());
}

#[test]
fn t_ks_3_eio_on_fsync_stops_the_store_for_writes() {
    let s = setup();
    assert_eq!(run_faulted(&s, "eio", (FAULT_EIO, 0)), (true, true));
    // The failed key may be on disk (only its fsync failed) or not; nothing else changed.
    check(&s, "create", None);
}

#[test]
fn t_ks_4_enospc_fails_the_write_and_keeps_the_store() {
    let s = setup();
    assert_eq!(run_faulted(&s, "enospc", (FAULT_ENOSPC, 0)), (true, true));
    // Exactly one new key: the one created after the disk had room again.
    check(&s, "create", Some(true));
}

#[test]
fn t_ks_2_a_power_cut_at_any_sync_keeps_each_change_whole() {
    // A create syncs the WAL; a completed deletion also checkpoints it into the database and
    // truncates it, so it has syncs of both files.
    for op in ["create", "complete_deletion"] {
        for (name, mode) in POWER_CUTS {
            let mut k = 1;
            loop {
                let s = setup();
                let (returned, finished) = run_faulted(&s, op, (mode, k));
                check(&s, op, returned.then_some(true));
                if finished {
                    break;
                }
                k += 1;
                assert!(k < 20, "{op} {name}: more syncs than expected");
            }
            assert!(k > 1, "{op} {name}: the power cut never happened");
        }
    }
}
