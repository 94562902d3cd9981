//! `payhsm calc tr34`: TR-34 key transport on test credentials.
//!
//! - `certificate` creates a test CA, with a KDH and a KRD under it (keys and certificates as
//!   PEM files), so that both sides can be set up with payhsm alone.
//! - `export` builds a key block on the KDH side, `import` opens one on the KRD side, in the
//!   form given by `--form` or, on import without it, read from the key block.

use std::{
    fs,
    path::{Path, PathBuf},
    time::Duration,
};

use clap::{Args, Subcommand, ValueEnum};
use payhsm_core::{hex, rng::OsRandom, secret::KeyMaterial};
use payhsm_tr34::{
    DateTime, Error, KeyBlockHeader,
    cert::{self, Certificate, CertificateTemplate, Issuer, Role},
    rsa::{RsaKeySize, RsaPrivateKey, SoftwareRsaKey},
    token::{self, ExportMode, ExportRequest, Form, ImportMode, ImportRequest, Trust},
};
use serde_json::{Value, json};

use crate::error::CliError;

/// The TR-34 commands.
#[derive(Subcommand)]
pub(crate) enum Tr34 {
    /// Creates a test CA and a KDH and a KRD under it: keys and certificates as PEM files.
    Certificate(CertificateArgs),
    /// Builds a TR-34 key block for a KRD certificate, signed by the KDH (the KDH side).
    Export(ExportArgs),
    /// Verifies and decrypts a TR-34 key block with the KRD's key (the KRD side).
    Import(ImportArgs),
}

#[derive(Args)]
pub(crate) struct CertificateArgs {
    /// The directory to write ca.pem, ca.key.pem, kdh.pem, kdh.key.pem, krd.pem and
    /// krd.key.pem to (existing files are not overwritten).
    #[arg(long)]
    out_dir: PathBuf,
    /// The CA's RSA key size.
    #[arg(long, value_enum, default_value = "2048")]
    ca_key_size: KeySize,
    /// The KDH's RSA key size.
    #[arg(long, value_enum, default_value = "2048")]
    kdh_key_size: KeySize,
    /// The KRD's RSA key size: 2048 carries TDES keys, 3072 and 4096 carry up to AES-128.
    #[arg(long, value_enum, default_value = "2048")]
    krd_key_size: KeySize,
    /// The organization (O) in the three subject names.
    #[arg(long, default_value = "payhsm test")]
    organization: String,
    /// How long the certificates are valid, in days.
    #[arg(long, default_value_t = 365)]
    days: u32,
}

#[derive(Args)]
pub(crate) struct ExportArgs {
    /// The KRD's certificate (PEM file): the recipient.
    #[arg(long)]
    krd_cert: PathBuf,
    /// The KDH's private key (PEM file, PKCS #8 or PKCS #1).
    #[arg(long)]
    kdh_key: PathBuf,
    /// The KDH's certificate (PEM file).
    #[arg(long)]
    kdh_cert: PathBuf,
    /// If given, the KRD certificate must chain to this CA (PEM file; in a bundle, the last
    /// certificate is the CA and the others are intermediates).
    #[arg(long)]
    ca_cert: Option<PathBuf>,
    /// The key to send, in hex (TDES: 16 or 24 bytes; AES: 16 bytes).
    #[arg(long)]
    key: String,
    /// The 16-character TR-31-style key block header, e.g. D0000K0TB00E0000.
    #[arg(long)]
    header: String,
    /// The KRD's random nonce in hex (8 to 16 bytes) for a two-pass token; without it, a
    /// one-pass token signed now (X9_TR34_2019 only).
    #[arg(long)]
    nonce: Option<String>,
    /// The key block format: X9_TR34_2012 (AWS Payment Cryptography's) or X9_TR34_2019 (RFC
    /// 5652 CMS).
    #[arg(long, value_enum, default_value = "X9_TR34_2012")]
    form: KeyBlockFormat,
}

