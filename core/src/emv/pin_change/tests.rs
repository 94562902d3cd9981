use alloc::{format, string::ToString, vec, vec::Vec};

use super::*;
use crate::{
    Refusal,
    crypto::SoftwareKey,
    emv::{PanSequenceNumber, mkd::MasterKeyDerivation},
    hex,
    key::KeyAlgorithm,
    secret::KeyMaterial,
};

fn tdes(k: &str) -> SoftwareKey {
    SoftwareKey::from_hex(KeyAlgorithm::Tdes2Key, k).unwrap()
}

const PEK: &str = "89ABCDEF0123456776543210FEDCBA98";
const IMK_AC: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const IMK_SMI: &str = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";
const IMK_SMC: &str = "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC";
const ARQC: [u8; 8] = [0x76, 0x95, 0x77, 0xB5, 0xAB, 0xE9, 0xFE, 0x62];
const ATC: [u8; 2] = [0x0F, 0xFF];

/// Keys, card and the new PIN's block for one request.
struct Fixture {
    pek: SoftwareKey,
    ac: SoftwareKey,
    smi: SoftwareKey,
    smc: SoftwareKey,
    pan: Pan,
    block: EncryptedPinBlock,
    format: PinBlockFormat,
}

impl Fixture {
    fn new(pan: &str, pin: &str, format: PinBlockFormat) -> Self {
        let pek = tdes(PEK);
        let pan = Pan::new(pan).unwrap();
        let fill = if format == PinBlockFormat::Iso0 {
            ""
        } else {
            "ABCDEFABCD"
        };
        let pin = Pin::new(pin).unwrap();
        let fill = &fill[..fill.len().min(format.fill_len(pin.len()))];
        let block = block::encrypt(&pek, format, &pin, Some(&pan), Fill::Given(fill)).unwrap();
        Self {
            pek,
            ac: tdes(IMK_AC),
            smi: tdes(IMK_SMI),
            smc: tdes(IMK_SMC),
            pan,
            block,
            format,
        }
    }

    fn request<'a>(
        &'a self,
        message: &'a [u8],
        method: PinChangeMethod<'a>,
    ) -> PinChangeRequest<'a> {
        PinChangeRequest {
            new_pin_pek: &self.pek,
            new_pin_block: &self.block,
            pin_block_format: self.format,
            smi_imk: &self.smi,
            smc_imk: &self.smc,
            card: Card {
                pan: &self.pan,
                psn: PanSequenceNumber::ZERO,
                option: MasterKeyDerivation::OptionB,
            },
            message_data: message,
            method,
            mac_len: None,
        }
    }

    fn visa(&self) -> PinChangeMethod<'_> {
        PinChangeMethod::Visa(VisaAmexAttributes {
            atc: ATC,
            ac_imk: &self.ac,
            current_pin: None,
        })
    }
}

fn visa_message() -> Vec<u8> {
    let mut m = hex::decode("header", "8424000218").unwrap();
    m.extend_from_slice(&ATC);
    m.extend_from_slice(&ARQC);
    m
}

fn common(
    padding: PinBlockPadding,
    length_position: PinBlockLengthPosition,
) -> PinChangeMethod<'static> {
    PinChangeMethod::EmvCommon {
        application_cryptogram: ARQC,
        mode: EmvEncryptionMode::Cbc,
        padding,
        length_position,
    }
}

// The example in pyemv 1.5.0's `cvn` module documentation: VisaCVN18 (IMK-AC AA…, IMK-SMI
// BB…, IMK-SMC CC…, PAN 1234567890123456, PSN 00) `generate_pin_change_command(pin='9999',
// tag_9f26=769577B5ABE9FE62, tag_9f36=0FFF)` prints
// 8424000218 ‖ 2DC7A061323BA62472BC5308BD291B5F ‖ 665B3A927E60661E.
#[test]
fn visa_matches_the_pyemv_example() {
    let f = Fixture::new("1234567890123456", "9999", PinBlockFormat::Iso0);
    let message = visa_message();
    let out = generate_mac_emv_pin_change(&f.request(&message, f.visa())).unwrap();
    assert_eq!(
        out.encrypted_pin_block.to_string(),
        "2DC7A061323BA62472BC5308BD291B5F"
    );
    assert_eq!(hex::encode(out.mac.as_bytes()), "665B3A927E60661E");
}

