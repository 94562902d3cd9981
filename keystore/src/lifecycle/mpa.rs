//! Dual control: multi-party approval (MPA) of protected operations, as the service models
//! it (`AssociateMpaTeam`, `DisassociateMpaTeam`, `GetMpaTeamAssociation`, `Key.MpaStatus`).
//!
//! The service's approval teams live in another AWS service (MPA), which this HSM does not
//! have; it keeps a local model of them instead. A team (`payhsm mpa create-team`) has named
//! approvers and a number of distinct approvals it needs; its ARN has the service's form,
//! `arn:aws:mpa:{region}:{account}:approval-team/{name}`. With a team associated with
//! `IMPORT_ROOT_PUBLIC_KEY_CERTIFICATE`, `ImportKey` of a `RootCertificatePublicKey` stores
//! the CA in `CREATE_IN_PROGRESS` (unusable) with `MpaStatus` `PENDING` and a session
//! `arn:aws:mpa:{region}:{account}:session/{team}/{key id}`; the key becomes usable when the
//! team's required number of its distinct approvers approve; a rejection (`FAILED`) or a
//! cancellation (`CANCELLED`) deletes it. The session's transitions are data
//! ([`policy::mpa::TRANSITIONS`]). Approvers are named, not authenticated: whoever runs the
//! command owns the store; each approval is audited with the approver's name.
//!
//! Teams, associations and sessions are kept in the store's settings (no schema change).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    Error,
    clock::Timestamp,
    hsm::{Audit, Hsm},
    model::{KeyRecord, KeyState, Setting},
    policy::mpa::{self as rules, SessionEvent, SessionStatus},
    store::Store,
};

/// `AssociateMpaTeam`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AssociateMpaTeamInput {
    /// The protected operation (`IMPORT_ROOT_PUBLIC_KEY_CERTIFICATE`).
    pub action: String,
    /// The team's ARN.
    pub mpa_team_arn: String,
    /// A comment for the audit trail.
    pub requester_comment: Option<String>,
}

/// `DisassociateMpaTeam`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DisassociateMpaTeamInput {
    /// The protected operation.
    pub action: String,
    /// A comment for the audit trail.
    pub requester_comment: Option<String>,
}

/// `GetMpaTeamAssociation`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct GetMpaTeamAssociationInput {
    /// The protected operation.
    pub action: String,
}

/// A team, as stored.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
struct Team {
    approvers: Vec<String>,
    required_approvals: usize,
}

/// An association, as stored; `None` once disassociated.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Association {
    team: Option<String>,
}

/// A session, as stored: the team as it was when the session began.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Session {
    team_name: String,
    team: Team,
    status: SessionStatus,
    initiation_date: i64,
    approvals: Vec<String>,
    status_message: Option<String>,
}

const TEAM: &str = "mpa.team.";
const ASSOCIATION: &str = "mpa.association.";
const SESSION: &str = "mpa.session.";

impl<S: Store> Hsm<S> {
    /// Creates an approval team (the local model of the MPA service's).
    pub fn create_mpa_team(
        &self,
        name: &str,
        approvers: &[String],
        required_approvals: usize,
    ) -> Result<Value, Error> {
        let params = || json!({ "name": name, "approvers": approvers, "requiredApprovals": required_approvals });
        self.run("CreateMpaTeam", Audit::Write, params, || {
            rules::check_team(name, approvers, required_approvals)?;
            let team = Team {
                approvers: approvers.to_vec(),
                required_approvals,
            };
            if !self.put_new(&format!("{TEAM}{name}"), &team)? {
                return Err(Error::conflict(format!("the team {name} exists")));
            }
            Ok((self.team_json(name, &team), Vec::new()))
        })
    }

    /// `AssociateMpaTeam`.
    pub fn associate_mpa_team(&self, input: AssociateMpaTeamInput) -> Result<Value, Error> {
        let params = || {
            json!({ "action": input.action, "mpaTeamArn": input.mpa_team_arn,
                "requesterComment": input.requester_comment })
        };
        self.run("AssociateMpaTeam", Audit::Write, params, || {
            rules::check_operation("Action", &input.action)?;
            let name = self.team_name("MpaTeamArn", &input.mpa_team_arn)?;
            self.team(&name)?
                .ok_or_else(|| Error::not_found(&input.mpa_team_arn))?;
            let key = format!("{ASSOCIATION}{}", input.action);
            let current = self.get::<Association>(&key)?;
            if let Some((Association { team: Some(t) }, _)) = &current {
                return Err(Error::conflict(format!(
                    "{} is protected by the team {t}; DisassociateMpaTeam first",
                    input.action
                )));
            }
            let revision = current.map_or(0, |(_, r)| r);
            self.put(
                &key,
                &Association {
                    team: Some(name.clone()),
                },
                revision,
            )?;
            Ok((self.association_json(&input.action, &name), Vec::new()))
        })
    }

