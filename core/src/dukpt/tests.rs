use alloc::{format, vec::Vec};

use super::*;
use crate::{hex, pin::block::Fill, rng::Replay};

fn h(s: &str) -> Vec<u8> {
    hex::decode("test", s).unwrap()
}

fn tdes_bdk() -> KeyMaterial {
    KeyMaterial::from_hex("bdk", "0123456789ABCDEFFEDCBA9876543210").unwrap()
}

fn aes128_bdk() -> SoftwareKey {
    SoftwareKey::from_hex(KeyAlgorithm::Aes128, "FEDCBA9876543210F1F1F1F1F1F1F1F1").unwrap()
}

fn aes256_bdk() -> SoftwareKey {
    SoftwareKey::from_hex(
        KeyAlgorithm::Aes256,
        "FEDCBA9876543210F1F1F1F1F1F1F1F1FEDCBA9876543210F1F1F1F1F1F1F1F1",
    )
    .unwrap()
}

fn ksn(s: &str) -> Ksn {
    Ksn::from_hex(s).unwrap()
}

// ANSI X9.24-1:2009 A.4 (shared vectors, dukpt.json): IPEK and the first transaction.
#[test]
fn tdes_ipek_and_first_transaction() {
    let bdk = tdes_bdk();
    let k = ksn("FFFF9876543210E00001");
    let d = derive(Bdk::Tdes(&bdk), &k, Some(WorkingKeyUsage::Pin), None).unwrap();
    assert_eq!(
        d.initial_key.expose_secret(),
        h("6AC292FAA1315B4D858AB3A3D7D5933A")
    );
    assert_eq!(
        d.transaction_key.expose_secret(),
        h("042666B49184CFA368DE9628D0397BC9")
    );
    assert_eq!(
        d.working_key.unwrap().expose_secret(),
        h("042666B49184CF5C68DE9628D0397B36")
    );
    let pin = Pin::new("1234").unwrap();
    let pan = Pan::new("4012345678909").unwrap();
    let block = encrypt_pin(
        Bdk::Tdes(&bdk),
        &k,
        None,
        PinBlockFormat::Iso0,
        &pin,
        Some(&pan),
        Fill::Given(""),
    )
    .unwrap();
    assert_eq!(block.as_bytes(), h("1B9C1845EB993A7A"));
    let back = decrypt_pin(
        Bdk::Tdes(&bdk),
        &k,
        None,
        PinBlockFormat::Iso0,
        &block,
        Some(&pan),
    )
    .unwrap();
    assert_eq!(back.expose_secret(), "1234");
}

// X9.24-1:2009 A.4.3: a rollover KSN; MACs (retail MAC, 4 bytes) and data encryption.
#[test]
fn tdes_rollover_mac_and_data() {
    let bdk = tdes_bdk();
    let k = ksn("FFFF9876543210EFF802");
    let msg = b"4012345678909D987";
    let alg = DukptMacAlgorithm::Iso9797Algorithm3;
    let mac = |v| generate_mac(Bdk::Tdes(&bdk), &k, v, None, alg, msg, Some(4)).unwrap();
    assert_eq!(mac(KeyVariant::Request).as_bytes(), h("72608521"));
    assert_eq!(mac(KeyVariant::Response).as_bytes(), h("BF7036B7"));
    verify_mac(
        Bdk::Tdes(&bdk),
        &k,
        KeyVariant::Request,
        None,
        alg,
        msg,
        &h("72608521"),
    )
    .unwrap();
    assert_eq!(
        verify_mac(
            Bdk::Tdes(&bdk),
            &k,
            KeyVariant::Request,
            None,
            alg,
            msg,
            &h("72608520")
        ),
        Err(Error::VerificationFailed)
    );
    let d = derive(
        Bdk::Tdes(&bdk),
        &k,
        Some(WorkingKeyUsage::DataEncrypt),
        None,
    )
    .unwrap();
    assert_eq!(
        d.working_key.unwrap().expose_secret(),
        h("C27EE6571C9855AE5DEA206A0C6FCCE8")
    );
    let mut data = h("343031323334353637383930394439383700000000000000");
    encrypt_data(
        Bdk::Tdes(&bdk),
        &k,
        KeyVariant::Request,
        None,
        DukptEncryptionMode::Cbc,
        None,
        &mut data,
    )
    .unwrap();
    assert_eq!(data, h("74A1250E3234DEDEB422FA7F862C484BBA6924DF9BC32CE5"));
    decrypt_data(
        Bdk::Tdes(&bdk),
        &k,
        KeyVariant::Request,
        None,
        DukptEncryptionMode::Cbc,
        None,
        &mut data,
    )
    .unwrap();
    assert_eq!(&data[..17], msg);
}

