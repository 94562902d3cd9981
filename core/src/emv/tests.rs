use alloc::vec::Vec;

use super::{
    cvn::{ArpcKey, CryptogramVersion},
    sm::SessionKeyDerivationValue,
    *,
};
use crate::{crypto::SoftwareKey, hex, key::KeyAlgorithm};

fn h(s: &str) -> Vec<u8> {
    hex::decode("test", s).unwrap()
}

fn tdes(k: &str) -> SoftwareKey {
    SoftwareKey::from_hex(KeyAlgorithm::Tdes2Key, k).unwrap()
}

fn card<'a>(pan: &'a Pan, psn: &str, option: MasterKeyDerivation) -> Card<'a> {
    Card {
        pan,
        psn: PanSequenceNumber::new(psn).unwrap(),
        option,
    }
}

const IMK: &str = "0123456789ABCDEFFEDCBA9876543210";

// Shared vectors (emv.json, pyemv test_kd_hsm): options A and B, common session key, ARQC,
// ARPC 1 and 2.
#[test]
fn master_keys_options_a_and_b() {
    let imk = tdes(IMK);
    let cases = [
        (
            "12345678901234567",
            "45",
            MasterKeyDerivation::OptionA,
            "946DC1A8C78A624519BC4645CB073737",
        ),
        (
            "12345678901234567",
            "00",
            MasterKeyDerivation::OptionA,
            "8357F1866492A1C8D657132AABF25789",
        ),
        (
            "12345678901234567",
            "45",
            MasterKeyDerivation::OptionB,
            "F767ECC2263B2C543775CB62AB6B57D6",
        ),
        (
            "12345678901234567",
            "00",
            MasterKeyDerivation::OptionB,
            "1C13AE23B54AF7BA49FBE09192C87983",
        ),
        (
            "123456789012345679",
            "00",
            MasterKeyDerivation::OptionB,
            "1083E9C8A72AA26BDC9B10570B73BACB",
        ),
        (
            "000000000000000005",
            "23",
            MasterKeyDerivation::OptionB,
            "2608BAA2378C92DAE0948A97E0CD230B",
        ),
    ];
    for (pan, psn, option, mk) in cases {
        let pan = Pan::new(pan).unwrap();
        let got = card(&pan, psn, option).master_key(&imk).unwrap();
        assert_eq!(got.expose_secret(), h(mk), "{pan:?} {psn} {option:?}");
    }
    // Option B is option A for PANs of 16 digits or fewer.
    let pan = Pan::new("1234567890123456").unwrap();
    assert_eq!(
        card(&pan, "01", MasterKeyDerivation::OptionA)
            .master_key(&imk)
            .unwrap()
            .expose_secret(),
        card(&pan, "01", MasterKeyDerivation::OptionB)
            .master_key(&imk)
            .unwrap()
            .expose_secret()
    );
}

#[test]
fn common_session_key_arqc_and_arpcs() {
    let imk = tdes(IMK);
    let pan = Pan::new("12345678901234567").unwrap();
    let c = card(&pan, "45", MasterKeyDerivation::OptionA);
    let mk = c.master_key(&imk).unwrap();
    let sk = session::common_session_key(
        &mk.handle().unwrap(),
        &h("1234567890123456").try_into().unwrap(),
    )
    .unwrap();
    assert_eq!(sk.expose_secret(), h("C7AEDF49AEF2F146D692400E0B851A8F"));
    let data = h("0123456789ABCDEF0123456789ABCDEF");
    let sk = sk.handle().unwrap();
    let arqc = ac::generate_ac(&sk, &data, Padding::Method2).unwrap();
    assert_eq!(arqc.as_bytes(), h("19C1FBC83EBDC0D5"));
    ac::verify_ac(&sk, &data, Padding::Method2, &h("19C1FBC83EBDC0D5")).unwrap();
    assert_eq!(
        ac::verify_ac(&sk, &data, Padding::Method2, &h("19C1FBC83EBDC0D4")),
        Err(Error::VerificationFailed)
    );
    assert_eq!(
        ac::verify_ac(&sk, &data, Padding::Method1, &h("19C1FBC83EBDC0D5")),
        Err(Error::VerificationFailed)
    );
    let arpc = ac::arpc_method1(&sk, arqc.as_bytes(), &h("0000")).unwrap();
    assert_eq!(arpc.as_bytes(), h("C3620580668E5B65"));
    let arpc = ac::arpc_method1(&mk.handle().unwrap(), arqc.as_bytes(), &h("0000")).unwrap();
    assert_eq!(arpc.as_bytes(), h("78A372523FA35A03"));
    // Option B, ARPC method 2 with proprietary data (pyemv test_derive_icc_mk_b_sha_pad).
    let pan = Pan::new("000000000000000005").unwrap();
    let mk = card(&pan, "23", MasterKeyDerivation::OptionB)
        .master_key(&imk)
        .unwrap();
    let sk = session::common_session_key(
        &mk.handle().unwrap(),
        &h("001C000000000000").try_into().unwrap(),
    )
    .unwrap()
    .handle()
    .unwrap();
    let data =
        h("0000000040000000000000000124800004800001241911050152BF45851800001C06011203A0B800");
    let arqc = ac::generate_ac(&sk, &data, Padding::Method2).unwrap();
    assert_eq!(arqc.as_bytes(), h("8CAD6F2489C640B1"));
    let arpc = ac::arpc_method2(&sk, arqc.as_bytes(), &h("00000000"), &h("12345678")).unwrap();
    assert_eq!(arpc.as_bytes(), h("E39F1876"));
}

