//! C shims the tests load into a child process with `LD_PRELOAD`, below the Rust code: the
//! workspace forbids `unsafe`, and what they watch (fsync, free) lives in the C library.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Command,
    sync::Mutex,
};

/// `tests/preload/{name}.c` built as a shared library with the system C compiler, once per
/// test process.
pub(crate) fn shim(name: &str) -> PathBuf {
    static BUILT: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());
    let mut built = BUILT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    built
        .entry(name.to_owned())
        .or_insert_with(|| {
            let out = tempfile::tempdir()
                .unwrap()
                .keep()
                .join(format!("{name}.so"));
            let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/preload/{name}.c"));
            let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
            let status = Command::new(&cc)
                .args(["-shared", "-fPIC", "-O1", "-Wall", "-Werror", "-o"])
                .arg(&out)
                .arg(&src)
                .arg("-ldl")
                .status()
                .unwrap_or_else(|e| panic!("the test needs a C compiler ({cc}): {e}"));
            assert!(status.success(), "{cc} could not build {}", src.display());
            out
        })
        .clone()
}
