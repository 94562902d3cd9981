//! `payhsm calc cvv | amex-csc | dcvv | cvc3 | cavv`: card validation data on clear test keys.
//!
//! Each generates `{"ValidationData": "…"}`; each `verify` form prints `{"Verified": true}` or
//! reports INVALID_VALIDATION_DATA and exits 1.

use clap::{Args, Subcommand};
use payhsm_core::{
    card::{
        cavv::{self, CavvData},
        csc::{self, CscVersion},
        cvc3::{self, UnpredictableNumber},
        cvv,
        dcvv::{self, Atc},
        icc::PanSequenceNumber,
    },
    fields::SecretDigits,
    hex,
};
use serde_json::{Value, json};

use super::common::{INVALID_VALIDATION_DATA, expiry, pan, service_code, tdes2_key, verified};
use crate::error::CliError;

/// A generating command with a `verify` subcommand that adds `--validation-data`.
macro_rules! with_verify {
    ($cmd:ident, $verify:ident, $args:ident) => {
        #[derive(Args)]
        #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
        pub(crate) struct $cmd {
            #[command(subcommand)]
            verify: Option<$verify>,
            #[command(flatten)]
            args: $args,
        }

        #[derive(Subcommand)]
        enum $verify {
            /// Checks presented validation data: {"Verified": true}, or INVALID_VALIDATION_DATA.
            Verify {
                #[command(flatten)]
                args: $args,
                /// The value to check.
                #[arg(long)]
                validation_data: String,
            },
        }

        impl $cmd {
            pub(crate) fn run(&self) -> Result<Value, CliError> {
                match &self.verify {
                    None => Ok(json!({ "ValidationData": self.args.generate(None)?.expose_secret() })),
                    Some($verify::Verify { args, validation_data }) => {
                        args.check_presented(validation_data)?;
                        let computed = args.generate(Some(validation_data.len()))?;
                        verified(computed.verify(validation_data), INVALID_VALIDATION_DATA)
                    }
                }
            }
        }
    };
}

fn req<'a>(v: &'a Option<String>, option: &str) -> Result<&'a str, CliError> {
    v.as_deref()
        .ok_or_else(|| CliError::invalid(option, "required"))
}

fn digits_only(option: &str, text: &str, min: usize, max: usize) -> Result<(), CliError> {
    if (min..=max).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(CliError::invalid(
            option,
            format!("expected {min} to {max} decimal digits"),
        ))
    }
}

with_verify!(CvvCmd, CvvVerify, CvvArgs);

#[derive(Args)]
pub(crate) struct CvvArgs {
    /// The card verification key CVK-A || CVK-B (two-key TDES) in hex.
    #[arg(long, required = true)]
    key: Option<String>,
    /// The PAN.
    #[arg(long, required = true)]
    pan: Option<String>,
    /// The expiry date, YYMM.
    #[arg(long, required = true)]
    expiry: Option<String>,
    /// The service code: 000 for CVV2/CVC2, 999 for iCVV.
    #[arg(long, required = true)]
    service_code: Option<String>,
    /// The number of digits, 3 to 5.
    #[arg(long, default_value_t = 3)]
    length: usize,
}

impl CvvArgs {
    fn generate(&self, len: Option<usize>) -> Result<SecretDigits, CliError> {
        let key = tdes2_key("--key", req(&self.key, "--key")?)?;
        Ok(cvv::generate(
            &key,
            &pan("--pan", req(&self.pan, "--pan")?)?,
            &expiry(req(&self.expiry, "--expiry")?)?,
            &service_code(req(&self.service_code, "--service-code")?)?,
            len.unwrap_or(self.length),
        )?)
    }

    fn check_presented(&self, v: &str) -> Result<(), CliError> {
        digits_only("--validation-data", v, 3, 5)
    }
}

with_verify!(CscCmd, CscVerify, CscArgs);

#[derive(Args)]
pub(crate) struct CscArgs {
    /// The CSC algorithm version, 1 or 2.
    #[arg(long, required = true)]
    version: Option<u8>,
    /// The CSC key (two-key TDES) in hex.
    #[arg(long, required = true)]
    key: Option<String>,
    /// The American Express PAN (15 digits, 34… or 37…).
    #[arg(long, required = true)]
    pan: Option<String>,
    /// The expiry date, YYMM.
    #[arg(long, required = true)]
    expiry: Option<String>,
    /// The service code (version 2 only).
    #[arg(long)]
    service_code: Option<String>,
    /// The number of digits: 5, 4 or 3.
    #[arg(long, default_value_t = 4)]
    length: usize,
}

impl CscArgs {
    fn generate(&self, len: Option<usize>) -> Result<SecretDigits, CliError> {
        let version = match self.version {
            Some(1) => CscVersion::V1,
            Some(2) => CscVersion::V2,
            _ => return Err(CliError::invalid("--version", "expected 1 or 2")),
        };
        let sc = self.service_code.as_deref().map(service_code).transpose()?;
        if version == CscVersion::V1 && sc.is_some() {
            return Err(CliError::invalid(
                "--service-code",
                "CSC version 1 takes no service code",
            ));
        }
        let key = tdes2_key("--key", req(&self.key, "--key")?)?;
        Ok(csc::generate(
            &key,
            version,
            &pan("--pan", req(&self.pan, "--pan")?)?,
            &expiry(req(&self.expiry, "--expiry")?)?,
            sc.as_ref(),
            len.unwrap_or(self.length),
        )?)
    }

