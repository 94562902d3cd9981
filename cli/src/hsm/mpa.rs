//! `payhsm mpa`: the approval teams of dual control and their approvers' decisions (the HSM's
//! local model of the MPA service the real service uses; see `AssociateMpaTeam`).

use clap::Subcommand;
use payhsm_keystore::{Hsm, Store};
use serde_json::Value;

/// `payhsm mpa …`.
#[derive(Subcommand)]
pub(crate) enum MpaCmd {
    /// Creates an approval team: named approvers and how many distinct ones must approve.
    CreateTeam {
        /// The team's name (A-Z, a-z, 0-9, '.', '_', '-').
        #[arg(long)]
        name: String,
        /// The approvers' names, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        approvers: Vec<String>,
        /// How many distinct approvers must approve.
        #[arg(long)]
        required_approvals: usize,
    },
    /// One approver approves a session (an import waiting in CREATE_IN_PROGRESS).
    Approve {
        /// The session's ARN (the key's MpaStatus.MpaSessionArn).
        #[arg(long)]
        session: String,
        /// The approver's name.
        #[arg(long)]
        approver: String,
    },
    /// One approver rejects a session: the waiting key is deleted.
    Reject {
        /// The session's ARN.
        #[arg(long)]
        session: String,
        /// The approver's name.
        #[arg(long)]
        approver: String,
    },
    /// The requester cancels a session: the waiting key is deleted.
    Cancel {
        /// The session's ARN.
        #[arg(long)]
        session: String,
    },
}

/// Runs `cmd` on `hsm`.
pub(crate) fn run<S: Store>(hsm: &Hsm<S>, cmd: &MpaCmd) -> Result<Value, payhsm_keystore::Error> {
    match cmd {
        MpaCmd::CreateTeam {
            name,
            approvers,
            required_approvals,
        } => hsm.create_mpa_team(name, approvers, *required_approvals),
        MpaCmd::Approve { session, approver } => hsm
            .approve_mpa_session(session, approver)
            .and_then(payhsm_keystore::api::response),
        MpaCmd::Reject { session, approver } => hsm
            .reject_mpa_session(session, approver)
            .and_then(payhsm_keystore::api::response),
        MpaCmd::Cancel { session } => hsm
            .cancel_mpa_session(session)
            .and_then(payhsm_keystore::api::response),
    }
}
