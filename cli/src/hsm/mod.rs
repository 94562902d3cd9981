//! `payhsm` by key id: commands shaped like the AWS CLI's `payment-cryptography` and
//! `payment-cryptography-data`, on the embedded store.
//!
//! Each command is one row of [`COMMANDS`]: its name, the service operation, and its
//! parameters (`--key-identifier` → `KeyIdentifier`, …). The command builds the service's
//! request from them (structure parameters take JSON or the AWS CLI shorthand; every command
//! also takes `--cli-input-json`), calls the HSM, and prints the service's response. Errors
//! print the service's error name and message on stderr.

pub(crate) mod backup;
pub(crate) mod ceremony;
pub(crate) mod custodians;
mod home;
pub(crate) mod mpa;
mod regions;
mod shorthand;

use std::{
    path::Path,
    time::{Duration, Instant},
};

use clap::{Arg, ArgAction, ArgMatches, Command};
use payhsm_core::key::KeyAttributes;
use payhsm_keystore::{arn::AccountId, model::KeyAttributesInput};
use serde_json::{Map, Value};

pub(crate) use home::{Backend, Home, read_line};
pub(crate) use regions::StoreRegions;

use crate::error::CliError;

/// How a parameter's text becomes JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A string.
    Str,
    /// An integer.
    Int,
    /// A boolean: `--flag` and `--no-flag`.
    Bool,
    /// A structure: JSON or shorthand.
    Struct,
    /// A list of strings (several values).
    StrList,
    /// A list of structures (several values, or one JSON list).
    StructList,
}

/// One parameter: the flag, the request member, how to read it, whether it is required.
type Param = (&'static str, &'static str, Kind, bool);

/// One command: name, operation, summary, parameters.
struct Spec {
    name: &'static str,
    operation: &'static str,
    about: &'static str,
    params: &'static [Param],
}

use Kind::{Bool, Int, Str, StrList, Struct, StructList};

const KEY_ID: Param = ("key-identifier", "KeyIdentifier", Str, true);
const REGIONS: Param = ("replication-regions", "ReplicationRegions", StrList, true);
const PAGE: [Param; 2] = [
    ("next-token", "NextToken", Str, false),
    ("max-results", "MaxResults", Int, false),
];

