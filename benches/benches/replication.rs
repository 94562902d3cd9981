//! Multi-region keys on the embedded SQLite store, two regions linked in this process: the
//! time from `CreateKey` to the replica's `SYNCHRONIZED` (the create, its outbox commit, the
//! drain: a TR-31 export under the region link's KEK, `ImportKeyReplica`, the status update)
//! and keys replicated per second (a drain of 16 keys), in the same run as a plain
//! `CreateKey` and a `CreateKey` with `ReplicationRegions` (the outbox row alone). The link's
//! one-time TR-34 exchange is made before the measurements.

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use payhsm_core::rng::OsRandom;
use payhsm_keystore::{
    Hsm, HsmConfig, SqliteStore,
    api::{self, LocalRegions},
    arn::Region,
    master_key::MasterKey,
    replication::{self, Retry},
};
use serde_json::{Value, json};

fn cvk(regions: &[&str]) -> Value {
    json!({
        "KeyAttributes": { "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "TDES_2KEY", "KeyModesOfUse": { "Generate": true, "Verify": true } },
        "Exportable": true, "ReplicationRegions": regions,
    })
}

fn drain(hsm: &Hsm<SqliteStore>) -> usize {
    let d = replication::drain(
        hsm,
        &Retry::default(),
        Instant::now() + Duration::from_secs(60),
    )
    .unwrap();
    assert!(d.is_complete(), "{d:?}");
    d.synchronized
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let regions = LocalRegions::new();
    let open = |name: &str| {
        let store = SqliteStore::create(
            &dir.path().join(format!("{name}.db")),
            MasterKey::generate(&mut OsRandom).unwrap(),
        )
        .unwrap();
        regions.add_hsm(store, HsmConfig::new(Region::new(name).unwrap()))
    };
    let east = open("us-east-1");
    let _west = open("us-west-2");
    // The region link, once.
    api::dispatch(&*east, "CreateKey", cvk(&["us-west-2"])).unwrap();
    assert_eq!(drain(&east), 1);

    let mut g = c.benchmark_group("replication");
    g.sample_size(20);
    g.bench_function("create_key", |b| {
        b.iter(|| api::dispatch(&*east, "CreateKey", black_box(cvk(&[]))).unwrap());
    });
    g.bench_function("create_key_replicated", |b| {
        b.iter(|| api::dispatch(&*east, "CreateKey", black_box(cvk(&["us-west-2"]))).unwrap());
        drain(&east);
    });
    g.bench_function("create_key_to_synchronized", |b| {
        b.iter(|| {
            api::dispatch(&*east, "CreateKey", black_box(cvk(&["us-west-2"]))).unwrap();
            assert_eq!(drain(&east), 1);
        });
    });
    const BATCH: u64 = 16;
    g.throughput(Throughput::Elements(BATCH));
    g.bench_function("drain_16_keys", |b| {
        b.iter_batched(
            || {
                for _ in 0..BATCH {
                    api::dispatch(&*east, "CreateKey", cvk(&["us-west-2"])).unwrap();
                }
            },
            |()| assert_eq!(drain(&east) as u64, BATCH),
            BatchSize::PerIteration,
        );
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
