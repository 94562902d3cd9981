//! `payhsm serve`: the service's HTTP API over every region of the store, and `payhsm
//! credentials`: the store's access keys that sign requests to it.

use std::{net::SocketAddr, path::Path, sync::Arc, time::Duration};

use clap::{Args, Subcommand};
use payhsm_keystore::{
    api::{Regions as _, Service},
    arn::{AccountId, Region},
};
use payhsm_server::{Auth, Config, Limits, credentials::CredentialsFile, remote::RemoteService};
use serde_json::{Value, json};

use crate::{
    error::CliError,
    hsm::{Backend, StoreRegions},
};

/// The default listen address: loopback only.
pub(crate) const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

#[derive(Args)]
pub(crate) struct ServeArgs {
    /// The address to listen on (ADDR:PORT; port 0 picks a free one).
    #[arg(long, default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Serve requests without checking their signatures (local experiments only; loopback
    /// addresses only). The region is then the credential scope's, or --region.
    #[arg(long)]
    allow_unsigned: bool,
    /// A region another payhsm server holds: REGION=http://HOST:PORT (repeatable). Calls to
    /// it, replication's among them, go over the service's API signed with this store's
    /// access key (import it into the other store with `payhsm credentials import`).
    #[arg(long, value_name = "REGION=URL")]
    region_endpoint: Vec<String>,
    /// The access key that signs requests to --region-endpoint regions (default: the
    /// store's first).
    #[arg(long, value_name = "ID")]
    signing_access_key_id: Option<String>,
    /// The largest request body accepted, in bytes.
    #[arg(long, default_value_t = Limits::default().max_body_bytes)]
    max_body_bytes: usize,
    /// Connections served at once.
    #[arg(long, default_value_t = Limits::default().max_connections)]
    max_connections: usize,
    /// HSM calls running at once.
    #[arg(long, default_value_t = Limits::default().max_in_flight)]
    max_in_flight: usize,
    /// Seconds a kept-alive connection may sit idle.
    #[arg(long, default_value_t = Limits::default().idle_timeout.as_secs())]
    idle_timeout: u64,
    /// No access log.
    #[arg(long)]
    quiet: bool,
}

/// Runs the server until SIGTERM or SIGINT.
pub(crate) fn serve(
    args: &ServeArgs,
    store: &Path,
    region: &str,
    account: &AccountId,
    backend: Backend,
) -> Result<(), CliError> {
    let credentials = CredentialsFile::new(store);
    let auth = if args.allow_unsigned {
        if !args.listen.ip().is_loopback() {
            return Err(CliError::usage(
                format!(
                    "--allow-unsigned serves loopback addresses only, not {}",
                    args.listen
                ),
                Some("Listen on 127.0.0.1, or drop --allow-unsigned and sign requests."),
            ));
        }
        eprintln!(
            "warning: --allow-unsigned: requests are not authenticated; anyone who can reach {} \
             can use every key of the store",
            args.listen
        );
        Auth::Unsigned {
            default_region: region_name(region)?,
        }
    } else {
        let keys = credentials
            .list()
            .map_err(|e| credentials_error(&credentials, &e))?;
        if keys.is_empty() {
            return Err(CliError::failed(
                format!(
                    "the store has no access keys ({})",
                    credentials.path().display()
                ),
                Some(
                    "Create one with `payhsm credentials create`, or pass --allow-unsigned for a local experiment.",
                ),
            ));
        }
        Auth::SigV4 {
            keys: Arc::new(CredentialsFile::new(store)),
            max_skew: Duration::from_secs(15 * 60),
        }
    };
    let mut remote: Vec<Arc<dyn Service>> = Vec::new();
    for spec in &args.region_endpoint {
        let (name, url) = spec.split_once('=').ok_or_else(|| {
            CliError::invalid("--region-endpoint", "expected REGION=http://HOST:PORT")
        })?;
        let signer = credentials
            .credentials(args.signing_access_key_id.as_deref())
            .map_err(|e| credentials_error(&credentials, &e))?
            .ok_or_else(|| {
                CliError::usage(
                    "--region-endpoint needs an access key of this store to sign with",
                    Some("Create one with `payhsm credentials create` and import it into the other store with `payhsm credentials import`."),
                )
            })?;
        let remote_region = RemoteService::new(region_name(name)?, url, signer)
            .map_err(|e| CliError::invalid("--region-endpoint", e.message()))?;
        remote.push(Arc::new(remote_region));
    }
    let regions = StoreRegions::with_remote(store, backend, account.clone(), remote);
    // Open every local region now: a master key from components is entered at start, and a
    // store that does not open stops the server before it listens.
    let names = regions.names()?;
    if names.is_empty() {
        return Err(CliError::failed(
            format!("no region in {}", store.display()),
            Some(
                "Create one with `payhsm init --dev-master-key` (development) or `payhsm init --components N`.",
            ),
        ));
    }
    for name in &names {
        regions.service(name.as_str())?;
    }
    let config = Config {
        account: account.clone(),
        auth,
        limits: Limits {
            max_body_bytes: args.max_body_bytes,
            max_connections: args.max_connections.max(1),
            max_in_flight: args.max_in_flight.max(1),
            idle_timeout: Duration::from_secs(args.idle_timeout.max(1)),
            ..Limits::default()
        },
        access_log: !args.quiet,
    };
    let signed = !args.allow_unsigned;
    let region_list: Vec<&str> = names.iter().map(Region::as_str).collect();
    payhsm_server::serve_until_signal(args.listen, config, regions, |addr| {
        println!(
            "{}",
            json!({
                "Listening": addr.to_string(),
                "EndpointUrl": format!("http://{addr}"),
                "Regions": region_list,
                "Account": account.as_str(),
                "Signed": signed,
            })
        );
    })
    .map_err(|e| CliError::failed(format!("cannot serve on {}: {e}", args.listen), None))
}