const COMMANDS: &[Spec] = &[
    Spec {
        name: "create-key",
        operation: "CreateKey",
        about: "Creates a key inside the HSM",
        params: &[
            ("key-attributes", "KeyAttributes", Struct, true),
            ("exportable", "Exportable", Bool, true),
            (
                "key-check-value-algorithm",
                "KeyCheckValueAlgorithm",
                Str,
                false,
            ),
            ("enabled", "Enabled", Bool, false),
            ("tags", "Tags", StructList, false),
            ("derive-key-usage", "DeriveKeyUsage", Str, false),
            ("replication-regions", "ReplicationRegions", StrList, false),
        ],
    },
    Spec {
        name: "get-key",
        operation: "GetKey",
        about: "Describes a key",
        params: &[KEY_ID],
    },
    Spec {
        name: "list-keys",
        operation: "ListKeys",
        about: "Lists keys, a page at a time",
        params: &[("key-state", "KeyState", Str, false), PAGE[0], PAGE[1]],
    },
    Spec {
        name: "delete-key",
        operation: "DeleteKey",
        about: "Schedules a key's deletion (3 to 180 days, default 7)",
        params: &[
            KEY_ID,
            ("delete-key-in-days", "DeleteKeyInDays", Int, false),
        ],
    },
    Spec {
        name: "restore-key",
        operation: "RestoreKey",
        about: "Cancels a scheduled deletion",
        params: &[KEY_ID],
    },
    Spec {
        name: "start-key-usage",
        operation: "StartKeyUsage",
        about: "Enables a key",
        params: &[KEY_ID],
    },
    Spec {
        name: "stop-key-usage",
        operation: "StopKeyUsage",
        about: "Disables a key",
        params: &[KEY_ID],
    },
    Spec {
        name: "create-alias",
        operation: "CreateAlias",
        about: "Creates an alias",
        params: &[
            ("alias-name", "AliasName", Str, true),
            ("key-arn", "KeyArn", Str, false),
        ],
    },
    Spec {
        name: "get-alias",
        operation: "GetAlias",
        about: "Describes an alias",
        params: &[("alias-name", "AliasName", Str, true)],
    },
    Spec {
        name: "update-alias",
        operation: "UpdateAlias",
        about: "Points an alias at another key",
        params: &[
            ("alias-name", "AliasName", Str, true),
            ("key-arn", "KeyArn", Str, false),
        ],
    },
    Spec {
        name: "delete-alias",
        operation: "DeleteAlias",
        about: "Deletes an alias",
        params: &[("alias-name", "AliasName", Str, true)],
    },
    Spec {
        name: "list-aliases",
        operation: "ListAliases",
        about: "Lists aliases, a page at a time",
        params: &[("key-arn", "KeyArn", Str, false), PAGE[0], PAGE[1]],
    },
    Spec {
        name: "tag-resource",
        operation: "TagResource",
        about: "Adds or replaces tags on a key",
        params: &[
            ("resource-arn", "ResourceArn", Str, true),
            ("tags", "Tags", StructList, true),
        ],
    },
    Spec {
        name: "untag-resource",
        operation: "UntagResource",
        about: "Removes tags from a key",
        params: &[
            ("resource-arn", "ResourceArn", Str, true),
            ("tag-keys", "TagKeys", StrList, true),
        ],
    },
    Spec {
        name: "list-tags-for-resource",
        operation: "ListTagsForResource",
        about: "Lists a key's tags",
        params: &[("resource-arn", "ResourceArn", Str, true), PAGE[0], PAGE[1]],
    },
    Spec {
        name: "put-resource-policy",
        operation: "PutResourcePolicy",
        about: "Attaches or replaces a key's resource-based policy",
        params: &[
            ("resource-arn", "ResourceArn", Str, true),
            ("policy", "Policy", Str, true),
        ],
    },
    Spec {
        name: "get-resource-policy",
        operation: "GetResourcePolicy",
        about: "Shows a key's resource-based policy",
        params: &[("resource-arn", "ResourceArn", Str, true)],
    },
    Spec {
        name: "delete-resource-policy",
        operation: "DeleteResourcePolicy",
        about: "Removes a key's resource-based policy",
        params: &[("resource-arn", "ResourceArn", Str, true)],
    },
    Spec {
        name: "associate-mpa-team",
        operation: "AssociateMpaTeam",
        about: "Puts an operation under dual control: an approval team (payhsm mpa create-team) must approve it",
        params: &[
            ("action", "Action", Str, true),
            ("mpa-team-arn", "MpaTeamArn", Str, true),
            ("requester-comment", "RequesterComment", Str, false),
        ],
    },
    Spec {
        name: "disassociate-mpa-team",
        operation: "DisassociateMpaTeam",
        about: "Takes an operation out of dual control",
        params: &[
            ("action", "Action", Str, true),
            ("requester-comment", "RequesterComment", Str, false),
        ],
    },
    Spec {
        name: "get-mpa-team-association",
        operation: "GetMpaTeamAssociation",
        about: "Shows the approval team an operation is under",
        params: &[("action", "Action", Str, true)],
    },
    Spec {
        name: "import-key",
        operation: "ImportKey",
        about: "Imports a key: a TR-31 block under a stored KEK or KBPK or an ECDH-derived \
                KBPK, a TR-34 token, an RSA key cryptogram, or a root or trusted public key \
                certificate",
        params: &[
            ("key-material", "KeyMaterial", Struct, true),
            (
                "key-check-value-algorithm",
                "KeyCheckValueAlgorithm",
                Str,
                false,
            ),
            ("enabled", "Enabled", Bool, false),
            ("tags", "Tags", StructList, false),
            ("replication-regions", "ReplicationRegions", StrList, false),
            ("requester-comment", "RequesterComment", Str, false),
        ],
    },
    Spec {
        name: "add-key-replication-regions",
        operation: "AddKeyReplicationRegions",
        about: "Replicates a key to more regions of the store",
        params: &[KEY_ID, REGIONS],
    },
    Spec {
        name: "remove-key-replication-regions",
        operation: "RemoveKeyReplicationRegions",
        about: "Deletes a key's replicas in these regions",
        params: &[KEY_ID, REGIONS],
    },
    Spec {
        name: "enable-default-key-replication-regions",
        operation: "EnableDefaultKeyReplicationRegions",
        about: "Replicates keys created from now on in this region to these regions too",
        params: &[REGIONS],
    },
    Spec {
        name: "disable-default-key-replication-regions",
        operation: "DisableDefaultKeyReplicationRegions",
        about: "Stops replicating new keys to these regions by default",
        params: &[REGIONS],
    },
    Spec {
        name: "get-default-key-replication-regions",
        operation: "GetDefaultKeyReplicationRegions",
        about: "Lists the regions new keys are replicated to by default",
        params: &[],
    },
    Spec {
        name: "export-key",
        operation: "ExportKey",
        about: "Exports a key: a TR-31 block under a stored KEK or KBPK or an ECDH-derived \
                KBPK, a TR-34 token to a KRD certificate, or an RSA key cryptogram under a \
                wrapping certificate",
        params: &[
            ("key-material", "KeyMaterial", Struct, true),
            ("export-key-identifier", "ExportKeyIdentifier", Str, true),
            ("export-attributes", "ExportAttributes", Struct, false),
        ],
    },
    Spec {
        name: "get-parameters-for-import",
        operation: "GetParametersForImport",
        about: "Gets a wrapping certificate (TR-34 KRD or RSA key cryptogram), its chain and \
                an import token (valid 30 days)",
        params: &[
            ("key-material-type", "KeyMaterialType", Str, true),
            ("wrapping-key-algorithm", "WrappingKeyAlgorithm", Str, true),
            (
                "reuse-last-generated-token",
                "ReuseLastGeneratedToken",
                Bool,
                false,
            ),
        ],
    },
    Spec {
        name: "get-parameters-for-export",
        operation: "GetParametersForExport",
        about: "Gets a TR-34 signing (KDH) certificate, its chain and an export token \
                (valid 30 days)",
        params: &[
            ("key-material-type", "KeyMaterialType", Str, true),
            ("signing-key-algorithm", "SigningKeyAlgorithm", Str, true),
            (
                "reuse-last-generated-token",
                "ReuseLastGeneratedToken",
                Bool,
                false,
            ),
        ],
    },
    Spec {
        name: "get-public-key-certificate",
        operation: "GetPublicKeyCertificate",
        about: "Gets the certificate of an RSA or ECC key pair and its chain (the region's CA)",
        params: &[KEY_ID],
    },
    Spec {
        name: "get-certificate-signing-request",
        operation: "GetCertificateSigningRequest",
        about: "Makes a PKCS #10 certificate signing request for a key pair, signed by its \
                private key",
        params: &[
            KEY_ID,
            ("signing-algorithm", "SigningAlgorithm", Str, true),
            ("certificate-subject", "CertificateSubject", Struct, true),
        ],
    },
    Spec {
        name: "generate-card-validation-data",
        operation: "GenerateCardValidationData",
        about: "Generates a CVV, CVV2, iCVV, CSC, dCVV or CVC3",
        params: &[
            KEY_ID,
            ("primary-account-number", "PrimaryAccountNumber", Str, true),
            (
                "generation-attributes",
                "GenerationAttributes",
                Struct,
                true,
            ),
            ("validation-data-length", "ValidationDataLength", Int, false),
        ],
    },
    Spec {
        name: "verify-card-validation-data",
        operation: "VerifyCardValidationData",
        about: "Verifies a CVV, CVV2, iCVV, CSC, dCVV or CVC3",
        params: &[
            KEY_ID,
            ("primary-account-number", "PrimaryAccountNumber", Str, true),
            (
                "verification-attributes",
                "VerificationAttributes",
                Struct,
                true,
            ),
            ("validation-data", "ValidationData", Str, true),
        ],
    },
    Spec {
        name: "generate-pin-data",
        operation: "GeneratePinData",
        about: "Generates a PIN and its PVV or IBM 3624 offset, or the PVV or offset of a PIN",
        params: &[
            (
                "generation-key-identifier",
                "GenerationKeyIdentifier",
                Str,
                true,
            ),
            (
                "encryption-key-identifier",
                "EncryptionKeyIdentifier",
                Str,
                true,
            ),
            (
                "generation-attributes",
                "GenerationAttributes",
                Struct,
                true,
            ),
            ("pin-block-format", "PinBlockFormat", Str, true),
            ("pin-data-length", "PinDataLength", Int, false),
            ("primary-account-number", "PrimaryAccountNumber", Str, false),
            (
                "encryption-wrapped-key",
                "EncryptionWrappedKey",
                Struct,
                false,
            ),
        ],
    },
    Spec {
        name: "verify-pin-data",
        operation: "VerifyPinData",
        about: "Verifies a PIN block against a PVV or IBM 3624 offset",
        params: &[
            (
                "verification-key-identifier",
                "VerificationKeyIdentifier",
                Str,
                true,
            ),
            (
                "encryption-key-identifier",
                "EncryptionKeyIdentifier",
                Str,
                true,
            ),
            (
                "verification-attributes",
                "VerificationAttributes",
                Struct,
                true,
            ),
            ("encrypted-pin-block", "EncryptedPinBlock", Str, true),
            ("pin-block-format", "PinBlockFormat", Str, true),
            ("primary-account-number", "PrimaryAccountNumber", Str, false),
            ("pin-data-length", "PinDataLength", Int, false),
            ("dukpt-attributes", "DukptAttributes", Struct, false),
            (
                "encryption-wrapped-key",
                "EncryptionWrappedKey",
                Struct,
                false,
            ),
        ],
    },
    Spec {
        name: "translate-pin-data",
        operation: "TranslatePinData",
        about: "Translates a PIN block between keys and formats (PCI PIN 3-3 rules)",
        params: &[
            (
                "incoming-key-identifier",
                "IncomingKeyIdentifier",
                Str,
                true,
            ),
            (
                "outgoing-key-identifier",
                "OutgoingKeyIdentifier",
                Str,
                true,
            ),
            (
                "incoming-translation-attributes",
                "IncomingTranslationAttributes",
                Struct,
                true,
            ),
            (
                "outgoing-translation-attributes",
                "OutgoingTranslationAttributes",
                Struct,
                true,
            ),
            ("encrypted-pin-block", "EncryptedPinBlock", Str, true),
            (
                "incoming-dukpt-attributes",
                "IncomingDukptAttributes",
                Struct,
                false,
            ),
            (
                "outgoing-dukpt-attributes",
                "OutgoingDukptAttributes",
                Struct,
                false,
            ),
            ("incoming-wrapped-key", "IncomingWrappedKey", Struct, false),
            ("outgoing-wrapped-key", "OutgoingWrappedKey", Struct, false),
            (
                "incoming-as2805-attributes",
                "IncomingAs2805Attributes",
                Struct,
                false,
            ),
        ],
    },
    Spec {
        name: "generate-mac",
        operation: "GenerateMac",
        about: "Generates a MAC",
        params: &[
            KEY_ID,
            ("message-data", "MessageData", Str, true),
            (
                "generation-attributes",
                "GenerationAttributes",
                Struct,
                true,
            ),
            ("mac-length", "MacLength", Int, false),
        ],
    },
    Spec {
        name: "verify-mac",
        operation: "VerifyMac",
        about: "Verifies a MAC",
        params: &[
            KEY_ID,
            ("message-data", "MessageData", Str, true),
            ("mac", "Mac", Str, true),
            (
                "verification-attributes",
                "VerificationAttributes",
                Struct,
                true,
            ),
            ("mac-length", "MacLength", Int, false),
        ],
    },
    Spec {
        name: "generate-mac-emv-pin-change",
        operation: "GenerateMacEmvPinChange",
        about: "Generates an EMV offline PIN change script: the new PIN enciphered for the card \
                and the script MAC",
        params: &[
            ("new-pin-pek-identifier", "NewPinPekIdentifier", Str, true),
            ("new-encrypted-pin-block", "NewEncryptedPinBlock", Str, true),
            ("pin-block-format", "PinBlockFormat", Str, true),
            (
                "secure-messaging-integrity-key-identifier",
                "SecureMessagingIntegrityKeyIdentifier",
                Str,
                true,
            ),
            (
                "secure-messaging-confidentiality-key-identifier",
                "SecureMessagingConfidentialityKeyIdentifier",
                Str,
                true,
            ),
            ("message-data", "MessageData", Str, true),
            (
                "derivation-method-attributes",
                "DerivationMethodAttributes",
                Struct,
                true,
            ),
        ],
    },
    Spec {
        name: "encrypt-data",
        operation: "EncryptData",
        about: "Encrypts data under a data key or an RSA public key",
        params: &[
            KEY_ID,
            ("plain-text", "PlainText", Str, true),
            (
                "encryption-attributes",
                "EncryptionAttributes",
                Struct,
                true,
            ),
            ("wrapped-key", "WrappedKey", Struct, false),
        ],
    },
    Spec {
        name: "decrypt-data",
        operation: "DecryptData",
        about: "Decrypts data under a data key or with an RSA key pair",
        params: &[
            KEY_ID,
            ("cipher-text", "CipherText", Str, true),
            (
                "decryption-attributes",
                "DecryptionAttributes",
                Struct,
                true,
            ),
            ("wrapped-key", "WrappedKey", Struct, false),
        ],
    },
    Spec {
        name: "re-encrypt-data",
        operation: "ReEncryptData",
        about: "Re-encrypts data from one data key to another",
        params: &[
            (
                "incoming-key-identifier",
                "IncomingKeyIdentifier",
                Str,
                true,
            ),
            (
                "outgoing-key-identifier",
                "OutgoingKeyIdentifier",
                Str,
                true,
            ),
            ("cipher-text", "CipherText", Str, true),
            (
                "incoming-encryption-attributes",
                "IncomingEncryptionAttributes",
                Struct,
                true,
            ),
            (
                "outgoing-encryption-attributes",
                "OutgoingEncryptionAttributes",
                Struct,
                true,
            ),
            ("incoming-wrapped-key", "IncomingWrappedKey", Struct, false),
            ("outgoing-wrapped-key", "OutgoingWrappedKey", Struct, false),
        ],
    },
    Spec {
        name: "generate-auth-request-cryptogram",
        operation: "GenerateAuthRequestCryptogram",
        about: "Generates an EMV ARQC under an issuer master key",
        params: &[
            KEY_ID,
            ("transaction-data", "TransactionData", Str, true),
            (
                "major-key-derivation-mode",
                "MajorKeyDerivationMode",
                Str,
                true,
            ),
            (
                "session-key-derivation-attributes",
                "SessionKeyDerivationAttributes",
                Struct,
                true,
            ),
        ],
    },
    Spec {
        name: "verify-auth-request-cryptogram",
        operation: "VerifyAuthRequestCryptogram",
        about: "Verifies an EMV ARQC and optionally computes the ARPC",
        params: &[
            KEY_ID,
            ("transaction-data", "TransactionData", Str, true),
            (
                "auth-request-cryptogram",
                "AuthRequestCryptogram",
                Str,
                true,
            ),
            (
                "major-key-derivation-mode",
                "MajorKeyDerivationMode",
                Str,
                true,
            ),
            (
                "session-key-derivation-attributes",
                "SessionKeyDerivationAttributes",
                Struct,
                true,
            ),
            (
                "auth-response-attributes",
                "AuthResponseAttributes",
                Struct,
                false,
            ),
        ],
    },
    Spec {
        name: "translate-key-material",
        operation: "TranslateKeyMaterial",
        about: "Re-wraps a TR-31 key block from one key encryption key to another without \
                storing the key",
        params: &[
            ("incoming-key-material", "IncomingKeyMaterial", Struct, true),
            ("outgoing-key-material", "OutgoingKeyMaterial", Struct, true),
            (
                "key-check-value-algorithm",
                "KeyCheckValueAlgorithm",
                Str,
                false,
            ),
        ],
    },
];

