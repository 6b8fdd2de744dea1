//! Dashboard actions on hazards, applied through the same documents the phones sync.
//!
//! The acting web user gets a device of their own (one per user and institution,
//! registered like a phone, its token never handed out) with a fresh Automerge actor
//! bound to it. An action loads the hazard document, checks the role rule and the
//! lifecycle exactly as the phone's core does (`Action::allowed`, `lifecycle::transition`),
//! makes the edit with the core's document functions under that actor, and hands the
//! change to `sync::accept_changes` — the write path of a phone's sync: actor → device →
//! user attribution, per-change role validation, trial merge, ledger derivation and
//! commit.
//! A refused action changes nothing.

use automerge::{ActorId, AutoCommit};
use chrono::NaiveDate;
use saferound_core::doc::hazard::{self, Event, NewHazard, Plan, PlanPart};
use saferound_core::doc::{self, PersonRef, SiteRef, limits, short_text};
use saferound_core::ids::{BlobHash, DocId, InstitutionId, LocalDate, Timestamp, UserId};
use saferound_core::model::lifecycle::{self, EventKind};
use saferound_core::model::{Action, HazardCategory, RiskGrade};
use saferound_core::policy;
use saferound_core::sync::wire::{self, PushDoc, RejectCode};

use super::action_error::ActionError;
use crate::state::AppState;
use crate::store::{DeviceAuth, NewDevice, User};

/// What the dashboard can do to a hazard (DOMAIN.md, "who may do what to a hazard").
#[derive(Debug, Clone)]
pub enum HazardAction {
    Assign {
        measure: String,
        responsible: UserId,
        funds: String,
        deadline: NaiveDate,
        contingency: String,
        reinspector: Option<UserId>,
        note: String,
    },
    Rectify {
        note: String,
    },
    Verify {
        passed: bool,
        note: String,
    },
    Defer {
        interim_controls: String,
        designated: UserId,
        note: String,
    },
    Reopen {
        note: String,
    },
    Supervise {
        treatment_plan: String,
    },
    Regrade {
        risk: RiskGrade,
        note: String,
    },
}

impl HazardAction {
    pub fn action(&self) -> Action {
        match self {
            HazardAction::Assign { .. } => Action::Assign,
            HazardAction::Rectify { .. } => Action::ReportRectification,
            HazardAction::Verify { .. } => Action::Verify,
            HazardAction::Defer { .. } => Action::Defer,
            HazardAction::Reopen { .. } => Action::Reopen,
            HazardAction::Supervise { .. } => Action::ListForSupervision,
            HazardAction::Regrade { .. } => Action::Regrade,
        }
    }

    fn kind(&self) -> EventKind {
        match self {
            HazardAction::Assign { .. } => EventKind::Assigned,
            HazardAction::Rectify { .. } => EventKind::RectificationReported,
            HazardAction::Verify { passed: true, .. } => EventKind::Verified,
            HazardAction::Verify { passed: false, .. } => EventKind::VerificationFailed,
            HazardAction::Defer { .. } => EventKind::Deferred,
            HazardAction::Reopen { .. } => EventKind::Reopened,
            HazardAction::Supervise { .. } => EventKind::ListedForSupervision,
            HazardAction::Regrade { .. } => EventKind::Regraded,
        }
    }
}

fn person(u: &User) -> PersonRef {
    PersonRef {
        user_id: u.id,
        name: u.name.clone(),
    }
}

/// The device the server writes `user`'s dashboard actions with in `institution`,
/// registered on first use (and again if an administrator revoked it).
pub async fn web_device(
    state: &AppState,
    user: &User,
    institution: InstitutionId,
) -> Result<DeviceAuth, ActionError> {
    if let Some(d) = state.storage.web_device(user.id, institution).await? {
        return Ok(d);
    }
    let token = crate::accounts::new_secret();
    state
        .storage
        .set_web_device(&NewDevice {
            id: uuid::Uuid::now_v7().to_string(),
            user: user.id,
            institution,
            actor: ActorId::random().to_bytes().to_vec(),
            token_hash: crate::accounts::token_hash(&token),
            name: "web dashboard".into(),
        })
        .await?;
    state
        .storage
        .web_device(user.id, institution)
        .await?
        .ok_or_else(|| ActionError::Forbidden("this account is not active".into()))
}