    fn check_presented(&self, v: &str) -> Result<(), CliError> {
        digits_only("--validation-data", v, 3, 5)
    }
}

fn psn(text: &str) -> Result<PanSequenceNumber, CliError> {
    PanSequenceNumber::new(text).map_err(|e| CliError::invalid("--pan-sequence-number", e))
}

fn atc(text: &str) -> Result<Atc, CliError> {
    Atc::new(text).map_err(|e| CliError::invalid("--atc", e))
}

with_verify!(DcvvCmd, DcvvVerify, DcvvArgs);

#[derive(Args)]
pub(crate) struct DcvvArgs {
    /// The issuer's dCVV master key (two-key TDES) in hex; the card key is derived (EMV
    /// option A).
    #[arg(long, required = true)]
    key: Option<String>,
    /// The PAN.
    #[arg(long, required = true)]
    pan: Option<String>,
    /// The PAN sequence number, 2 digits.
    #[arg(long, default_value = "00")]
    pan_sequence_number: String,
    /// The expiry date, YYMM.
    #[arg(long, required = true)]
    expiry: Option<String>,
    /// The service code.
    #[arg(long, required = true)]
    service_code: Option<String>,
    /// The application transaction counter, 2 to 4 hex digits.
    #[arg(long, required = true)]
    atc: Option<String>,
}

impl DcvvArgs {
    fn generate(&self, _len: Option<usize>) -> Result<SecretDigits, CliError> {
        let key = tdes2_key("--key", req(&self.key, "--key")?)?;
        Ok(dcvv::generate(
            &key,
            &pan("--pan", req(&self.pan, "--pan")?)?,
            &psn(&self.pan_sequence_number)?,
            &expiry(req(&self.expiry, "--expiry")?)?,
            &service_code(req(&self.service_code, "--service-code")?)?,
            &atc(req(&self.atc, "--atc")?)?,
        )?)
    }

    fn check_presented(&self, v: &str) -> Result<(), CliError> {
        digits_only("--validation-data", v, 3, 3)
    }
}

with_verify!(Cvc3Cmd, Cvc3Verify, Cvc3Args);

#[derive(Args)]
pub(crate) struct Cvc3Args {
    /// The issuer's CVC3 master key (two-key TDES) in hex; the card key is derived (EMV
    /// option A).
    #[arg(long, required = true)]
    key: Option<String>,
    /// The PAN.
    #[arg(long, required = true)]
    pan: Option<String>,
    /// The PAN sequence number, 2 digits.
    #[arg(long, default_value = "00")]
    pan_sequence_number: String,
    /// The track data template in hex.
    #[arg(long, required = true)]
    track_data: Option<String>,
    /// The unpredictable number, 2 to 8 hex digits.
    #[arg(long, required = true)]
    unpredictable_number: Option<String>,
    /// The application transaction counter, 2 to 4 hex digits.
    #[arg(long, required = true)]
    atc: Option<String>,
}

impl Cvc3Args {
    fn generate(&self, len: Option<usize>) -> Result<SecretDigits, CliError> {
        let key = tdes2_key("--key", req(&self.key, "--key")?)?;
        let track = hex::decode("track data", req(&self.track_data, "--track-data")?)
            .map_err(|e| CliError::invalid("--track-data", e))?;
        let un =
            UnpredictableNumber::new(req(&self.unpredictable_number, "--unpredictable-number")?)
                .map_err(|e| CliError::invalid("--unpredictable-number", e))?;
        let full = cvc3::generate(
            &key,
            &pan("--pan", req(&self.pan, "--pan")?)?,
            &psn(&self.pan_sequence_number)?,
            &track,
            &un,
            &atc(req(&self.atc, "--atc")?)?,
        )?;
        // A terminal sees only the rightmost digits.
        let n = len.unwrap_or(5).clamp(1, 5);
        Ok(SecretDigits::new("cvc3", &full.expose_secret()[5 - n..])?)
    }

    fn check_presented(&self, v: &str) -> Result<(), CliError> {
        digits_only("--validation-data", v, 3, 5)
    }
}

with_verify!(CavvCmd, CavvVerify, CavvArgs);

#[derive(Args)]
pub(crate) struct CavvArgs {
    /// The CAVV key (two-key TDES) in hex.
    #[arg(long, required = true)]
    key: Option<String>,
    /// The PAN.
    #[arg(long, required = true)]
    pan: Option<String>,
    /// The unpredictable number, 4 digits.
    #[arg(long, required = true)]
    unpredictable_number: Option<String>,
    /// The authentication results code, 1 digit.
    #[arg(long, required = true)]
    authentication_results_code: Option<String>,
    /// The second-factor authentication code, 2 digits.
    #[arg(long, required = true)]
    second_factor_code: Option<String>,
}

impl CavvArgs {
    fn generate(&self, _len: Option<usize>) -> Result<SecretDigits, CliError> {
        let key = tdes2_key("--key", req(&self.key, "--key")?)?;
        let data = CavvData::new(
            req(&self.unpredictable_number, "--unpredictable-number")?,
            req(
                &self.authentication_results_code,
                "--authentication-results-code",
            )?,
            req(&self.second_factor_code, "--second-factor-code")?,
        )?;
        Ok(cavv::generate(
            &key,
            &pan("--pan", req(&self.pan, "--pan")?)?,
            &data,
        )?)
    }

    fn check_presented(&self, v: &str) -> Result<(), CliError> {
        digits_only("--validation-data", v, 3, 3)
    }
}
