//! `payhsm`: the command line of the payhsm HSM emulator.
//!
//! Every command prints one JSON object on stdout with AWS Payment Cryptography field names.
//! The key-id commands (`create-key`, `generate-mac`, …) are shaped like the AWS CLI's and run
//! on the embedded store in `--store` (or `PAYHSM_HOME`, default `./payhsm-data`) for
//! `--region`; `payhsm init` creates that store. On failure a command prints one line on
//! stderr — the service's error name and message, or what went wrong and what to do — and
//! exits non-zero; it never panics or prints a backtrace.

mod calc;
mod error;
mod hsm;
mod serve;
mod vectors;

use std::{io, path::PathBuf, process::ExitCode};

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::error::CliError;

/// A payment-cryptography HSM emulator: key blocks, PIN, CVV, MAC, DUKPT, EMV.
#[derive(Parser)]
#[command(name = "payhsm", version, about, after_help = error::EXIT_CODES_HELP)]
struct Cli {
    /// The store directory (one folder per region).
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "PAYHSM_HOME",
        default_value = "./payhsm-data"
    )]
    store: PathBuf,
    /// The region whose keys to use.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        default_value = "us-east-1"
    )]
    region: String,
    /// The account the key ARNs name (12 digits).
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "PAYHSM_ACCOUNT",
        default_value = payhsm_keystore::arn::AccountId::DEFAULT
    )]
    account: String,
    /// Where the keys live: `software` (TR-31 blocks under the master key in the store's
    /// database) or `pkcs11` (objects in a PKCS#11 token; their records in the database). The
    /// token's user PIN comes from PAYHSM_PKCS11_PIN or a prompt.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "PAYHSM_BACKEND",
        value_parser = ["software", "pkcs11"],
        default_value = "software"
    )]
    backend: String,
    /// The PKCS#11 module (with --backend pkcs11).
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "PAYHSM_PKCS11_MODULE",
        default_value = payhsm_keystore::store::pkcs11::SOFTHSM2_MODULE
    )]
    pkcs11_module: PathBuf,
    /// The token's label (with --backend pkcs11).
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "PAYHSM_TOKEN_LABEL"
    )]
    token_label: Option<String>,
    /// The token's slot id, instead of its label (with --backend pkcs11).
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        conflicts_with = "token_label"
    )]
    slot: Option<u64>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Creates the region's key store and its master key.
    Init(InitArgs),
    /// Imports a key formed in a key ceremony from N components, each entered with its KCV
    /// (the only way clear key material enters the HSM).
    ImportKeyComponents(ImportComponentsArgs),
    /// A calculator on clear test keys (never for production keys).
    #[command(subcommand)]
    Calc(calc::Calc),
    /// Runs the published known-answer vectors and prints a table (the auditors' command).
    Vectors(vectors::Args),
    /// Serves AWS Payment Cryptography's API (both planes, SigV4) for every region of the
    /// store, so boto3 and the AWS CLI work with --endpoint-url.
    Serve(serve::ServeArgs),
    /// The store's access keys, which sign requests to `payhsm serve`.
    #[command(subcommand)]
    Credentials(serve::CredentialsCmd),
    /// Drains every region's replication outbox: replicas of multi-region keys are made,
    /// updated or deleted. Every key-id command does this for its region before it exits.
    Replicate(ReplicateArgs),
    /// The region's audit log.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Copies the whole store, consistent while it is in use, into a new directory that opens
    /// as a store with the same master key.
    Backup {
        /// The new directory.
        dir: PathBuf,
    },
    /// Prints a shell completion script (`payhsm completions bash > ~/.local/share/bash-completion/completions/payhsm`).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Prints the man page payhsm(1), or with --out-dir writes one page per command
    /// (payhsm.1, payhsm-create-key.1, …).
    Man(ManArgs),
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Checks the audit log's hash chain: names the first line that was edited, removed or
    /// moved (exit 1), or prints the number of lines and the last line's hash, which you
    /// record elsewhere to pin the log's past.
    Verify,
}

#[derive(Args)]
struct ManArgs {
    /// Write every command's page into this directory instead.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
}

#[derive(Args)]
struct ReplicateArgs {
    /// Keep trying until every outbox is empty (or the timeout passes: then exit non-zero).
    #[arg(long)]
    wait: bool,
    /// How long to try, in seconds.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
}

#[derive(Args)]
struct InitArgs {
    /// Form the master key from N components (N >= 2), each entered with its KCV; from a
    /// terminal the components are read without echo.
    #[arg(long, value_name = "N", conflicts_with = "dev_master_key")]
    components: Option<usize>,
    /// Generate a development master key into a file (0600). Never for production keys.
    #[arg(long)]
    dev_master_key: bool,
}

#[derive(Args)]
struct ImportComponentsArgs {
    /// How many components (at least 2).
    #[arg(long, value_name = "N")]
    components: usize,
    /// The key's attributes, JSON or shorthand, as for create-key.
    #[arg(long)]
    key_attributes: String,
    /// The KCV the ceremony recorded for the combined key; the import is refused unless the
    /// components combine to it.
    #[arg(long)]
    key_check_value: String,
    /// Whether the key may be exported.
    #[arg(long)]
    exportable: bool,
}

/// The commands that use no store, to which the global options mean nothing.
const STORELESS: [&str; 4] = ["calc", "vectors", "completions", "man"];