/// How long a command drains its region's replication outbox before it exits.
const DRAIN_BEFORE_EXIT: Duration = Duration::from_secs(10);

/// `payhsm replicate`: drains every region's replication outbox once, or with `wait` until
/// they are all empty or `timeout` passes (then it fails, after printing what is left).
pub(crate) fn replicate(
    store: &Path,
    backend: Backend,
    wait: bool,
    timeout: Duration,
) -> Result<Value, CliError> {
    let regions = StoreRegions::new(store, backend, AccountId::new(AccountId::DEFAULT)?);
    let deadline = Instant::now() + timeout;
    let names = payhsm_keystore::api::Regions::names(&*regions)?;
    let mut report = Map::new();
    loop {
        let mut complete = true;
        for region in &names {
            let d = regions.drain(region.as_str(), deadline)?;
            complete &= d.is_complete();
            let entry = report
                .entry(region.as_str().to_owned())
                .or_insert_with(|| serde_json::json!({ "Synchronized": 0 }));
            let done = entry["Synchronized"].as_u64().unwrap_or(0) + d.synchronized as u64;
            *entry = serde_json::json!({
                "Synchronized": done, "Failed": d.failed, "Remaining": d.remaining,
            });
        }
        if complete || !wait || Instant::now() >= deadline {
            let out = serde_json::json!({ "Regions": report, "Complete": complete });
            if wait && !complete {
                println!("{out:#}");
                return Err(CliError::failed(
                    format!(
                        "replication did not complete within {} s",
                        timeout.as_secs()
                    ),
                    Some("See each key's ReplicationStatus; the items stay in the outbox."),
                ));
            }
            return Ok(out);
        }
        std::thread::sleep(Duration::from_secs(1).min(deadline - Instant::now()));
    }
}