// pyemv 1.5.0 `sm.format_vis_pin_block` documentation and the same call with a current PIN.
#[test]
fn vis_pin_block_matches_pyemv() {
    let mk = DerivedKey::new(
        KeyAlgorithm::Tdes2Key,
        KeyMaterial::from_hex("mk", "0123456789ABCDEFFEDCBA9876543210").unwrap(),
    )
    .unwrap();
    let pin = Pin::new("1234").unwrap();
    let b = vis_pin_block(&mk, &pin, None).unwrap();
    assert_eq!(hex::encode(&b[..]), "041234FF76543210");
    let current = Pin::new("987654").unwrap();
    let b = vis_pin_block(&mk, &pin, Some(&current)).unwrap();
    assert_eq!(hex::encode(&b[..]), "9C6460FF76543210");
}

// pyemv 1.5.0 `sm` documentation: the format 2 block of 9999 enciphered as `EMV` (80 padding,
// CBC) and 241234FFFFFFFFFF as `MASTERCARD` (one block) under 0123…3210; and the `VISA`
// layout (length byte, padding, ECB) computed with pyemv for the same block.
#[test]
fn layouts_match_pyemv() {
    let sk = tdes("0123456789ABCDEFFEDCBA9876543210");
    let run = |layout: Layout, block: [u8; 8]| {
        let mut buf = [0u8; MAX_PIN_DATA];
        let n = layout.assemble(&block, &mut buf);
        sm::crypt(&sk, layout.mode, None, &mut buf[..n], true).unwrap();
        hex::encode(&buf[..n])
    };
    let pin = iso2_block(&Pin::new("9999").unwrap()).unwrap();
    assert_eq!(hex::encode(&pin[..]), "249999FFFFFFFFFF");
    let emv = common(PinBlockPadding::Iso7816_4, PinBlockLengthPosition::Absent);
    assert_eq!(
        run(emv.layout().unwrap(), *pin),
        "5A862D1381CCB94822CFDD706A376178"
    );
    let mc = PinChangeMethod::Mastercard {
        application_cryptogram: ARQC,
    };
    let b = iso2_block(&Pin::new("1234").unwrap()).unwrap();
    assert_eq!(run(mc.layout().unwrap(), *b), "9859240AE52820C3");
    let f = Fixture::new("1234567890123456", "9999", PinBlockFormat::Iso0);
    assert_eq!(
        run(f.visa().layout().unwrap(), *pin),
        "3A2A71CDA38D52D43A8AE1947D2AD964"
    );
}

#[test]
fn every_method_and_layout_runs_and_differs() {
    let f = Fixture::new("4761739001010119", "271828", PinBlockFormat::Iso3);
    let message = visa_message();
    let amex = PinChangeMethod::Amex(VisaAmexAttributes {
        atc: ATC,
        ac_imk: &f.ac,
        current_pin: None,
    });
    let methods = [
        f.visa(),
        amex,
        PinChangeMethod::Emv2000 { atc: ATC },
        PinChangeMethod::Mastercard {
            application_cryptogram: ARQC,
        },
        common(PinBlockPadding::NoPadding, PinBlockLengthPosition::Absent),
        common(PinBlockPadding::Iso7816_4, PinBlockLengthPosition::Absent),
        common(
            PinBlockPadding::Iso7816_4,
            PinBlockLengthPosition::FrontOfPinBlock,
        ),
    ];
    let lens = [16, 16, 8, 8, 8, 16, 16];
    let mut seen = Vec::new();
    for (m, len) in methods.into_iter().zip(lens) {
        let out = generate_mac_emv_pin_change(&f.request(&message, m)).unwrap();
        assert_eq!(
            out.encrypted_pin_block.as_bytes().len(),
            len,
            "{}",
            m.name()
        );
        assert_eq!(out.mac.as_bytes().len(), 8);
        seen.push((
            out.encrypted_pin_block.to_string(),
            hex::encode(out.mac.as_bytes()),
        ));
    }
    // Mastercard is EMV common without padding or length byte: the same session keys (R = the
    // application cryptogram) and the same single format 2 block.
    assert_eq!(seen[3], seen[4]);
    seen.remove(4);
    for (i, a) in seen.iter().enumerate() {
        assert!(
            !seen[i + 1..].contains(a),
            "entry {i} repeats another method"
        );
    }
}

