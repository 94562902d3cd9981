//! One module per family; each exposes `check`, which runs one entry.

mod cvv;
mod dukpt;
mod emv;
mod kcv;
mod mac;
mod pinblock;
mod pvv_ibm3624;
mod tr31;
mod tr34;

use crate::Family;

macro_rules! families {
    ($($name:ident),* $(,)?) => {
        /// Every family, in the order `payhsm vectors` prints them.
        pub static FAMILIES: &[Family] = &[$(Family {
            name: stringify!($name),
            data: include_str!(concat!("../../data/", stringify!($name), ".json")),
            check: $name::check,
        }),*];
    };
}

families!(tr31, tr34, kcv, pinblock, cvv, pvv_ibm3624, mac, dukpt, emv);