/// Commits the changes made on `d` since `before` as `device`, through the sync write path.
async fn push(
    state: &AppState,
    device: &DeviceAuth,
    id: DocId,
    d: &mut AutoCommit,
    before: &[automerge::ChangeHash],
) -> Result<Option<String>, ActionError> {
    let changes: Vec<serde_bytes::ByteBuf> = d
        .get_changes(before)
        .into_iter()
        .map(|c| serde_bytes::ByteBuf::from(c.raw_bytes().to_vec()))
        .collect();
    let push = PushDoc {
        id: id.0,
        heads: wire::heads_to_bytes(&d.get_heads()),
        changes,
    };
    let accepted = crate::sync::accept_changes(
        state.storage.as_ref(),
        device,
        vec![push],
        Timestamp(state.now()),
    )
    .await
    .map_err(|e| ActionError::Internal(e.to_string()))?;
    if let Some(r) = accepted.rejections.into_iter().next() {
        return match r.code {
            RejectCode::Forbidden => Err(ActionError::Forbidden(r.reason)),
            // Busy (merged concurrently): the caller tries again on the newer copy.
            RejectCode::MissingDependencies => Ok(Some(r.reason)),
            _ => Err(ActionError::State(r.reason)),
        };
    }
    Ok(None)
}

/// Applies `action` to hazard `id` as `user`, with `photos` (after-photos of a
/// rectification or a verification; checked and kept only once the action is allowed).
/// Forbidden or illegal actions are refused before anything is written; the sync path
/// checks again and would refuse the change.
pub async fn apply(
    state: &AppState,
    user: &User,
    id: DocId,
    action: HazardAction,
    photos: Vec<super::upload::ArrivedPhoto>,
) -> Result<(), ActionError> {
    if !photos.is_empty()
        && !matches!(
            action,
            HazardAction::Rectify { .. } | HazardAction::Verify { .. }
        )
    {
        return Err(ActionError::Invalid(
            "photos: only a rectification or a verification carries photos".into(),
        ));
    }
    let mut photos = Some(photos);
    let mut photo_hashes: Vec<BlobHash> = Vec::new();
    let scope = super::scope_of(user);
    let detail = state
        .storage
        .hazard(scope, id)
        .await?
        .ok_or(ActionError::NotFound)?;
    let institution: InstitutionId = detail
        .institution
        .parse()
        .map_err(|_| ActionError::Internal("institution id".into()))?;
    let people = state.storage.users(institution).await?;
    let find = |uid: UserId, field: &str| -> Result<PersonRef, ActionError> {
        people
            .iter()
            .find(|u| u.id == uid && u.active)
            .map(person)
            .ok_or_else(|| {
                ActionError::Invalid(format!("{field}: no such person in this institution"))
            })
    };
    let today = state.today_in(state.tz(Some(institution)).await);
    // Inputs are checked once, before any document is touched.
    let note = match &action {
        HazardAction::Assign { note, .. } | HazardAction::Defer { note, .. } => {
            short_text("note", note, false, limits::NOTE)?
        }
        HazardAction::Verify { passed, note } => short_text("note", note, !passed, limits::NOTE)?,
        HazardAction::Rectify { note }
        | HazardAction::Reopen { note }
        | HazardAction::Regrade { note, .. } => short_text("note", note, true, limits::NOTE)?,
        HazardAction::Supervise { .. } => String::new(),
    };
    let plan_edit: Option<(Plan, PlanPart)> = match &action {
        HazardAction::Assign {
            measure,
            responsible,
            funds,
            deadline,
            contingency,
            reinspector,
            ..
        } => {
            if *deadline < today {
                return Err(ActionError::Invalid(format!(
                    "deadline: {deadline} is in the past"
                )));
            }
            Some((
                Plan {
                    measure: short_text("measure", measure, true, limits::NOTE)?,
                    responsible: Some(find(*responsible, "responsible")?),
                    funds: short_text("funds", funds, false, limits::NAME)?,
                    deadline: Some(LocalDate(*deadline)),
                    contingency: short_text("contingency", contingency, false, limits::NOTE)?,
                    reinspector: reinspector.map(|r| find(r, "reinspector")).transpose()?,
                    ..Default::default()
                },
                PlanPart::Assignment,
            ))
        }
        HazardAction::Defer {
            interim_controls,
            designated,
            ..
        } => Some((
            Plan {
                interim_controls: short_text(
                    "interim_controls",
                    interim_controls,
                    true,
                    limits::NOTE,
                )?,
                designated_person: Some(find(*designated, "designated_person")?),
                ..Default::default()
            },
            PlanPart::Deferral,
        )),
        HazardAction::Supervise { treatment_plan } => Some((
            Plan {
                treatment_plan: short_text(
                    "treatment_plan",
                    treatment_plan,
                    true,
                    limits::LONG_TEXT,
                )?,
                ..Default::default()
            },
            PlanPart::Supervision,
        )),
        _ => None,
    };
    let device = web_device(state, user, institution).await?;
    let me = person(user);
    for _ in 0..4 {
        let stored = state
            .storage
            .load_documents(institution, vec![id])
            .await?
            .remove(&id)
            .ok_or(ActionError::NotFound)?;
        let mut d = saferound_core::codec::load_stored(&stored.bytes)
            .map_err(|e| ActionError::Internal(e.to_string()))?
            .with_actor(ActorId::from(device.actor.as_slice()));
        let h = hazard::read_with(&d, false)?;
        let seen = policy::Version::read(&d).map_err(|e| ActionError::Invalid(e.to_string()))?;
        let named = policy::named(&h, user.id);
        let act = action.action();
        if !act.allowed(&user.roles, named) {
            return Err(ActionError::Forbidden(format!(
                "{act:?} is for {}",
                act.who()
            )));
        }
        let kind = action.kind();
        if lifecycle::transition(h.status, kind).is_none() {
            return Err(ActionError::State(format!(
                "cannot record '{}' on a hazard that is {}",
                kind.code(),
                h.status.map(|s| s.code()).unwrap_or("without history")
            )));
        }
        if matches!(action, HazardAction::Supervise { .. }) && h.risk != RiskGrade::Major {
            return Err(ActionError::State(
                "only major hazards 重大隐患 are listed for supervision".into(),
            ));
        }
        // Allowed and legal: now the photos are checked and kept (once, whatever the
        // retries below).
        if let Some(p) = photos.take() {
            photo_hashes =
                super::upload::keep_photos(state, institution, &user.id.to_string(), p).await?;
        }
        let before = d.get_heads();
        doc::record_author(&mut d, &me)?;
        let mut event = Event {
            id: DocId::new(),
            kind,
            by: me.clone(),
            at: Timestamp(state.now()),
            note: note.clone(),
            photos: photo_hashes.clone(),
            risk: None,
            plan: None,
            corrections: Vec::new(),
        };
        if let Some((p, part)) = &plan_edit {
            let merged = match part {
                PlanPart::Assignment => Plan {
                    interim_controls: h.plan.interim_controls.clone(),
                    designated_person: h.plan.designated_person.clone(),
                    treatment_plan: h.plan.treatment_plan.clone(),
                    ..p.clone()
                },
                PlanPart::Deferral => Plan {
                    interim_controls: p.interim_controls.clone(),
                    designated_person: p.designated_person.clone(),
                    ..h.plan.clone()
                },
                PlanPart::Supervision => Plan {
                    treatment_plan: p.treatment_plan.clone(),
                    ..h.plan.clone()
                },
            };
            hazard::update_plan(&mut d, &merged, *part)?;
            event.plan = Some(merged);
        }
        if let HazardAction::Regrade { risk, .. } = &action {
            hazard::set_risk(&mut d, *risk)?;
            event.risk = Some(*risk);
            event.corrections = hazard::corrections(&h, &hazard::read_with(&d, false)?, &["risk"]);
        }
        hazard::append_event(&mut d, &event)?;
        judge(state, user, &device, institution, Some(&seen), &d).await?;
        d.commit();
        match push(state, &device, id, &mut d, &before).await? {
            None => return Ok(()),
            Some(busy) => tracing::debug!(%id, busy, "hazard merged concurrently; again"),
        }
    }
    Err(ActionError::State(
        "the hazard keeps changing; try again".into(),
    ))
}