    /// `DisassociateMpaTeam`: takes effect at once; the answer is the association removed.
    pub fn disassociate_mpa_team(&self, input: DisassociateMpaTeamInput) -> Result<Value, Error> {
        let params =
            || json!({ "action": input.action, "requesterComment": input.requester_comment });
        self.run("DisassociateMpaTeam", Audit::Write, params, || {
            rules::check_operation("Action", &input.action)?;
            let key = format!("{ASSOCIATION}{}", input.action);
            let Some((Association { team: Some(name) }, revision)) = self.get(&key)? else {
                return Err(Error::not_found(&input.action));
            };
            self.put(&key, &Association { team: None }, revision)?;
            Ok((self.association_json(&input.action, &name), Vec::new()))
        })
    }

    /// `GetMpaTeamAssociation`.
    pub fn get_mpa_team_association(
        &self,
        input: GetMpaTeamAssociationInput,
    ) -> Result<Value, Error> {
        let params = || json!({ "action": input.action });
        self.run("GetMpaTeamAssociation", Audit::Read, params, || {
            rules::check_operation("Action", &input.action)?;
            let name = self
                .associated_team(&input.action)?
                .ok_or_else(|| Error::not_found(&input.action))?;
            Ok((self.association_json(&input.action, &name), Vec::new()))
        })
    }

    /// The team that must approve `action`, if one is associated.
    fn associated_team(&self, action: &str) -> Result<Option<String>, Error> {
        Ok(self
            .get::<Association>(&format!("{ASSOCIATION}{action}"))?
            .and_then(|(a, _)| a.team))
    }

    /// Whether importing a root certificate waits for approvals.
    pub(crate) fn root_import_needs_approval(&self) -> Result<bool, Error> {
        Ok(self.associated_team(rules::IMPORT_ROOT)?.is_some())
    }

    /// Opens the approval session of `record`, just stored in `CREATE_IN_PROGRESS`.
    pub(crate) fn open_root_import_session(&self, record: &KeyRecord) -> Result<(), Error> {
        let name = self
            .associated_team(rules::IMPORT_ROOT)?
            .ok_or_else(|| Error::internal("checked: a team is associated"))?;
        let team = self
            .team(&name)?
            .ok_or_else(|| Error::internal("an associated team is stored"))?;
        let session = Session {
            team_name: name,
            team,
            status: SessionStatus::Pending,
            initiation_date: self.now().0,
            approvals: Vec::new(),
            status_message: None,
        };
        if self.put_new(&format!("{SESSION}{}", record.key_id), &session)? {
            Ok(())
        } else {
            Err(Error::internal("a new key has no session yet"))
        }
    }

    /// A key's `MpaStatus`, if its creation went through an approval session.
    pub(crate) fn mpa_status(&self, record: &KeyRecord) -> Result<Option<Value>, Error> {
        let Some((session, _)) = self.get::<Session>(&format!("{SESSION}{}", record.key_id))?
        else {
            return Ok(None);
        };
        let mut status = json!({
            "MpaSessionArn": self.session_arn(&session.team_name, &record.key_id),
            "Status": session.status.name(),
            "InitiationDate": Timestamp(session.initiation_date).as_epoch_seconds(),
        });
        if let Some(m) = &session.status_message {
            status["StatusMessage"] = json!(m);
        }
        Ok(Some(status))
    }

    /// One approver's approval. At the team's required number of distinct approvals the key
    /// becomes usable (`CREATE_COMPLETE`) and the session `APPROVED`.
    pub fn approve_mpa_session(
        &self,
        session_arn: &str,
        approver: &str,
    ) -> Result<crate::model::KeyOutput, Error> {
        self.decide(
            "ApproveMpaSession",
            session_arn,
            Some(approver),
            SessionEvent::Approve,
        )
    }

    /// One approver's rejection: the session `FAILED`, the key deleted.
    pub fn reject_mpa_session(
        &self,
        session_arn: &str,
        approver: &str,
    ) -> Result<crate::model::KeyOutput, Error> {
        self.decide(
            "RejectMpaSession",
            session_arn,
            Some(approver),
            SessionEvent::Reject,
        )
    }

    /// The requester's cancellation: the session `CANCELLED`, the key deleted.
    pub fn cancel_mpa_session(&self, session_arn: &str) -> Result<crate::model::KeyOutput, Error> {
        self.decide("CancelMpaSession", session_arn, None, SessionEvent::Cancel)
    }