/// Adds the key-id commands to the CLI.
pub(crate) fn register(mut cli: Command) -> Command {
    for spec in COMMANDS {
        let mut cmd = Command::new(spec.name)
            .about(spec.about)
            .arg(
                Arg::new("cli-input-json")
                    .long("cli-input-json")
                    .value_name("JSON")
                    .help("The whole request as JSON; other options override its members"),
            )
            .arg(
                Arg::new("query")
                    .long("query")
                    .value_name("PATH")
                    .help("Print only this member of the response (dotted path, e.g. Key.KeyArn)"),
            )
            .arg(
                Arg::new("output")
                    .long("output")
                    .value_parser(["json", "text"])
                    .default_value("json")
                    .help("json, or text (a string member printed bare)"),
            );
        for &(flag, member, kind, required) in spec.params {
            // Requiredness is checked after --cli-input-json is merged in.
            let _ = required;
            cmd = match kind {
                Bool => cmd
                    .arg(
                        Arg::new(member)
                            .long(flag)
                            .action(ArgAction::SetTrue)
                            .help(member),
                    )
                    .arg(
                        Arg::new(format!("no-{member}"))
                            .long(format!("no-{flag}"))
                            .action(ArgAction::SetTrue)
                            .conflicts_with(member)
                            .help(format!("{member} false")),
                    ),
                StrList | StructList => cmd.arg(
                    Arg::new(member)
                        .long(flag)
                        .num_args(1..)
                        .action(ArgAction::Append)
                        .help(member),
                ),
                Str | Int | Struct => cmd.arg(Arg::new(member).long(flag).help(member)),
            };
        }
        cli = cli.subcommand(cmd);
    }
    cli
}