fn region_name(name: &str) -> Result<Region, CliError> {
    Region::new(name).map_err(|_| {
        CliError::usage(
            format!("{name} is not a region name"),
            Some("Give a region such as us-east-1."),
        )
    })
}

fn credentials_error(file: &CredentialsFile, e: &std::io::Error) -> CliError {
    CliError::failed(format!("{}: {e}", file.path().display()), None)
}

/// `payhsm credentials`.
#[derive(Subcommand)]
pub(crate) enum CredentialsCmd {
    /// Creates an access key pair; the secret is shown only now.
    Create,
    /// Lists the access keys (ids and creation times, never secrets).
    List,
    /// Deletes an access key: requests signed with it are refused from then on.
    Delete {
        /// The access key.
        #[arg(long)]
        access_key_id: String,
    },
    /// Adds an access key made by another store, so that one pair signs for every region of
    /// the account; the secret is read from standard input (without echo on a terminal).
    Import {
        /// The access key.
        #[arg(long)]
        access_key_id: String,
    },
}

/// Runs a `payhsm credentials` command.
pub(crate) fn credentials(
    cmd: &CredentialsCmd,
    store: &Path,
    region: &str,
) -> Result<Value, CliError> {
    let file = CredentialsFile::new(store);
    let failed = |e: std::io::Error| credentials_error(&file, &e);
    match cmd {
        CredentialsCmd::Create => {
            std::fs::create_dir_all(store).map_err(|e| {
                CliError::failed(format!("cannot create {}: {e}", store.display()), None)
            })?;
            new_key(&file, region)
        }
        CredentialsCmd::List => {
            let keys: Vec<Value> = file
                .list()
                .map_err(failed)?
                .into_iter()
                .map(|k| json!({ "AccessKeyId": k.access_key_id, "CreateTimestamp": k.create_timestamp }))
                .collect();
            Ok(json!({ "AccessKeys": keys }))
        }
        CredentialsCmd::Delete { access_key_id } => {
            if file.delete(access_key_id).map_err(failed)? {
                Ok(json!({ "Deleted": access_key_id }))
            } else {
                Err(CliError::failed(
                    format!("the store has no access key {access_key_id}"),
                    Some("List them with `payhsm credentials list`."),
                ))
            }
        }
        CredentialsCmd::Import { access_key_id } => {
            let secret = crate::hsm::read_line("Secret access key: ", true)?;
            file.import(access_key_id, secret.trim()).map_err(failed)?;
            Ok(json!({ "Imported": access_key_id }))
        }
    }
}

/// Creates an access key in `file` and says how to configure the AWS CLI with it.
pub(crate) fn new_key(file: &CredentialsFile, region: &str) -> Result<Value, CliError> {
    let key = file.create().map_err(|e| credentials_error(file, &e))?;
    eprintln!(
        "An access key for this store (its secret is shown only now). Configure an AWS CLI \
         profile with it:\n  aws configure set aws_access_key_id {id} --profile payhsm\n  \
         aws configure set aws_secret_access_key <SecretAccessKey> --profile payhsm\n  \
         aws configure set region {region} --profile payhsm\nthen run `payhsm serve` and \
         `aws --profile payhsm --endpoint-url http://{DEFAULT_LISTEN} payment-cryptography list-keys`.",
        id = key.access_key_id
    );
    Ok(json!({
        "AccessKeyId": key.access_key_id,
        "SecretAccessKey": key.secret_access_key.as_str(),
    }))
}