/// The whole command line: the commands declared here and the key-id commands.
///
/// A storeless command gets its own hidden option of each global's id, which clap then does
/// not propagate over (nor to the command's subcommands): their help, completions and man
/// pages leave the globals out, and `payhsm calc --store x …` is refused.
fn command() -> clap::Command {
    let mut cmd = hsm::register(Cli::command());
    let globals: Vec<(clap::Id, String)> = cmd
        .get_arguments()
        .filter(|a| a.is_global_set())
        .map(|a| {
            (
                a.get_id().clone(),
                a.get_long().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    for command in STORELESS {
        cmd = cmd.mut_subcommand(command, |mut c| {
            for (id, long) in &globals {
                let refusal = format!("--{long} means nothing to payhsm {command}");
                c = c.arg(
                    clap::Arg::new(id.clone())
                        .long(long.clone())
                        .value_name("VALUE")
                        .hide(true)
                        .value_parser(move |_: &str| Err::<String, _>(refusal.clone())),
                );
            }
            c
        });
    }
    cmd
}

fn main() -> ExitCode {
    let matches = match command().try_get_matches() {
        Ok(m) => m,
        Err(e) => return error::report_usage(&e),
    };
    let result = match matches.subcommand() {
        Some((name, sub)) if hsm::is_command(name) => {
            let store = sub.get_one::<PathBuf>("store").cloned().unwrap_or_default();
            let region = sub.get_one::<String>("region").cloned().unwrap_or_default();
            let account = sub
                .get_one::<String>("account")
                .cloned()
                .unwrap_or_default();
            account_id(&account)
                .and_then(|account| {
                    let backend = hsm::Backend::from_matches(sub)?;
                    hsm::run(name, sub, &store, &region, &account, backend)
                })
                .map(|text| println!("{text}"))
        }
        _ => match Cli::from_arg_matches(&matches) {
            Ok(cli) => match cli.command {
                Command::Init(args) => hsm::Backend::from_matches(&matches)
                    .and_then(|backend| hsm::Home::new(&cli.store, &cli.region, backend))
                    .and_then(|home| home.init(args.dev_master_key, args.components))
                    .and_then(|v| with_first_access_key(v, &cli.store, &cli.region))
                    .and_then(|v| print_json(&v)),
                Command::Serve(args) => account_id(&cli.account).and_then(|account| {
                    let backend = hsm::Backend::from_matches(&matches)?;
                    serve::serve(&args, &cli.store, &cli.region, &account, backend)
                }),
                Command::Credentials(cmd) => {
                    serve::credentials(&cmd, &cli.store, &cli.region).and_then(|v| print_json(&v))
                }
                Command::ImportKeyComponents(a) => hsm::Backend::from_matches(&matches)
                    .and_then(|backend| {
                        hsm::ceremony::import(
                            hsm::Home::new(&cli.store, &cli.region, backend)?
                                .with_account(account_id(&cli.account)?),
                            a.components,
                            &a.key_attributes,
                            a.exportable,
                            &a.key_check_value,
                        )
                    })
                    .and_then(|v| print_json(&v)),
                Command::Calc(cmd) => calc::run(cmd).and_then(|v| print_json(&v)),
                Command::Vectors(args) => vectors::run(&args),
                Command::Audit(AuditCmd::Verify) => hsm::Backend::from_matches(&matches)
                    .and_then(|backend| hsm::Home::new(&cli.store, &cli.region, backend))
                    .and_then(|home| home.verify_audit())
                    .and_then(|v| print_json(&v)),
                Command::Backup { dir } => {
                    hsm::backup::backup(&cli.store, &dir).and_then(|v| print_json(&v))
                }
                Command::Completions { shell } => completions(shell),
                Command::Man(args) => man(args.out_dir.as_deref()),
                Command::Replicate(a) => hsm::Backend::from_matches(&matches)
                    .and_then(|backend| {
                        hsm::replicate(
                            &cli.store,
                            backend,
                            a.wait,
                            std::time::Duration::from_secs(a.timeout),
                        )
                    })
                    .and_then(|v| print_json(&v)),
            },
            Err(e) => return error::report_usage(&e),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(),
    }
}

/// The account of `--account`.
fn account_id(account: &str) -> Result<payhsm_keystore::arn::AccountId, CliError> {
    payhsm_keystore::arn::AccountId::new(account)
        .map_err(|_| CliError::invalid("--account", "expected 12 digits"))
}

/// `payhsm init`'s output, with the store's first access key when it has none yet.
fn with_first_access_key(
    mut out: serde_json::Value,
    store: &std::path::Path,
    region: &str,
) -> Result<serde_json::Value, CliError> {
    let file = payhsm_server::credentials::CredentialsFile::new(store);
    if !file.exists() {
        out["AccessKey"] = serve::new_key(&file, region)?;
    }
    Ok(out)
}

/// `payhsm completions`: the script on stdout (made in memory: clap_complete panics on a
/// failed write).
fn completions(shell: clap_complete::Shell) -> Result<(), CliError> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command(), "payhsm", &mut script);
    io::Write::write_all(&mut io::stdout(), &script)
        .map_err(|e| CliError::failed(format!("cannot write the script: {e}"), None))
}

/// `payhsm man`: payhsm(1) on stdout, or every command's page into `out_dir`.
fn man(out_dir: Option<&std::path::Path>) -> Result<(), CliError> {
    let written = match out_dir {
        Some(dir) => clap_mangen::generate_to(command(), dir),
        None => clap_mangen::Man::new(command()).render(&mut io::stdout()),
    };
    written.map_err(|e| CliError::failed(format!("cannot write the man page: {e}"), None))
}

/// Prints one JSON value on stdout.
fn print_json(value: &serde_json::Value) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::failed(format!("cannot format the output: {e}"), None))?;
    println!("{text}");
    Ok(())
}