/// Whether `name` is a key-id command.
pub(crate) fn is_command(name: &str) -> bool {
    COMMANDS.iter().any(|s| s.name == name)
}

/// Runs a key-id command and returns what to print.
pub(crate) fn run(
    name: &str,
    matches: &ArgMatches,
    store: &Path,
    region: &str,
    account: &AccountId,
    backend: Backend,
) -> Result<String, CliError> {
    let spec = COMMANDS
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| CliError::failed(format!("unknown command {name}"), None))?;
    let request = build_request(spec, matches)?;
    let regions = StoreRegions::new(store, backend, account.clone());
    let response = regions.service(region)?.call(spec.operation, request);
    // The replication work this command (or an earlier one) left: done now if it can be,
    // within a bound; what is left stays IN_PROGRESS for `payhsm replicate`.
    let deadline = Instant::now() + DRAIN_BEFORE_EXIT;
    match regions.drain(region, deadline) {
        Ok(d) if !d.is_complete() => eprintln!(
            "payhsm: replication from {region}: {} item(s) failed and {} are waiting; they stay \
             in the outbox (see ReplicationStatus) and `payhsm replicate` tries again",
            d.failed, d.remaining
        ),
        Ok(_) => {}
        Err(e) => eprintln!("payhsm: replication from {region}: {}", e.describe()),
    }
    render(
        &response?,
        matches.get_one::<String>("query").map(String::as_str),
        matches.get_one::<String>("output").map(String::as_str),
    )
}