#[derive(Args)]
pub(crate) struct ImportArgs {
    /// The KRD's private key (PEM file, PKCS #8 or PKCS #1).
    #[arg(long)]
    krd_key: PathBuf,
    /// The KRD's certificate (PEM file); if given, the key block must be addressed to it.
    #[arg(long)]
    krd_cert: Option<PathBuf>,
    /// The KDH's certificate (PEM file), which must have signed the key block.
    #[arg(long)]
    kdh_cert: PathBuf,
    /// The CA the KDH certificate must chain to (PEM file; in a bundle, the last certificate
    /// is the CA and the others are intermediates).
    #[arg(long)]
    ca_cert: PathBuf,
    /// The TR-34 key block, in hex.
    #[arg(long)]
    key_block: String,
    /// The nonce this KRD sent, in hex, for a two-pass key block; without it, a one-pass key
    /// block is expected (with no replay bound: the calculator keeps no state).
    #[arg(long)]
    nonce: Option<String>,
    /// Validate the certificates at this time (RFC 3339, e.g. 2015-01-01T00:00:00Z) instead
    /// of now.
    #[arg(long)]
    verification_time: Option<String>,
    /// The key block format: X9_TR34_2012 (AWS Payment Cryptography's) or X9_TR34_2019 (RFC
    /// 5652 CMS). Without it, the format is read from the key block: the X9_TR34_2012 envelope
    /// holds the EnvelopedData's fields (first an INTEGER), the X9_TR34_2019 one a complete
    /// EnvelopedData (a SEQUENCE).
    #[arg(long, value_enum)]
    form: Option<KeyBlockFormat>,
}

/// The service's `KeyBlockFormat` values.
#[derive(Clone, Copy, ValueEnum)]
enum KeyBlockFormat {
    #[value(name = "X9_TR34_2012")]
    X9Tr34_2012,
    #[value(name = "X9_TR34_2019")]
    X9Tr34_2019,
}

