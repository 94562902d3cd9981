//! The body of the `ksn_parse` fuzz target: DUKPT key serial numbers, TDES (10 bytes) and AES
//! (12 bytes), from bytes and from hex. No input may panic; a parsed KSN prints and parses
//! back to itself, and its counter steps within its rules.

use payhsm_core::dukpt::{AesKsn, Ksn, TdesKsn};

/// Feeds `data` to every KSN parser.
pub fn run(data: &[u8]) {
    if let Ok(ksn) = TdesKsn::from_bytes(data) {
        // 10 bytes, or 8 with the customary FFFF in front.
        assert!(ksn.as_bytes().ends_with(data));
        assert!(data.len() == 10 || ksn.as_bytes()[..2] == [0xFF, 0xFF]);
        assert_eq!(TdesKsn::from_hex(&ksn.to_string()).unwrap(), ksn);
        let _ = ksn.check_counter();
        let _ = ksn.next();
        assert_eq!(ksn.initial().counter(), 0);
    }
    if let Ok(ksn) = AesKsn::from_bytes(data) {
        assert_eq!(&ksn.as_bytes()[..], data);
        assert_eq!(AesKsn::from_hex(&ksn.to_string()).unwrap(), ksn);
        let _ = ksn.check_counter();
        let _ = ksn.next();
    }
    if let Ok(text) = core::str::from_utf8(data) {
        let _ = TdesKsn::from_hex(text);
        let _ = AesKsn::from_hex(text);
        if let Ok(ksn) = Ksn::from_hex(text) {
            assert!(matches!(ksn.as_bytes().len(), 10 | 12));
        }
    }
}