    fn decide(
        &self,
        event_name: &str,
        session_arn: &str,
        approver: Option<&str>,
        event: SessionEvent,
    ) -> Result<crate::model::KeyOutput, Error> {
        let params = || json!({ "mpaSessionArn": session_arn, "approver": approver });
        self.run(event_name, Audit::Write, params, || {
            let key_id = self.session_key_id(session_arn)?;
            let name = format!("{SESSION}{key_id}");
            let (mut session, revision) = self
                .get::<Session>(&name)?
                .ok_or_else(|| Error::not_found(session_arn))?;
            if let Some(who) = approver {
                rules::check_approver(&session.team.approvers, &session.approvals, who)?;
                session.approvals.push(who.to_owned());
            }
            let quorum = session.approvals.len() >= session.team.required_approvals;
            let next = rules::transition(session.status, event, quorum)?;
            let arn = self.arn(&key_id)?.to_string();
            // The key changes first: it is never usable before the approvals are complete.
            match next {
                SessionStatus::Approved => {
                    self.update(&arn, "MpaSessionArn", |r, _| {
                        Ok((r.state == KeyState::CreateInProgress).then(|| KeyRecord {
                            state: KeyState::CreateComplete,
                            ..r.clone()
                        }))
                    })?;
                }
                SessionStatus::Failed | SessionStatus::Cancelled => {
                    let record = self
                        .load_id(&key_id)?
                        .ok_or_else(|| Error::not_found(&arn))?;
                    if record.state == KeyState::CreateInProgress {
                        self.destroy(&record, self.now())?
                            .ok_or_else(|| Error::conflict("the key changed; retry"))?;
                    }
                }
                SessionStatus::Pending => {}
            }
            session.status_message = Some(match next {
                SessionStatus::Pending => format!(
                    "{} of {} approvals",
                    session.approvals.len(),
                    session.team.required_approvals
                ),
                SessionStatus::Approved => format!("approved by {}", session.approvals.join(", ")),
                SessionStatus::Failed => format!("rejected by {}", approver.unwrap_or_default()),
                SessionStatus::Cancelled => "cancelled by the requester".to_owned(),
            });
            session.status = next;
            self.put(&name, &session, revision)?;
            let record = self
                .load_id(&key_id)?
                .ok_or_else(|| Error::not_found(&arn))?;
            self.key_output(&record)
        })
    }

    fn team(&self, name: &str) -> Result<Option<Team>, Error> {
        Ok(self.get(&format!("{TEAM}{name}"))?.map(|(t, _)| t))
    }

    fn team_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:mpa:{}:{}:approval-team/{name}",
            self.region.as_str(),
            self.account.as_str()
        )
    }

    fn session_arn(&self, team: &str, key_id: &str) -> String {
        format!(
            "arn:aws:mpa:{}:{}:session/{team}/{key_id}",
            self.region.as_str(),
            self.account.as_str()
        )
    }

    /// The team a team ARN of this region and account names.
    fn team_name(&self, field: &str, arn: &str) -> Result<String, Error> {
        let prefix = self.team_arn("");
        arn.strip_prefix(&prefix)
            .filter(|n| rules::check_name(n).is_ok())
            .map(str::to_owned)
            .ok_or_else(|| Error::validation(field, format!("expected {prefix}NAME")))
    }

    /// The key a session ARN of this region and account names.
    fn session_key_id(&self, arn: &str) -> Result<String, Error> {
        let prefix = format!(
            "arn:aws:mpa:{}:{}:session/",
            self.region.as_str(),
            self.account.as_str()
        );
        arn.strip_prefix(&prefix)
            .and_then(|rest| rest.split_once('/'))
            .filter(|(team, key)| rules::check_name(team).is_ok() && crate::arn::is_key_id(key))
            .map(|(_, key)| key.to_owned())
            .ok_or_else(|| {
                Error::validation("MpaSessionArn", format!("expected {prefix}TEAM/KEY-ID"))
            })
    }

    fn team_json(&self, name: &str, team: &Team) -> Value {
        json!({ "MpaTeamArn": self.team_arn(name), "Approvers": team.approvers,
            "RequiredApprovals": team.required_approvals })
    }

    fn association_json(&self, action: &str, team: &str) -> Value {
        json!({ "MpaTeamAssociation": { "Action": action, "MpaTeamArn": self.team_arn(team),
            "AssociationState": "ACTIVE" } })
    }

    fn get<T: for<'de> Deserialize<'de>>(&self, name: &str) -> Result<Option<(T, u64)>, Error> {
        self.store()
            .get_setting(name)?
            .map(|s| {
                serde_json::from_str(&s.value)
                    .map(|v| (v, s.revision))
                    .map_err(|e| Error::internal(format!("stored setting {name}: {e}")))
            })
            .transpose()
    }

    /// Replaces the setting stored at `revision` (0: none); a concurrent change is a conflict.
    fn put<T: Serialize>(&self, name: &str, value: &T, revision: u64) -> Result<(), Error> {
        let value = serde_json::to_string(value).map_err(|e| Error::internal(e.to_string()))?;
        let setting = Setting {
            name: name.to_owned(),
            value,
            revision: revision + 1,
        };
        if self.store().put_setting(&setting)? {
            Ok(())
        } else {
            Err(Error::conflict(format!("{name} changed meanwhile; retry")))
        }
    }

    /// Adds a setting; `false` if one exists.
    fn put_new<T: Serialize>(&self, name: &str, value: &T) -> Result<bool, Error> {
        if self.store().get_setting(name)?.is_some() {
            return Ok(false);
        }
        self.put(name, value, 0).map(|()| true)
    }
}