/// Judges the edit in `d` (from `seen`) by the write policy, as the server will judge
/// it again when it is pushed: a refused action is answered before anything is written.
async fn judge(
    state: &AppState,
    user: &User,
    device: &DeviceAuth,
    institution: InstitutionId,
    seen: Option<&policy::Version>,
    d: &AutoCommit,
) -> Result<(), ActionError> {
    let made = policy::Version::read(d).map_err(|e| ActionError::Invalid(e.to_string()))?;
    let directory = crate::sync::directory(state.storage.as_ref(), institution)
        .await
        .map_err(|e| ActionError::Internal(e.to_string()))?;
    let author = policy::Author {
        user: user.id,
        roles: &user.roles,
        department: user.department,
        actor: hex::encode(&device.actor),
    };
    let ctx = policy::Context {
        institution,
        directory: directory.as_deref(),
        received: Timestamp(state.now()),
    };
    match policy::judge(seen, &made, &author, &ctx) {
        Ok(_) => Ok(()),
        Err(r) if r.forbidden => Err(ActionError::Forbidden(r.to_string())),
        Err(r) => Err(ActionError::Invalid(r.to_string())),
    }
}

/// What the office reports from the dashboard (上报).
#[derive(Debug, Clone)]
pub struct NewReport {
    pub site: saferound_core::ids::SiteId,
    pub category: HazardCategory,
    pub risk: RiskGrade,
    pub location: String,
    pub description: String,
    pub photos: Vec<BlobHash>,
}

