//! The constant-time gate's subject (T-CT): runs one verification path once, on a presented
//! value that matches or differs at its first or at its last byte.
//!
//! ```sh
//! ct_gate --cases                       # each case and the function callgrind collects
//! ct_gate <case> <match|first|last>     # prints verified or refused
//! ```
//!
//! `tests/constant_time.rs` runs each case under `valgrind --tool=callgrind
//! --toggle-collect=<function>`, so the instruction count covers the verification alone (with
//! the computation of the expected value inside it), not the set-up. Every input but the
//! presented value is fixed. The cases `control_*` compare in variable time (an early-exit
//! loop; `==`): the gate must flag them, or it proves nothing.

use std::{hint::black_box, process::ExitCode};

use payhsm_core::{
    card::cvv,
    crypto::SoftwareKey,
    emv::{self, Card, PanSequenceNumber, mkd::MasterKeyDerivation, session::SessionKeyDerivation},
    fields::{Expiry, Pan, ServiceCode},
    hex,
    key::KeyAlgorithm,
    mac::{self, MacAlgorithm, Padding},
    pin::{
        Pin,
        block::{self, PinBlockFormat},
        decimalization::{DecimalizationPolicy, DecimalizationTable},
        ibm3624::{self, Ibm3624Params},
        pvv::{self, Pvki},
    },
    rng::Replay,
    secret::KeyMaterial,
};
use payhsm_tr31::{Header, Kbpk, UnwrapOptions, WrapOptions, unwrap, wrap};

const TDES2: &str = "0123456789ABCDEFFEDCBA9876543210";
const AES128: &str = "2B7E151628AED2A6ABF7158809CF4F3C";
const PAN: &str = "4123456789012345";
const MESSAGE: [u8; 48] = [0x5A; 48];

/// The function whose instructions callgrind counts, for most cases: [`measured`].
const MEASURED: &str = "ct_gate::measured*";

/// The cases and the function callgrind collects in each. The verification is measured
/// whole, except TR-31's: after the MAC verifies, unwrap goes on to read the key (work that
/// only an authentic block reaches), so there the authenticated decryption is measured. The
/// last two are the negative controls, which the gate must flag.
const CASES: [(&str, &str); 9] = [
    ("mac", MEASURED),
    ("cvv", MEASURED),
    ("pvv", MEASURED),
    ("ibm3624", MEASURED),
    ("arqc", MEASURED),
    ("tr31_mac", "payhsm_tr31::binding::BindingKeys::open*"),
    ("pin_block", MEASURED),
    ("control_early_exit", MEASURED),
    ("control_eq", MEASURED),
];

/// Where the presented value differs from the expected one.
#[derive(Clone, Copy)]
enum Variant {
    Match,
    First,
    Last,
}

fn key(algorithm: KeyAlgorithm, hex: &str) -> SoftwareKey {
    SoftwareKey::from_hex(algorithm, hex).expect("a valid test key")
}

/// `value` changed at its first or last byte, or not at all.
fn presented(value: &[u8], variant: Variant) -> Vec<u8> {
    let mut v = value.to_vec();
    let at = match variant {
        Variant::Match => return v,
        Variant::First => 0,
        Variant::Last => v.len() - 1,
    };
    v[at] ^= 0x01;
    v
}

/// Decimal digits changed at their first or last digit (to another digit: `0`↔`1`, …, `8`↔`9`,
/// so the presented value stays well formed and only the comparison sees the change).
fn presented_digits(digits: &str, variant: Variant) -> String {
    String::from_utf8(presented(digits.as_bytes(), variant)).expect("digits stay ASCII")
}

/// Hex text changed in the first or last nibble (`0`↔`1`, …, `A`↔`B`, `E`↔`F`: the character
/// stays a hex digit of the same kind, so decoding takes the same path).
fn presented_hex(text: &str, variant: Variant) -> String {
    let mut nibbles: Vec<u8> = text
        .bytes()
        .map(|c| u8::try_from(char::from(c).to_digit(16).expect("hex")).expect("a nibble"))
        .collect();
    let at = match variant {
        Variant::Match => None,
        Variant::First => Some(0),
        Variant::Last => Some(nibbles.len() - 1),
    };
    if let Some(at) = at {
        nibbles[at] ^= 1;
    }
    nibbles
        .iter()
        .map(|&n| char::from_digit(u32::from(n), 16).expect("a nibble"))
        .collect::<String>()
        .to_uppercase()
}

/// The measured part: the verification alone. Its name is what callgrind collects.
#[inline(never)]
fn measured(verify: &dyn Fn() -> bool) -> bool {
    black_box(verify())
}

/// A comparison that stops at the first difference: the negative control of a hand-written
/// variable-time loop.
fn early_exit_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| black_box(x) == black_box(y))
}