#[test]
fn ecb_and_cbc_differ_only_with_two_blocks() {
    let f = Fixture::new("4761739001010119", "1234", PinBlockFormat::Iso0);
    let message = visa_message();
    let run = |padding, mode| {
        let m = PinChangeMethod::EmvCommon {
            application_cryptogram: ARQC,
            mode,
            padding,
            length_position: PinBlockLengthPosition::Absent,
        };
        generate_mac_emv_pin_change(&f.request(&message, m))
            .unwrap()
            .encrypted_pin_block
    };
    let (ecb, cbc) = (EmvEncryptionMode::Ecb, EmvEncryptionMode::Cbc);
    let one = PinBlockPadding::NoPadding;
    let two = PinBlockPadding::Iso7816_4;
    assert_eq!(run(one, ecb), run(one, cbc));
    let (e, c) = (run(two, ecb), run(two, cbc));
    assert_eq!(e.as_bytes()[..8], c.as_bytes()[..8]);
    assert_ne!(e.as_bytes()[8..], c.as_bytes()[8..]);
}

#[test]
fn the_mac_covers_message_and_pin_data() {
    let f = Fixture::new("1234567890123456", "9999", PinBlockFormat::Iso0);
    let message = visa_message();
    let base = generate_mac_emv_pin_change(&f.request(&message, f.visa())).unwrap();
    // Another message: same PIN data, another MAC.
    let mut other = message.clone();
    other[2] ^= 1;
    let o = generate_mac_emv_pin_change(&f.request(&other, f.visa())).unwrap();
    assert_eq!(o.encrypted_pin_block, base.encrypted_pin_block);
    assert_ne!(o.mac.as_bytes(), base.mac.as_bytes());
    // The MAC is over message ‖ enciphered PIN data under the SMI session key.
    let card = f.request(&message, f.visa()).card;
    let smi = sm::secure_messaging_key(
        &card.master_key(&f.smi).unwrap(),
        SessionKeyMode::Visa,
        SessionKeyDerivationValue::ApplicationTransactionCounter(ATC),
    )
    .unwrap();
    let mut all = message.clone();
    all.extend_from_slice(base.encrypted_pin_block.as_bytes());
    let mac = sm::script_mac(&smi.handle().unwrap(), &all, None).unwrap();
    assert_eq!(mac.as_bytes(), base.mac.as_bytes());
    // A shorter MAC is the leftmost bytes.
    let mut req = f.request(&message, f.visa());
    req.mac_len = Some(4);
    let short = generate_mac_emv_pin_change(&req).unwrap();
    assert_eq!(short.mac.as_bytes(), &base.mac.as_bytes()[..4]);
}

#[test]
fn the_current_pin_is_bound_into_the_vis_block() {
    let f = Fixture::new("1234567890123456", "9999", PinBlockFormat::Iso0);
    let current_pek = tdes("0123456789ABCDEFFEDCBA9876543210");
    let current = block::encrypt(
        &current_pek,
        PinBlockFormat::Iso0,
        &Pin::new("1234").unwrap(),
        Some(&f.pan),
        Fill::Given(""),
    )
    .unwrap();
    let message = visa_message();
    let with = |pek: &SoftwareKey| {
        let m = PinChangeMethod::Visa(VisaAmexAttributes {
            atc: ATC,
            ac_imk: &f.ac,
            current_pin: Some(CurrentPin {
                pek,
                pin_block: &current,
            }),
        });
        generate_mac_emv_pin_change(&f.request(&message, m))
    };
    let without = generate_mac_emv_pin_change(&f.request(&message, f.visa())).unwrap();
    let bound = with(&current_pek).unwrap();
    assert_ne!(bound.encrypted_pin_block, without.encrypted_pin_block);
    // Under the wrong key the current block is the one uniform bad-block error.
    assert_eq!(with(&f.pek).unwrap_err(), BAD_PIN_BLOCK);
}