/// The request: `--cli-input-json` with the options over it. Every value given is checked
/// before a missing member is reported, so a bad value is the first error, not hidden behind
/// a missing option.
fn build_request(spec: &Spec, m: &ArgMatches) -> Result<Value, CliError> {
    let mut request = match m.get_one::<String>("cli-input-json") {
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            _ => {
                return Err(CliError::invalid(
                    "--cli-input-json",
                    "expected a JSON object with the request's members",
                ));
            }
        },
        None => Map::new(),
    };
    for &(flag, member, kind, _) in spec.params {
        if let Some(v) = param_value(&format!("--{flag}"), member, kind, m)? {
            request.insert(member.to_owned(), v);
        }
    }
    if let Some(attributes) = request.get("KeyAttributes") {
        key_attributes(attributes.clone())?;
    }
    if let Some(&(flag, ..)) = spec
        .params
        .iter()
        .find(|&&(_, member, _, required)| required && !request.contains_key(member))
    {
        return Err(CliError::usage(
            format!("--{flag} is required"),
            Some("Give it, or give the whole request with --cli-input-json."),
        ));
    }
    Ok(Value::Object(request))
}

/// One option's value as the request's member, if it is given.
fn param_value(
    option: &str,
    member: &str,
    kind: Kind,
    m: &ArgMatches,
) -> Result<Option<Value>, CliError> {
    let structure = |s: &String| shorthand::parse(s).map_err(|e| CliError::invalid(option, e));
    Ok(match kind {
        Bool => {
            if m.get_flag(member) {
                Some(Value::Bool(true))
            } else if m.get_flag(&format!("no-{member}")) {
                Some(Value::Bool(false))
            } else {
                None
            }
        }
        Str => m
            .get_one::<String>(member)
            .map(|s| Value::String(s.clone())),
        Int => m
            .get_one::<String>(member)
            .map(|s| {
                s.parse::<i64>()
                    .map(Value::from)
                    .map_err(|_| CliError::invalid(option, "expected an integer"))
            })
            .transpose()?,
        Struct => m.get_one::<String>(member).map(structure).transpose()?,
        StrList => m
            .get_many::<String>(member)
            .map(|v| Value::Array(v.map(|s| Value::String(s.clone())).collect())),
        StructList => m
            .get_many::<String>(member)
            .map(|values| {
                let parsed = values.map(structure).collect::<Result<Vec<Value>, _>>()?;
                Ok::<_, CliError>(match parsed.as_slice() {
                    [Value::Array(list)] => Value::Array(list.clone()),
                    _ => Value::Array(parsed),
                })
            })
            .transpose()?,
    })
}

/// `KeyAttributes`, checked as the HSM checks them (the same parser, so the same messages).
pub(crate) fn key_attributes(value: Value) -> Result<KeyAttributes, CliError> {
    let input: KeyAttributesInput =
        serde_json::from_value(value).map_err(|e| CliError::invalid("--key-attributes", e))?;
    Ok(input.parse("KeyAttributes")?)
}

/// The response, or one member of it, as JSON or text.
fn render(response: &Value, query: Option<&str>, output: Option<&str>) -> Result<String, CliError> {
    let mut v = response;
    for part in query.into_iter().flat_map(|q| q.split('.')) {
        v = v.get(part).ok_or_else(|| {
            CliError::invalid("--query", format!("the response has no member {part}"))
        })?;
    }
    Ok(match (output, v) {
        (Some("text"), Value::String(s)) => s.clone(),
        (Some("text"), Value::Number(n)) => n.to_string(),
        (Some("text"), Value::Bool(b)) => b.to_string(),
        _ => serde_json::to_string_pretty(v)
            .map_err(|e| CliError::failed(format!("cannot format the output: {e}"), None))?,
    })
}