/// Runs `case` once on the presented value `variant`; whether it verified.
fn run(case: &str, variant: Variant) -> Result<bool, String> {
    let tdes = key(KeyAlgorithm::Tdes2Key, TDES2);
    let aes = key(KeyAlgorithm::Aes128, AES128);
    let pan = Pan::new(PAN).map_err(|e| e.to_string())?;
    Ok(match case {
        "mac" => {
            let tag = mac::generate(&aes, MacAlgorithm::Cmac, &MESSAGE, Padding::Method1, None)
                .map_err(|e| e.to_string())?;
            let mac = presented(tag.as_bytes(), variant);
            measured(&|| {
                mac::verify(&aes, MacAlgorithm::Cmac, &MESSAGE, Padding::Method1, &mac).is_ok()
            })
        }
        "cvv" => {
            let (expiry, sc) = (
                Expiry::new("8701").unwrap(),
                ServiceCode::new("101").unwrap(),
            );
            let cvv = cvv::generate(&tdes, &pan, &expiry, &sc, 3).map_err(|e| e.to_string())?;
            let cvv = presented_digits(cvv.expose_secret(), variant);
            measured(&|| cvv::verify(&tdes, &pan, &expiry, &sc, &cvv).is_ok())
        }
        "pvv" => {
            let (pin, pvki) = (Pin::new("1234").unwrap(), Pvki::new(1).unwrap());
            let pvv = pvv::generate(&tdes, &pan, &pin, pvki).map_err(|e| e.to_string())?;
            let pvv = presented_digits(pvv.expose_secret(), variant);
            measured(&|| pvv::verify(&tdes, &pan, &pin, pvki, &pvv).is_ok())
        }
        "ibm3624" => {
            // The secret compared is the customer's PIN (from the PIN block) against natural
            // PIN plus offset.
            let params = Ibm3624Params::new(DecimalizationTable::STANDARD, "4123456789012", "F")
                .map_err(|e| e.to_string())?;
            let right = Pin::new("1234").unwrap();
            let offset = ibm3624::offset(&tdes, &params, &right).map_err(|e| e.to_string())?;
            let pin = Pin::new(&presented_digits("1234", variant)).map_err(|e| e.to_string())?;
            let policy = DecimalizationPolicy::AnyTable;
            measured(&|| {
                ibm3624::verify(&tdes, &params, &policy, &pin, offset.expose_secret()).is_ok()
            })
        }
        "arqc" => {
            let card = Card {
                pan: &pan,
                psn: PanSequenceNumber::new("01").map_err(|e| e.to_string())?,
                option: MasterKeyDerivation::OptionA,
            };
            let d = SessionKeyDerivation::EmvCommon { atc: [0, 0x1C] };
            let arqc = emv::generate_arqc(&tdes, &card, &d, &MESSAGE, Padding::Method2)
                .map_err(|e| e.to_string())?;
            let arqc = presented(arqc.as_bytes(), variant);
            measured(&|| {
                emv::verify_arqc(&tdes, &card, &d, &MESSAGE, Padding::Method2, &arqc).is_ok()
            })
        }
        "tr31_mac" => {
            // A version D block with fixed padding; the presented MAC is the block's last 32
            // hex characters.
            let kbpk = KeyMaterial::from_hex("kbpk", AES128).map_err(|e| e.to_string())?;
            let clear = || Kbpk::Clear {
                algorithm: KeyAlgorithm::Aes128,
                key: &kbpk,
            };
            let header = Header::parse("D0000P0AE00E0000").map_err(|e| e.to_string())?;
            let padding = [0x3C; 32];
            let block = wrap(
                clear(),
                &header,
                &[0x11; 16],
                &WrapOptions::default(),
                &mut Replay::new(&padding),
            )
            .map_err(|e| e.to_string())?;
            let (body, mac) = block.split_at(block.len() - 32);
            let block = format!("{body}{}", presented_hex(mac, variant));
            measured(&|| unwrap(clear(), &block, &UnwrapOptions::default()).is_ok())
        }
        "pin_block" => {
            // ISO format 0, PIN 1234: the fill nibbles (7th to 16th) must be F; the wrong
            // ones are E at the first or the last fill nibble.
            let mut bytes = [0u8; 8];
            hex::decode_into("block", b"041234FFFFFFFFFF", &mut bytes)
                .map_err(|e| e.to_string())?;
            match variant {
                Variant::Match => {}
                Variant::First => bytes[3] ^= 0x10,
                Variant::Last => bytes[7] ^= 0x01,
            }
            for (b, p) in bytes.iter_mut().zip(&block::pan_field_iso0(&pan)) {
                *b ^= p;
            }
            measured(&|| block::decode(PinBlockFormat::Iso0, &bytes, Some(&pan)).is_ok())
        }
        "control_early_exit" => {
            let expected = [0xA5u8; 32];
            let given = presented(&expected, variant);
            measured(&|| early_exit_eq(&expected, &given))
        }
        "control_eq" => {
            // `ct_eq` replaced by `==`: the slices are compared by libc's memcmp.
            let expected = black_box(vec![0xA5u8; 32]);
            let given = presented(&expected, variant);
            measured(&|| expected[..] == given[..])
        }
        other => {
            return Err(format!(
                "unknown case {other}; `ct-gate --cases` lists them"
            ));
        }
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--cases") {
        for (case, collect) in CASES {
            println!("{case} {collect}");
        }
        return ExitCode::SUCCESS;
    }
    let variant = match args.get(1).map(String::as_str) {
        Some("match") => Variant::Match,
        Some("first") => Variant::First,
        Some("last") => Variant::Last,
        _ => {
            eprintln!("usage: ct-gate --cases | ct-gate <case> <match|first|last>");
            return ExitCode::from(2);
        }
    };
    match run(&args[0], variant) {
        // The outcome is part of the check: a match must verify and a mismatch must not.
        Ok(verified) => {
            println!("{}", if verified { "verified" } else { "refused" });
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ct-gate: {e}");
            ExitCode::FAILURE
        }
    }
}