/// Reports a hazard as `user` (inspector or safety office), through the sync path;
/// `photos` (before-photos taken on the form) are checked and kept once the report is
/// allowed, after those already in `r.photos`.
pub async fn report(
    state: &AppState,
    user: &User,
    mut r: NewReport,
    photos: Vec<super::upload::ArrivedPhoto>,
) -> Result<DocId, ActionError> {
    policy::may(Action::ReportHazard, &user.roles, Default::default())
        .map_err(|e| ActionError::Forbidden(e.to_string()))?;
    let institution = user
        .institution
        .ok_or_else(|| ActionError::Forbidden("reports belong to an institution".into()))?;
    let site = state
        .storage
        .sites(institution)
        .await?
        .into_iter()
        .find(|s| s.id == r.site)
        .ok_or_else(|| ActionError::Invalid("site: no such site in this institution".into()))?;
    let location = short_text("location", &r.location, false, limits::NAME)?;
    let description = short_text("description", &r.description, true, limits::LONG_TEXT)?;
    r.photos.extend(
        super::upload::keep_photos(state, institution, &user.id.to_string(), photos).await?,
    );
    let new = NewHazard {
        id: DocId::new(),
        institution,
        campaign: None,
        inspection: None,
        site: SiteRef {
            id: site.id,
            name: site.name.clone(),
            kind: site.kind,
        },
        category: r.category,
        risk: r.risk,
        location,
        description,
        photos: r.photos,
    };
    let device = web_device(state, user, institution).await?;
    let mut d = AutoCommit::new().with_actor(ActorId::from(device.actor.as_slice()));
    let me = person(user);
    doc::record_author(&mut d, &me)?;
    hazard::create(&mut d, &new, &me, Timestamp(state.now()))?;
    judge(state, user, &device, institution, None, &d).await?;
    d.commit();
    match push(state, &device, new.id, &mut d, &[]).await? {
        None => Ok(new.id),
        Some(reason) => Err(ActionError::State(reason)),
    }
}