#[test]
fn bad_requests_fail_with_the_field() {
    let f = Fixture::new("1234567890123456", "9999", PinBlockFormat::Iso0);
    let message = visa_message();
    let field = |r: Result<PinChange, Error>| match r.unwrap_err() {
        Error::InvalidLength { field, .. } | Error::InvalidValue { field, .. } => field,
        e => panic!("unexpected {e:?}"),
    };
    for n in [0, 7, 513] {
        let m = vec![0u8; n];
        assert_eq!(
            field(generate_mac_emv_pin_change(&f.request(&m, f.visa()))),
            "message data"
        );
    }
    for ok in [8, 512] {
        let m = vec![0u8; ok];
        generate_mac_emv_pin_change(&f.request(&m, f.visa())).unwrap();
    }
    for n in [3, 9] {
        let mut r = f.request(&message, f.visa());
        r.mac_len = Some(n);
        assert_eq!(field(generate_mac_emv_pin_change(&r)), "MAC length");
    }
    let no_pad = common(
        PinBlockPadding::NoPadding,
        PinBlockLengthPosition::FrontOfPinBlock,
    );
    assert_eq!(
        field(generate_mac_emv_pin_change(&f.request(&message, no_pad))),
        "PIN block padding type"
    );
    let mut r = f.request(&message, f.visa());
    r.pin_block_format = PinBlockFormat::Iso4;
    assert_eq!(field(generate_mac_emv_pin_change(&r)), "PIN block format");
    r.pin_block_format = PinBlockFormat::Iso2;
    assert_eq!(
        generate_mac_emv_pin_change(&r).unwrap_err(),
        Error::NotPermitted(Refusal::FormatTranslationNotPermitted)
    );
    assert_eq!(
        PinBlockPadding::from_name("PKCS7"),
        Err(Error::InvalidValue {
            field: "PIN block padding type",
            reason: "expected one of: NO_PADDING ISO_IEC_7816_4",
        })
    );
    assert!(PinBlockLengthPosition::from_name("BACK").is_err());
}

#[test]
fn bad_pin_blocks_and_keys_are_refused() {
    let f = Fixture::new("1234567890123456", "9999", PinBlockFormat::Iso0);
    let message = visa_message();
    // The block is bound to another PAN.
    let other = Pan::new("1234567890123464").unwrap();
    let mut r = f.request(&message, f.visa());
    r.card.pan = &other;
    assert_eq!(generate_mac_emv_pin_change(&r).unwrap_err(), BAD_PIN_BLOCK);
    // Under another key.
    let wrong = tdes("0123456789ABCDEFFEDCBA9876543210");
    let mut r = f.request(&message, f.visa());
    r.new_pin_pek = &wrong;
    assert_eq!(generate_mac_emv_pin_change(&r).unwrap_err(), BAD_PIN_BLOCK);
    // A format 1 block whose PIN digits are not decimal.
    let mut clear = hex::decode("block", "14A2340123456789").unwrap();
    f.pek.encrypt_ecb(&mut clear).unwrap();
    let odd = EncryptedPinBlock::new(&clear).unwrap();
    let mut r = f.request(&message, f.visa());
    r.new_pin_block = &odd;
    r.pin_block_format = PinBlockFormat::Iso1;
    assert_eq!(generate_mac_emv_pin_change(&r).unwrap_err(), BAD_PIN_BLOCK);
    // An AES PEK and an AES issuer master key.
    let aes =
        SoftwareKey::from_hex(KeyAlgorithm::Aes128, "00112233445566778899AABBCCDDEEFF").unwrap();
    let mut r = f.request(&message, f.visa());
    r.new_pin_pek = &aes;
    assert!(matches!(
        generate_mac_emv_pin_change(&r),
        Err(Error::InvalidValue {
            field: "PIN encryption key",
            ..
        })
    ));
    let mut r = f.request(&message, f.visa());
    r.smc_imk = &aes;
    assert!(matches!(
        generate_mac_emv_pin_change(&r),
        Err(Error::InvalidValue {
            field: "issuer master key",
            ..
        })
    ));
}

#[test]
fn format_1_becomes_format_2() {
    let f = Fixture::new("1234567890123456", "9999", PinBlockFormat::Iso1);
    let g = Fixture::new("1234567890123456", "9999", PinBlockFormat::Iso0);
    let message = visa_message();
    let a = generate_mac_emv_pin_change(&f.request(&message, f.visa())).unwrap();
    let b = generate_mac_emv_pin_change(&g.request(&message, g.visa())).unwrap();
    assert_eq!(a.encrypted_pin_block, b.encrypted_pin_block);
    assert_eq!(a.mac.as_bytes(), b.mac.as_bytes());
}

#[test]
fn debug_shows_no_pin_data() {
    let f = Fixture::new("1234567890123456", "9999", PinBlockFormat::Iso0);
    let message = visa_message();
    let req = f.request(&message, f.visa());
    let out = generate_mac_emv_pin_change(&req).unwrap();
    let shown = format!("{req:?} {out:?}");
    assert!(!shown.contains("2DC7A061"), "{shown}");
    assert!(!shown.contains(&f.block.to_string()), "{shown}");
    assert!(!shown.contains("9999"), "{shown}");
    assert!(shown.contains("Visa"), "{shown}");
}