// X9.24-3-2017 supplement (dukpt.json): AES-128 IK, transaction and working keys, ISO 4 PIN.
#[test]
fn aes128_keys_and_pin_block() {
    let bdk = aes128_bdk();
    let ik = aes::initial_key(&bdk, &[0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56]).unwrap();
    assert_eq!(ik.expose_secret(), h("1273671EA26AC29AFA4D1084127652A1"));
    let k = ksn("123456789012345600000001");
    let key = |u| {
        derive(Bdk::Aes(&bdk), &k, Some(u), None)
            .unwrap()
            .working_key
            .unwrap()
    };
    let d = derive(Bdk::Aes(&bdk), &k, None, None).unwrap();
    assert_eq!(
        d.transaction_key.expose_secret(),
        h("4F21B565BAD9835E112B6465635EAE44")
    );
    assert!(d.working_key.is_none());
    assert_eq!(
        key(WorkingKeyUsage::Pin).expose_secret(),
        h("AF8CB133A78F8DC2D1359F18527593FB")
    );
    assert_eq!(
        key(WorkingKeyUsage::MacGenerate).expose_secret(),
        h("A2DC23DE6FDE0824A2BC321E08E4B8B7")
    );
    assert_eq!(
        key(WorkingKeyUsage::DataEncrypt).expose_secret(),
        h("A35C412EFD41FDB98B69797C02DCD08F")
    );
    let pan = Pan::new("4111111111111111").unwrap();
    let block = encrypt_pin(
        Bdk::Aes(&bdk),
        &k,
        None,
        PinBlockFormat::Iso4,
        &Pin::new("1234").unwrap(),
        Some(&pan),
        Fill::Given("2F69ADDE2E9E7ACE"),
    )
    .unwrap();
    assert_eq!(block.as_bytes(), h("A912150391AB65A67E52883D81CE2D15"));
}

// X9.24-3-2017 supplement: high counters and AES-256 working keys of both lengths.
#[test]
fn aes_high_counters_and_aes256() {
    let t = |bdk: &SoftwareKey, s: &str| {
        derive(Bdk::Aes(bdk), &ksn(s), None, None)
            .unwrap()
            .transaction_key
    };
    assert_eq!(
        t(&aes128_bdk(), "123456789012345600020000").expose_secret(),
        h("F7AE9025468A25D37B7249CFFED224C8")
    );
    let bdk = aes256_bdk();
    let k = ksn("123456789012345600000002");
    assert_eq!(
        t(&bdk, "123456789012345600000002").expose_secret(),
        h("5DD5A0253842BBBE1D7C0DA27021412C6F1FAB53FB928DEAE56DA06090A9DE97")
    );
    let wk = |u, a| {
        derive(Bdk::Aes(&bdk), &k, Some(u), Some(a))
            .unwrap()
            .working_key
            .unwrap()
    };
    assert_eq!(
        wk(WorkingKeyUsage::Pin, KeyAlgorithm::Aes128).expose_secret(),
        h("D632226A80795D13A80AFE66A3E97B01")
    );
    assert_eq!(
        wk(WorkingKeyUsage::MacGenerate, KeyAlgorithm::Aes256).expose_secret(),
        h("4417356219B2F93CE3F2671623DDCAB58A8B85AD80662A8D628024000956D426")
    );
    assert_eq!(
        wk(WorkingKeyUsage::DataEncrypt, KeyAlgorithm::Aes256).expose_secret(),
        h("D0AC9F71F875FFFF3A83778F72F39EBB0924A5A526617AF669665E0A19725465")
    );
    // Two different usages never give the same key.
    assert_ne!(
        wk(WorkingKeyUsage::DataEncrypt, KeyAlgorithm::Aes256).expose_secret(),
        wk(WorkingKeyUsage::DataDecrypt, KeyAlgorithm::Aes256).expose_secret()
    );
}