// jPOS M/Chip vector (emv.json): R = ATC || 0000 || UN.
#[test]
fn mastercard_session_key() {
    let imk = tdes("12345678123456781234567812345678");
    let pan = Pan::new("1234567890123456").unwrap();
    let c = card(&pan, "00", MasterKeyDerivation::OptionA);
    let d = SessionKeyDerivation::new(
        SessionKeyMode::MastercardSessionKey,
        Some([0x34, 0x56]),
        Some([0x11, 0x11, 0x11, 0x11]),
    )
    .unwrap();
    let sk = c.session_key(&imk, &d).unwrap();
    assert_eq!(sk.expose_secret(), h("68E9A15BBCF283EF0164F7E6C44C4325"));
    let data = h("000000010000000000001000084000000010800840980704001111111158003456A08003242000");
    let arqc = generate_arqc(&imk, &c, &d, &data, Padding::Method2).unwrap();
    assert_eq!(arqc.as_bytes(), h("AC8074C9E62EE6EF"));
    verify_arqc(
        &imk,
        &c,
        &d,
        &data,
        Padding::Method1,
        &h("9FFD1D52AE0EC0F3"),
    )
    .unwrap();
}

// pyemv 1.5.0 docstring examples: EMV2000 tree (ATC 001C) and the Visa SM key.
#[test]
fn emv2000_tree_and_visa_sm() {
    let mk = DerivedKey::new(
        KeyAlgorithm::Tdes2Key,
        crate::secret::KeyMaterial::from_hex("mk", IMK).unwrap(),
    )
    .unwrap();
    let sk =
        session::session_key(&mk, &SessionKeyDerivation::Emv2000 { atc: [0x00, 0x1C] }).unwrap();
    assert_eq!(sk.expose_secret(), h("E5BF6D1067F194B0A89B7F5D83BC64A2"));
    let sk =
        session::session_key(&mk, &SessionKeyDerivation::Emv2000 { atc: [0xFF, 0xFF] }).unwrap();
    assert_eq!(sk.expose_secret(), h("C70815AB641575C1AEDF86A4D61FD0B3"));
    let sk = session::visa_secure_messaging_key(&mk, [0x00, 0x1C]).unwrap();
    assert_eq!(sk.expose_secret(), h("0123456789ABCDF2FEDCBA987654CDF2"));
    // Visa and Amex use the master key itself.
    let sk = session::session_key(&mk, &SessionKeyDerivation::Visa).unwrap();
    assert_eq!(sk.expose_secret(), mk.expose_secret());
}

// UnionPay (PBOC) example with published ARQC and ARPC; see vectors for its source.
#[test]
fn union_pay() {
    let imk = tdes("F0C34A8124CEE0A91A0B034AA97D6EAC");
    let pan = Pan::new("6228000100001").unwrap();
    let c = card(&pan, "01", MasterKeyDerivation::OptionA);
    let d = SessionKeyDerivation::new(SessionKeyMode::UnionPay, Some([0x02, 0x40]), None).unwrap();
    let data = h("000000000001000000000000015600800460000156140701001E78EEBC7D00024003A04002");
    verify_arqc(
        &imk,
        &c,
        &d,
        &data,
        Padding::Method2,
        &h("5D016C91005E7CC2"),
    )
    .unwrap();
    let sk = c.session_key(&imk, &d).unwrap().handle().unwrap();
    let arpc = ac::arpc_method1(&sk, &h("5D016C91005E7CC2"), b"01").unwrap();
    assert_eq!(arpc.as_bytes(), h("21415243527CE78F"));
}