impl From<KeyBlockFormat> for Form {
    fn from(format: KeyBlockFormat) -> Self {
        match format {
            KeyBlockFormat::X9Tr34_2012 => Self::X9Tr34_2012,
            KeyBlockFormat::X9Tr34_2019 => Self::X9Tr34_2019,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum KeySize {
    #[value(name = "2048")]
    Rsa2048,
    #[value(name = "3072")]
    Rsa3072,
    #[value(name = "4096")]
    Rsa4096,
}

impl From<KeySize> for RsaKeySize {
    fn from(size: KeySize) -> Self {
        match size {
            KeySize::Rsa2048 => Self::Rsa2048,
            KeySize::Rsa3072 => Self::Rsa3072,
            KeySize::Rsa4096 => Self::Rsa4096,
        }
    }
}

/// Runs a TR-34 command.
pub(crate) fn run(cmd: Tr34) -> Result<Value, CliError> {
    match cmd {
        Tr34::Certificate(args) => certificate(&args),
        Tr34::Export(args) => export(&args),
        Tr34::Import(args) => import(&args),
    }
}

/// A TR-34 error as one sentence of what went wrong and one of what to do.
fn failed(e: Error) -> CliError {
    let hint = match e {
        Error::CertificateNotTrusted { .. } => {
            "Check the certificates, the CA and the verification time."
        }
        Error::SignatureInvalid => {
            "Check that the key block is unaltered and the KDH certificate is the signer's."
        }
        Error::Freshness { .. } => "Check the nonce (two-pass) or the signing time (one-pass).",
        Error::WrongRecipient | Error::DecryptionFailed => {
            "Check that the key block was made for this KRD key."
        }
        Error::KeyRejected { .. } => "Use an RSA-2048, 3072 or 4096 key with exponent 65537.",
        _ => "Check the input and run the command again.",
    };
    CliError::usage(e.to_string(), Some(hint))
}

fn read(option: &str, path: &Path) -> Result<String, CliError> {
    fs::read_to_string(path).map_err(|e| {
        CliError::usage(
            format!("{option}: cannot read {}: {e}", path.display()),
            Some("Check the path and run the command again."),
        )
    })
}

fn read_key(option: &str, path: &Path) -> Result<SoftwareRsaKey, CliError> {
    SoftwareRsaKey::from_pem(&read(option, path)?).map_err(|e| CliError::invalid(option, e))
}

fn read_cert(option: &str, path: &Path) -> Result<Certificate, CliError> {
    Certificate::from_pem(&read(option, path)?).map_err(|e| CliError::invalid(option, e))
}

/// A CA bundle: the last certificate is the trust anchor, the others intermediates.
fn read_ca(option: &str, path: &Path) -> Result<(Certificate, Vec<Certificate>), CliError> {
    let mut certs = Certificate::from_pem_bundle(&read(option, path)?)
        .map_err(|e| CliError::invalid(option, e))?;
    let ca = certs
        .pop()
        .ok_or_else(|| CliError::invalid(option, "the file holds no certificate"))?;
    Ok((ca, certs))
}

fn nonce(value: Option<&str>) -> Result<Option<Vec<u8>>, CliError> {
    value
        .map(|n| hex::decode("nonce", n).map_err(|e| CliError::invalid("--nonce", e)))
        .transpose()
}

fn failed_time(e: payhsm_tr34::der::Error) -> CliError {
    CliError::failed(format!("time: {e}"), None)
}

fn now() -> Result<DateTime, CliError> {
    payhsm_tr34::now().map_err(failed)
}

fn certificate(args: &CertificateArgs) -> Result<Value, CliError> {
    let files = [
        "ca.pem",
        "ca.key.pem",
        "kdh.pem",
        "kdh.key.pem",
        "krd.pem",
        "krd.key.pem",
    ]
    .map(|name| args.out_dir.join(name));
    if let Some(existing) = files.iter().find(|f| f.exists()) {
        return Err(CliError::usage(
            format!("{} already exists", existing.display()),
            Some("Choose an empty --out-dir; payhsm does not overwrite keys."),
        ));
    }
    // Valid from a day ago, so that a clock a little behind still accepts them.
    let now = now()?.unix_duration();
    let day = Duration::from_secs(86_400);
    let at = |t| DateTime::from_unix_duration(t).map_err(|e| CliError::invalid("--days", e));
    let template = |role| -> Result<CertificateTemplate, CliError> {
        Ok(CertificateTemplate {
            role,
            not_before: at(now.saturating_sub(day))?,
            not_after: at(now + day * args.days)?,
            serial_number: None,
        })
    };
    let name = |cn: &str| {
        format!(
            "CN=payhsm test {cn},O={}",
            args.organization.replace(',', "\\,")
        )
    };
    let generate = |size: KeySize| SoftwareRsaKey::generate(size.into()).map_err(failed);

    let ca_key = generate(args.ca_key_size)?;
    let ca = cert::issue(
        &name("CA"),
        ca_key.public_key(),
        &template(Role::Ca)?,
        Issuer::SelfSigned(&ca_key),
        &mut OsRandom,
    )
    .map_err(failed)?;
    let issuer = Issuer::Ca {
        certificate: &ca,
        key: &ca_key,
    };
    let kdh_key = generate(args.kdh_key_size)?;
    let kdh = cert::issue(
        &name("KDH"),
        kdh_key.public_key(),
        &template(Role::Kdh)?,
        issuer,
        &mut OsRandom,
    )
    .map_err(failed)?;
    let krd_key = generate(args.krd_key_size)?;
    let krd = cert::issue(
        &name("KRD"),
        krd_key.public_key(),
        &template(Role::Krd)?,
        issuer,
        &mut OsRandom,
    )
    .map_err(failed)?;

    fs::create_dir_all(&args.out_dir).map_err(|e| {
        CliError::failed(
            format!("--out-dir: cannot create {}: {e}", args.out_dir.display()),
            Some("Check the path and run the command again."),
        )
    })?;
    let pem = |c: &Certificate| c.to_pem().map_err(failed);
    let key_pem = |k: &SoftwareRsaKey| k.to_pkcs8_pem().map_err(failed);
    write(&files[0], &pem(&ca)?, false)?;
    write(&files[1], &key_pem(&ca_key)?, true)?;
    write(&files[2], &pem(&kdh)?, false)?;
    write(&files[3], &key_pem(&kdh_key)?, true)?;
    write(&files[4], &pem(&krd)?, false)?;
    write(&files[5], &key_pem(&krd_key)?, true)?;
    let [ca_cert, ca_key, kdh_cert, kdh_key, krd_cert, krd_key] =
        files.map(|f| f.display().to_string());
    Ok(json!({
        "CaCertificate": ca_cert,
        "CaKey": ca_key,
        "KdhCertificate": kdh_cert,
        "KdhKey": kdh_key,
        "KrdCertificate": krd_cert,
        "KrdKey": krd_key,
    }))
}

/// Writes a new file; private keys are readable by the owner only.
fn write(path: &Path, text: &str, private: bool) -> Result<(), CliError> {
    use std::io::Write;
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    options
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| {
            CliError::failed(
                format!("cannot write {}: {e}", path.display()),
                Some("Check the directory and run the command again."),
            )
        })
}

fn export(args: &ExportArgs) -> Result<Value, CliError> {
    let krd = read_cert("--krd-cert", &args.krd_cert)?;
    let kdh = read_cert("--kdh-cert", &args.kdh_cert)?;
    let kdh_key = read_key("--kdh-key", &args.kdh_key)?;
    let ca = args
        .ca_cert
        .as_deref()
        .map(|path| read_ca("--ca-cert", path))
        .transpose()?;
    let key = KeyMaterial::from_hex("key", &args.key).map_err(|e| CliError::invalid("--key", e))?;
    let header: KeyBlockHeader = args
        .header
        .parse()
        .map_err(|e| CliError::invalid("--header", e))?;
    let nonce = nonce(args.nonce.as_deref())?;
    let mode = match &nonce {
        Some(nonce) => ExportMode::TwoPass { nonce },
        None => ExportMode::OnePass {
            signing_time: now()?,
        },
    };
    let time = now()?;
    let request = ExportRequest {
        form: args.form.into(),
        kdh_certificate: &kdh,
        krd_certificate: &krd,
        krd_trust: ca.as_ref().map(|(ca, intermediates)| Trust {
            ca,
            intermediates,
            time,
        }),
        mode,
        header,
    };
    let block = token::export(&key, &request, &kdh_key, &mut OsRandom).map_err(failed)?;
    Ok(json!({ "KeyBlock": hex::encode(&block) }))
}

fn import(args: &ImportArgs) -> Result<Value, CliError> {
    let krd_key = read_key("--krd-key", &args.krd_key)?;
    let krd = args
        .krd_cert
        .as_deref()
        .map(|path| read_cert("--krd-cert", path))
        .transpose()?;
    let kdh = read_cert("--kdh-cert", &args.kdh_cert)?;
    let (ca, intermediates) = read_ca("--ca-cert", &args.ca_cert)?;
    let block = hex::decode("key block", &args.key_block)
        .map_err(|e| CliError::invalid("--key-block", e))?;
    let time = match &args.verification_time {
        Some(t) => t.replace("+00:00", "Z").parse::<DateTime>().map_err(|_| {
            CliError::invalid(
                "--verification-time",
                "expected RFC 3339 UTC, e.g. 2015-01-01T00:00:00Z",
            )
        })?,
        None => now()?,
    };
    let nonce = nonce(args.nonce.as_deref())?;
    let mode = match &nonce {
        Some(nonce) => ImportMode::TwoPass { nonce },
        None => ImportMode::OnePass {
            after: DateTime::from_unix_duration(Duration::ZERO).map_err(failed_time)?,
        },
    };
    let form = match args.form {
        Some(format) => format.into(),
        None => Form::detect(&block).map_err(failed)?,
    };
    let request = ImportRequest {
        form,
        kdh_certificate: &kdh,
        kdh_trust: Trust {
            ca: &ca,
            intermediates: &intermediates,
            time,
        },
        krd_certificate: krd.as_ref(),
        mode,
        allow_oaep_sha1: false,
    };
    let imported = token::import(&block, &krd_key, &request).map_err(failed)?;
    let kcv = imported.key_check_value().map_err(failed)?;
    Ok(json!({
        "KeyBlockFormat": form.name(),
        "Header": imported.header().as_str(),
        "Key": hex::encode(imported.key().expose_secret()),
        "KeyCheckValue": kcv.to_string(),
    }))
}