// T-M-3: KSN counter rules, exhaustion, and typed errors naming the field.
#[test]
fn ksn_validation() {
    let bdk = tdes_bdk();
    let counter_err = |r: Result<Derivation, Error>| match r {
        Err(Error::InvalidValue { field, .. }) => assert_eq!(field, "KSN transaction counter"),
        other => panic!("expected a counter error, got {other:?}"),
    };
    // Eleven one-bits in the 21-bit counter.
    counter_err(derive(
        Bdk::Tdes(&bdk),
        &ksn("FFFF9876543210E007FF"),
        None,
        None,
    ));
    // Zero counter names the initial key.
    counter_err(derive(
        Bdk::Tdes(&bdk),
        &ksn("FFFF9876543210E00000"),
        None,
        None,
    ));
    let aes = aes128_bdk();
    // 0x1FFFF has 17 one-bits (left out of the published vectors on purpose).
    counter_err(derive(
        Bdk::Aes(&aes),
        &ksn("12345678901234560001FFFF"),
        None,
        None,
    ));
    counter_err(derive(
        Bdk::Aes(&aes),
        &ksn("123456789012345600000000"),
        None,
        None,
    ));
    for bad in [
        "FFFF9876543210E0000",
        "FFFF9876543210E000010",
        "",
        "12345678901234560000000100",
    ] {
        assert!(
            matches!(
                Ksn::from_hex(bad),
                Err(Error::InvalidLength { field: "KSN", .. })
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        Ksn::from_hex("FFFF9876543210E0000G"),
        Err(Error::InvalidHex {
            field: "KSN",
            position: 19
        })
    ));
    // A 16-digit KSN is the 20-digit one without its FFFF prefix.
    assert_eq!(ksn("9876543210E00001"), ksn("FFFF9876543210E00001"));
    // Kinds must match.
    assert!(derive(Bdk::Aes(&aes), &ksn("FFFF9876543210E00001"), None, None).is_err());
    assert!(
        derive(
            Bdk::Tdes(&bdk),
            &ksn("123456789012345600000001"),
            None,
            None
        )
        .is_err()
    );
}

#[test]
fn ksn_next_skips_invalid_counters_and_exhausts() {
    let t = TdesKsn::from_hex("FFFF9876543210E00000").unwrap();
    assert_eq!(t.next().unwrap().counter(), 1);
    // 0x003FF has ten one-bits; the next valid counter is 0x00400.
    assert_eq!(t.with_counter(0x3FF).next().unwrap().counter(), 0x400);
    // The A.4.3 rollover sequence: EFF800 is followed by F00000 (counter 0x100000).
    let last_before = TdesKsn::from_hex("FFFF9876543210EFFC00").unwrap();
    assert_eq!(
        last_before.next().unwrap(),
        TdesKsn::from_hex("FFFF9876543210F00000").unwrap()
    );
    let max = t.with_counter(TdesKsn::MAX_COUNTER);
    assert_eq!(max.counter().count_ones(), 10);
    assert!(matches!(
        max.next(),
        Err(Error::InvalidValue {
            field: "KSN transaction counter",
            ..
        })
    ));
    let a = AesKsn::from_hex("12345678901234560001FFFE").unwrap();
    assert_eq!(a.next().unwrap().counter(), 0x20000);
    assert!(
        AesKsn::new(&a.initial_key_id(), AesKsn::MAX_COUNTER)
            .next()
            .is_err()
    );
    assert_eq!(
        AesKsn::new(&a.initial_key_id(), 0xFFFE_8000)
            .next()
            .unwrap()
            .counter(),
        0xFFFF_0000
    );
}

// Every usage and every length the standard allows; strength and kind rules.
#[test]
fn aes_every_usage_and_length() {
    let bdk = aes128_bdk();
    let k = ksn("123456789012345600000003");
    for usage in WorkingKeyUsage::ALL {
        for alg in [
            KeyAlgorithm::Tdes2Key,
            KeyAlgorithm::Tdes3Key,
            KeyAlgorithm::Aes128,
        ] {
            let key = derive(Bdk::Aes(&bdk), &k, Some(usage), Some(alg))
                .unwrap()
                .working_key
                .unwrap();
            assert_eq!(key.algorithm(), alg);
            assert_eq!(Some(key.expose_secret().len()), alg.key_len());
        }
        // An AES-128 BDK cannot make AES-192 or AES-256 keys.
        for alg in [KeyAlgorithm::Aes192, KeyAlgorithm::Aes256] {
            assert!(derive(Bdk::Aes(&bdk), &k, Some(usage), Some(alg)).is_err());
        }
    }
    let hmac = derive(
        Bdk::Aes(&bdk),
        &k,
        Some(WorkingKeyUsage::MacBoth),
        Some(KeyAlgorithm::HmacSha256),
    )
    .unwrap()
    .working_key
    .unwrap();
    assert_eq!(hmac.expose_secret().len(), 16);
    let tag = generate_mac(
        Bdk::Aes(&bdk),
        &k,
        KeyVariant::Bidirectional,
        None,
        DukptMacAlgorithm::Hmac,
        b"message",
        None,
    )
    .unwrap();
    assert_eq!(tag.as_bytes().len(), 32);
    // TDES DUKPT makes only two-key TDES variants, and no key-encryption keys.
    let tbdk = tdes_bdk();
    let tk = ksn("FFFF9876543210E00001");
    assert!(
        derive(
            Bdk::Tdes(&tbdk),
            &tk,
            Some(WorkingKeyUsage::Pin),
            Some(KeyAlgorithm::Tdes3Key)
        )
        .is_err()
    );
    assert!(
        derive(
            Bdk::Tdes(&tbdk),
            &tk,
            Some(WorkingKeyUsage::KeyEncryption),
            None
        )
        .is_err()
    );
    // A TDES key is not an AES BDK.
    let not_aes = SoftwareKey::new(KeyAlgorithm::Tdes2Key, &tbdk).unwrap();
    assert!(derive(Bdk::Aes(&not_aes), &k, None, None).is_err());
}

#[test]
fn aes_update_key() {
    let bdk = aes128_bdk();
    let id = [0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56];
    let ik = aes::initial_key(&bdk, &id).unwrap().handle().unwrap();
    let u = aes::update_key(&ik, &id, aes::AesDukptKeyType::Aes128).unwrap();
    assert_eq!(u.algorithm(), KeyAlgorithm::Aes128);
    // Not any transaction key's working key.
    let k = ksn("1234567890123456FFFF0000");
    let kek = derive(
        Bdk::Aes(&bdk),
        &k,
        Some(WorkingKeyUsage::KeyEncryption),
        None,
    )
    .unwrap()
    .working_key
    .unwrap();
    assert_ne!(u.expose_secret(), kek.expose_secret());
    assert!(aes::update_key(&ik, &id, aes::AesDukptKeyType::Aes256).is_err());
}

// DUKPT PIN translation to ISO 0/1/3/4 under a PEK, and DUKPT PIN verification.
#[test]
fn translate_and_verify_pin() {
    let bdk = aes128_bdk();
    let k = ksn("123456789012345600000001");
    let pan = Pan::new("4111111111111111").unwrap();
    let block = EncryptedPinBlock::from_hex("A912150391AB65A67E52883D81CE2D15").unwrap();
    let pek =
        SoftwareKey::from_hex(KeyAlgorithm::Tdes2Key, "0123456789ABCDEFFEDCBA9876543210").unwrap();
    let out = translate_pin(
        Bdk::Aes(&bdk),
        &k,
        None,
        PinBlockFormat::Iso4,
        &block,
        Some(&pan),
        &pek,
        PinBlockFormat::Iso0,
        &mut Replay::new(&[]),
    )
    .unwrap();
    let pin = block::decrypt(&pek, PinBlockFormat::Iso0, &out, Some(&pan)).unwrap();
    assert_eq!(pin.expose_secret(), "1234");
    // ISO 4 to ISO 1 is refused by PCI PIN 3-3.
    assert!(matches!(
        translate_pin(
            Bdk::Aes(&bdk),
            &k,
            None,
            PinBlockFormat::Iso4,
            &block,
            Some(&pan),
            &pek,
            PinBlockFormat::Iso1,
            &mut Replay::new(&[0; 16]),
        ),
        Err(Error::NotPermitted(_))
    ));
    // PVV verification (key and PVV of the shared pvv vectors: PIN 1234, PVKI 1 → 6776).
    let pvk =
        SoftwareKey::from_hex(KeyAlgorithm::Tdes2Key, "0123456789ABCDEFFEDCBA9876543210").unwrap();
    let pvv_pan = Pan::new("5432101234567890").unwrap();
    let pvv_block = encrypt_pin(
        Bdk::Aes(&bdk),
        &k,
        None,
        PinBlockFormat::Iso4,
        &Pin::new("1234").unwrap(),
        Some(&pvv_pan),
        Fill::Given("0011223344556677"),
    )
    .unwrap();
    let pvki = crate::pin::pvv::Pvki::new(1).unwrap();
    let verify = |pvv| {
        verify_pin_pvv(
            Bdk::Aes(&bdk),
            &k,
            None,
            PinBlockFormat::Iso4,
            &pvv_block,
            &pvv_pan,
            &pvk,
            pvki,
            pvv,
        )
    };
    verify("6776").unwrap();
    assert_eq!(verify("6777"), Err(Error::VerificationFailed));
}

// T-Z-1: derived keys and BDK references redact.
#[test]
fn debug_redacts() {
    let bdk = tdes_bdk();
    let d = derive(Bdk::Tdes(&bdk), &ksn("FFFF9876543210E00001"), None, None).unwrap();
    let shown = format!("{d:?} {:?}", Bdk::Tdes(&bdk));
    assert!(shown.contains("REDACTED"));
    assert!(!shown.contains("6AC2") && !shown.contains("0123"));
}