// pyemv 1.5.0 `cvn` module docstring: Visa CVN 18 ARQC, ARPC and issuer script MAC.
#[test]
fn visa_cvn18_preset_and_script_mac() {
    let p = CryptogramVersion::VisaCvn18;
    let pan = Pan::new("1234567890123456").unwrap();
    let c = card(&pan, "00", p.master_key_derivation());
    let imk = tdes(&"AA".repeat(16));
    let d = SessionKeyDerivation::new(p.session_key_mode(), Some([0x0F, 0xFF]), None).unwrap();
    let data =
        h("0000000099990000000000000840800004800008409912310152BF458518000FFF06011203A0B800");
    let arqc = generate_arqc(&imk, &c, &d, &data, p.padding()).unwrap();
    assert_eq!(arqc.as_bytes(), h("769577B5ABE9FE62"));
    assert_eq!((p.arpc_method(), p.arpc_key()), (2, ArpcKey::SessionKey));
    let sk = c.session_key(&imk, &d).unwrap().handle().unwrap();
    let arpc = ac::arpc_method2(&sk, arqc.as_bytes(), &[0; 4], &[]).unwrap();
    assert_eq!(arpc.as_bytes(), h("76503F48"));
    // Issuer script MAC under the SMI key, Visa secure messaging from the ATC.
    let smi = c.master_key(&tdes(&"BB".repeat(16))).unwrap();
    let sk = sm::secure_messaging_key(
        &smi,
        SessionKeyMode::Visa,
        SessionKeyDerivationValue::ApplicationTransactionCounter([0x0F, 0xFF]),
    )
    .unwrap()
    .handle()
    .unwrap();
    let message = h("84180000080FFF769577B5ABE9FE62");
    let mac = sm::script_mac(&sk, &message, None).unwrap();
    assert_eq!(mac.as_bytes(), h("B5CB29759F9C3919"));
    assert!(sm::script_mac(&sk, &message, Some(3)).is_err());
}

// T-M-5: wrong ATC, PSN or data lengths are typed errors; modes refuse data they do not use.
#[test]
fn bad_input_is_typed() {
    assert!(PanSequenceNumber::new("1").is_err());
    assert!(PanSequenceNumber::new("0A").is_err());
    let need_atc = SessionKeyDerivation::new(SessionKeyMode::EmvCommonSessionKey, None, None);
    assert!(matches!(
        need_atc,
        Err(Error::InvalidValue {
            field: "application transaction counter",
            ..
        })
    ));
    assert!(SessionKeyDerivation::new(SessionKeyMode::Visa, Some([0, 1]), None).is_err());
    assert!(
        SessionKeyDerivation::new(SessionKeyMode::MastercardSessionKey, Some([0, 1]), None)
            .is_err()
    );
    assert!(
        SessionKeyDerivation::new(
            SessionKeyMode::EmvCommonSessionKey,
            Some([0, 1]),
            Some([0; 4])
        )
        .is_err()
    );
    let sk = tdes(IMK);
    assert!(matches!(
        ac::generate_ac(&sk, &[], Padding::Method2),
        Err(Error::InvalidLength {
            field: "transaction data",
            ..
        })
    ));
    assert!(ac::generate_ac(&sk, &[0; 513], Padding::Method2).is_err());
    assert!(matches!(
        ac::verify_ac(&sk, &[0; 8], Padding::Method2, &[0; 7]),
        Err(Error::InvalidLength {
            field: "auth request cryptogram",
            ..
        })
    ));
    assert!(ac::arpc_method1(&sk, &[0; 8], &[0; 3]).is_err());
    assert!(ac::arpc_method2(&sk, &[0; 8], &[0; 4], &[0; 9]).is_err());
    let aes = SoftwareKey::from_hex(KeyAlgorithm::Aes128, IMK).unwrap();
    let pan = Pan::new("12345678901234567").unwrap();
    assert!(
        card(&pan, "00", MasterKeyDerivation::OptionB)
            .master_key(&aes)
            .is_err()
    );
    assert!(ac::generate_ac(&aes, &[0; 8], Padding::Method2).is_err());
    for m in SessionKeyMode::ALL {
        assert_eq!(SessionKeyMode::from_name(m.name()), Ok(m));
    }
    for c in CryptogramVersion::ALL {
        assert_eq!(CryptogramVersion::from_name(c.name()), Ok(c));
    }
}

#[test]
fn data_encryption_round_trip() {
    let mk = card(
        &Pan::new("1234567890123456").unwrap(),
        "00",
        MasterKeyDerivation::OptionA,
    )
    .master_key(&tdes(IMK))
    .unwrap();
    let r = [1, 2, 3, 4, 5, 6, 7, 8];
    let mut data = *b"0123456789ABCDEF";
    sm::crypt_data(&mk, &r, sm::EmvEncryptionMode::Cbc, None, &mut data, true).unwrap();
    assert_ne!(&data, b"0123456789ABCDEF");
    sm::crypt_data(&mk, &r, sm::EmvEncryptionMode::Cbc, None, &mut data, false).unwrap();
    assert_eq!(&data, b"0123456789ABCDEF");
    assert!(
        sm::crypt_data(
            &mk,
            &r,
            sm::EmvEncryptionMode::Ecb,
            Some(&[0; 8]),
            &mut data,
            true
        )
        .is_err()
    );
}
