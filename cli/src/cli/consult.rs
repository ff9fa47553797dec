//! `spil consult …` and `spil audit …`: consultations between teams,
//! networks and providers, and the audit trail for the privacy officer.

use crate::render::{Format, Render, show};
use crate::wire::wire;
use anyhow::Context;
use clap::Subcommand;
use serde_json::json;
use spil_client::{SpilClient, pb};
use std::io::Write;

#[derive(Debug, Subcommand)]
pub enum ConsultCommand {
    /// File a consultation request with a team, network or provider.
    File(FileArgs),
    /// Your inbox and outbox.
    List {
        /// Only those addressed to you.
        #[arg(long, conflicts_with = "outbox")]
        inbox: bool,
        /// Only those you filed.
        #[arg(long)]
        outbox: bool,
        #[arg(long, value_parser = wire::<pb::ConsultationState>())]
        state: Vec<pb::ConsultationState>,
        #[arg(long, value_parser = wire::<pb::Urgency>())]
        urgency: Vec<pb::Urgency>,
        /// Only those waiting for a first answer past their deadline.
        #[arg(long)]
        overdue: bool,
    },
    /// One consultation with its history and thread.
    Show { id: String },
    /// Take a consultation on (addressee).
    Accept {
        id: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Decline, with a reason (addressee).
    Decline {
        id: String,
        #[arg(long, value_parser = wire::<pb::DeclineReason>())]
        reason: pb::DeclineReason,
        /// Why, for the filer.
        #[arg(long)]
        note: String,
    },
    /// Start working on an accepted consultation (addressee).
    Start {
        id: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Give your advice (addressee).
    Advise {
        id: String,
        #[arg(long)]
        advice: String,
    },
    /// Forward to a supra-regional network (expertise teams).
    Escalate {
        id: String,
        /// The network, e.g. ben-nh or k-eet.
        #[arg(long)]
        to: String,
        #[arg(long)]
        note: String,
    },
    /// Withdraw your request (filer).
    Withdraw {
        id: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Close after the advice (filer).
    Close {
        id: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Add a message to the thread.
    Message {
        id: String,
        #[arg(long)]
        text: String,
    },
    /// Follow events on your consultations live; resumes after a reconnect.
    Watch {
        /// Resume after this revision (0: from now).
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Stop after this many events (for scripts).
        #[arg(long)]
        limit: Option<usize>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Audit records, oldest first.
    List {
        #[arg(long)]
        consultation: Option<String>,
        #[arg(long = "org")]
        organisation: Option<String>,
        /// From this moment (RFC 3339), inclusive.
        #[arg(long)]
        since: Option<chrono::DateTime<chrono::Utc>>,
        /// Until this moment (RFC 3339), exclusive.
        #[arg(long)]
        until: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Check the hash chain from its first record.
    Verify,
}

#[derive(Debug, clap::Args)]
pub struct FileArgs {
    /// The organisation asked: a RET, BEN NH, K-EET or a provider.
    #[arg(long)]
    to: String,
    /// Your pseudonymous case reference: never a BSN, name or date of birth.
    #[arg(long = "case")]
    case_reference: String,
    #[arg(long)]
    age: u32,
    /// The child's municipality of residence (CBS code, e.g. GM0392).
    #[arg(long)]
    municipality: String,
    #[arg(long = "domain", value_parser = wire::<pb::ProblemDomain>(), required = true)]
    domains: Vec<pb::ProblemDomain>,
    #[arg(long = "type", value_parser = wire::<pb::QuestionType>(), default_value = "advice")]
    question_type: pb::QuestionType,
    #[arg(long, value_parser = wire::<pb::Urgency>(), default_value = "routine")]
    urgency: pb::Urgency,
    #[arg(long)]
    question: String,
    /// The family consented to sharing this case (required to file).
    #[arg(long)]
    consent: bool,
    /// Idempotency key; a retry with the same key files once.
    #[arg(long)]
    request_id: Option<String>,
}

fn request_id(given: &Option<String>) -> String {
    given
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// `CONSULTATION_STATE_IN_PROGRESS` → `in_progress`.
fn short(name: &str, prefix: &str) -> String {
    name.trim_start_matches(prefix).to_lowercase()
}

fn when(ts: &Option<prost_types::Timestamp>) -> String {
    crate::render::local_timestamp(ts)
}

fn consultation_json(c: &pb::Consultation) -> serde_json::Value {
    let content = c.content.clone();
    json!({
        "id": c.id,
        "state": c.state().as_str_name(),
        "filer_id": c.filer_id,
        "addressee_id": c.addressee_id,
        "case_reference": content.as_ref().map(|c| c.case_reference.clone()),
        "age_years": content.as_ref().map(|c| c.age_years),
        "question": content.as_ref().map(|c| c.question.clone()),
        "municipality_code": c.municipality_code,
        "problem_domains": c.problem_domains().map(|d| d.as_str_name()).collect::<Vec<_>>(),
        "question_type": c.question_type().as_str_name(),
        "urgency": c.urgency().as_str_name(),
        "filed_at": when(&c.filed_at),
        "answer_due_at": when(&c.answer_due_at),
        "overdue": c.overdue,
        "escalated_from_id": c.escalated_from_id,
        "escalated_to_id": c.escalated_to_id,
        "party_ids": c.party_ids,
        "erased_at": c.erased_at.map(|_| when(&c.erased_at)),
        "revision": c.revision,
    })
}

/// Consultations, one line (or JSON object) each.
struct ConsultationList(Vec<pb::Consultation>);

impl Render for ConsultationList {
    fn table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        if self.0.is_empty() {
            return writeln!(out, "no consultations");
        }
        writeln!(
            out,
            "{:<36}  {:<13} {:<8} {:<22} {:<22} {:<16} {:<16}",
            "ID", "STATE", "URGENCY", "FROM", "TO", "CASE", "ANSWER DUE"
        )?;
        for c in &self.0 {
            writeln!(
                out,
                "{:<36}  {:<13} {:<8} {:<22} {:<22} {:<16} {}{}",
                c.id,
                short(c.state().as_str_name(), "CONSULTATION_STATE_"),
                short(c.urgency().as_str_name(), "URGENCY_"),
                c.filer_id,
                c.addressee_id,
                c.content
                    .as_ref()
                    .map_or("(erased)".into(), |c| c.case_reference.clone()),
                when(&c.answer_due_at),
                if c.overdue { "  OVERDUE" } else { "" },
            )?;
        }
        Ok(())
    }

    fn json(&self) -> Vec<serde_json::Value> {
        self.0.iter().map(consultation_json).collect()
    }
}

/// A consultation after a call changed it: "accepted <id> is now accepted".
struct NowIs<'a>(&'a str, Option<pb::Consultation>);

impl Render for NowIs<'_> {
    fn table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        match &self.1 {
            Some(c) => writeln!(
                out,
                "{} {} is now {}",
                self.0,
                c.id,
                short(c.state().as_str_name(), "CONSULTATION_STATE_")
            ),
            None => Ok(()),
        }
    }

    fn json(&self) -> Vec<serde_json::Value> {
        self.1.iter().map(consultation_json).collect()
    }
}

pub async fn consult(
    client: &SpilClient,
    person: &str,
    command: &ConsultCommand,
    format: Format,
) -> anyhow::Result<()> {
    let mut api = client.consultations(person);
    match command {
        ConsultCommand::File(f) => show(format, &Filed(file(&mut api, f).await?)),
        ConsultCommand::List {
            inbox,
            outbox,
            state,
            urgency,
            overdue,
        } => {
            let r#box = if *inbox {
                pb::ConsultationRole::Inbox
            } else if *outbox {
                pb::ConsultationRole::Outbox
            } else {
                pb::ConsultationRole::Unspecified
            };
            let request = pb::ListConsultationsRequest {
                r#box: r#box as i32,
                states: state.iter().map(|s| *s as i32).collect(),
                urgencies: urgency.iter().map(|u| *u as i32).collect(),
                overdue_only: *overdue,
                page_size: 200,
                page_token: String::new(),
            };
            show(
                format,
                &ConsultationList(every_page(&mut api, request).await?),
            )
        }
        ConsultCommand::Show { id } => show(format, &shown(&mut api, id).await?),
        ConsultCommand::Escalate { id, to, note } => {
            let done = api
                .escalate_consultation(pb::EscalateConsultationRequest {
                    consultation_id: id.clone(),
                    network_id: to.clone(),
                    note: note.clone(),
                    request_id: request_id(&None),
                })
                .await?
                .into_inner();
            show(format, &NowIs("consultation", done.consultation))?;
            show(format, &NowIs("escalated as", done.escalated))
        }
        ConsultCommand::Message { id, text } => {
            let message = api
                .post_message(pb::PostMessageRequest {
                    consultation_id: id.clone(),
                    text: text.clone(),
                    request_id: request_id(&None),
                })
                .await?
                .into_inner()
                .message
                .unwrap_or_default();
            show(format, &Posted(message))
        }
        ConsultCommand::Watch { from, limit } => watch(client, person, *from, *limit, format).await,
        ConsultCommand::Accept { .. }
        | ConsultCommand::Decline { .. }
        | ConsultCommand::Start { .. }
        | ConsultCommand::Advise { .. }
        | ConsultCommand::Withdraw { .. }
        | ConsultCommand::Close { .. } => show(
            format,
            &NowIs("consultation", moved(&mut api, command).await?),
        ),
    }
}

/// The consultations service as one person calls it.
type ConsultationsApi = pb::consultations_client::ConsultationsClient<
    tonic::service::interceptor::InterceptedService<
        tonic::transport::Channel,
        spil_client::PersonHeader,
    >,
>;

/// Files a consultation; the hub's answer.
async fn file(
    api: &mut ConsultationsApi,
    f: &FileArgs,
) -> anyhow::Result<Option<pb::Consultation>> {
    Ok(api
        .file_consultation(pb::FileConsultationRequest {
            request_id: request_id(&f.request_id),
            addressee_id: f.to.clone(),
            case_reference: f.case_reference.clone(),
            age_years: f.age,
            municipality_code: f.municipality.clone(),
            problem_domains: f.domains.iter().map(|d| *d as i32).collect(),
            question_type: f.question_type as i32,
            urgency: f.urgency as i32,
            question: f.question.clone(),
            consent_recorded: f.consent,
        })
        .await?
        .into_inner()
        .consultation)
}

/// Every page of a listing.
async fn every_page(
    api: &mut ConsultationsApi,
    mut request: pb::ListConsultationsRequest,
) -> anyhow::Result<Vec<pb::Consultation>> {
    let mut all = Vec::new();
    loop {
        let page = api.list_consultations(request.clone()).await?.into_inner();
        all.extend(page.consultations);
        if page.next_page_token.is_empty() {
            return Ok(all);
        }
        request.page_token = page.next_page_token;
    }
}

/// One step of a consultation's life (accept, decline, start, advise,
/// withdraw, close); the consultation as it now is.
async fn moved(
    api: &mut ConsultationsApi,
    command: &ConsultCommand,
) -> anyhow::Result<Option<pb::Consultation>> {
    let answer = match command {
        ConsultCommand::Accept { id, note } => {
            api.accept_consultation(pb::AcceptConsultationRequest {
                consultation_id: id.clone(),
                note: note.clone(),
                request_id: request_id(&None),
            })
            .await?
            .into_inner()
            .consultation
        }
        ConsultCommand::Decline { id, reason, note } => {
            api.decline_consultation(pb::DeclineConsultationRequest {
                consultation_id: id.clone(),
                reason: *reason as i32,
                note: note.clone(),
                request_id: request_id(&None),
            })
            .await?
            .into_inner()
            .consultation
        }
        ConsultCommand::Start { id, note } => {
            api.start_work(pb::StartWorkRequest {
                consultation_id: id.clone(),
                note: note.clone(),
                request_id: request_id(&None),
            })
            .await?
            .into_inner()
            .consultation
        }
        ConsultCommand::Advise { id, advice } => {
            api.give_advice(pb::GiveAdviceRequest {
                consultation_id: id.clone(),
                advice: advice.clone(),
                request_id: request_id(&None),
            })
            .await?
            .into_inner()
            .consultation
        }
        ConsultCommand::Withdraw { id, note } => {
            api.withdraw_consultation(pb::WithdrawConsultationRequest {
                consultation_id: id.clone(),
                note: note.clone(),
                request_id: request_id(&None),
            })
            .await?
            .into_inner()
            .consultation
        }
        ConsultCommand::Close { id, note } => {
            api.close_consultation(pb::CloseConsultationRequest {
                consultation_id: id.clone(),
                note: note.clone(),
                request_id: request_id(&None),
            })
            .await?
            .into_inner()
            .consultation
        }
        other => anyhow::bail!("{other:?} is no step of a consultation's life"),
    };
    Ok(answer)
}

/// `spil consult show`: a consultation with its history and thread.
async fn shown(api: &mut ConsultationsApi, id: &str) -> anyhow::Result<Shown> {
    let shown = api
        .get_consultation(pb::GetConsultationRequest {
            consultation_id: id.into(),
        })
        .await?
        .into_inner();
    let thread = api
        .list_messages(pb::ListMessagesRequest {
            consultation_id: id.into(),
            page_size: 500,
            page_token: String::new(),
        })
        .await?
        .into_inner()
        .messages;
    Ok(Shown {
        consultation: shown.consultation.unwrap_or_default(),
        history: shown.history,
        thread,
    })
}

/// One consultation, its history and its thread.
struct Shown {
    consultation: pb::Consultation,
    history: Vec<pb::StateChange>,
    thread: Vec<pb::ThreadMessage>,
}

impl Render for Shown {
    fn json(&self) -> Vec<serde_json::Value> {
        let mut value = consultation_json(&self.consultation);
        value["history"] = self
            .history
            .iter()
            .map(|h| json!({"from": h.from_state().as_str_name(), "to": h.to_state().as_str_name(), "organisation_id": h.organisation_id, "person": h.person, "at": when(&h.at), "note": h.note}))
            .collect();
        value["messages"] = self
            .thread
            .iter()
            .map(|m| json!({"author": m.author_organisation_id, "person": m.author_person, "at": when(&m.posted_at), "text": m.text}))
            .collect();
        vec![value]
    }

    fn table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let c = &self.consultation;
        let domains: Vec<String> = c
            .problem_domains()
            .map(|d| short(d.as_str_name(), "PROBLEM_DOMAIN_"))
            .collect();
        writeln!(out, "consultation {}", c.id)?;
        writeln!(
            out,
            "  state      {}{}",
            short(c.state().as_str_name(), "CONSULTATION_STATE_"),
            if c.overdue { " (OVERDUE)" } else { "" }
        )?;
        writeln!(out, "  from → to  {} → {}", c.filer_id, c.addressee_id)?;
        match &c.content {
            Some(content) => {
                writeln!(
                    out,
                    "  case       {} (age {})",
                    content.case_reference, content.age_years
                )?;
                writeln!(out, "  question   {}", content.question)?;
            }
            None => writeln!(out, "  content    erased {}", when(&c.erased_at))?,
        }
        writeln!(
            out,
            "  about      {} · {} · {} · {}",
            domains.join(", "),
            short(c.question_type().as_str_name(), "QUESTION_TYPE_"),
            short(c.urgency().as_str_name(), "URGENCY_"),
            c.municipality_code
        )?;
        writeln!(
            out,
            "  filed      {}   answer due {}",
            when(&c.filed_at),
            when(&c.answer_due_at)
        )?;
        if !c.escalated_from_id.is_empty() {
            writeln!(out, "  escalated from {}", c.escalated_from_id)?;
        }
        if !c.escalated_to_id.is_empty() {
            writeln!(out, "  escalated to   {}", c.escalated_to_id)?;
        }
        writeln!(out, "history")?;
        for h in &self.history {
            writeln!(
                out,
                "  {}  {:<13} {:<22} {}{}",
                when(&h.at),
                short(h.to_state().as_str_name(), "CONSULTATION_STATE_"),
                h.organisation_id,
                h.person,
                if h.note.is_empty() {
                    String::new()
                } else {
                    format!(": {}", h.note)
                }
            )?;
        }
        if !self.thread.is_empty() {
            writeln!(out, "thread")?;
            for m in &self.thread {
                writeln!(
                    out,
                    "  {}  {} ({}): {}",
                    when(&m.posted_at),
                    m.author_organisation_id,
                    m.author_person,
                    m.text
                )?;
            }
        }
        Ok(())
    }
}

/// A consultation just filed.
struct Filed(Option<pb::Consultation>);

impl Render for Filed {
    fn table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        match &self.0 {
            Some(c) => writeln!(
                out,
                "filed consultation {} with {}; first answer due {}",
                c.id,
                c.addressee_id,
                when(&c.answer_due_at)
            ),
            None => Ok(()),
        }
    }

    fn json(&self) -> Vec<serde_json::Value> {
        self.0.iter().map(consultation_json).collect()
    }
}

/// A message just posted to a consultation's thread.
struct Posted(pb::ThreadMessage);

impl Render for Posted {
    fn table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(out, "message {} posted", self.0.id)
    }

    fn json(&self) -> Vec<serde_json::Value> {
        vec![json!({"id": self.0.id, "posted_at": when(&self.0.posted_at)})]
    }
}

/// One event of the consultation watch.
struct Event<'a>(&'a pb::WatchConsultationsResponse);

impl Render for Event<'_> {
    fn table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let event = self.0;
        writeln!(
            out,
            "rev {:>5}  {}  {:<15} {:<12} {:<10} by {:<22} {}{}",
            event.revision,
            when(&event.at),
            short(event.kind().as_str_name(), "CONSULTATION_EVENT_KIND_"),
            short(event.state().as_str_name(), "CONSULTATION_STATE_"),
            event.case_reference,
            if event.actor_organisation_id.is_empty() {
                "the hub"
            } else {
                &event.actor_organisation_id
            },
            event.consultation_id,
            if event.overdue { "  OVERDUE" } else { "" },
        )
    }

    fn json(&self) -> Vec<serde_json::Value> {
        let event = self.0;
        vec![
            json!({"revision": event.revision, "consultation_id": event.consultation_id, "kind": event.kind().as_str_name(),
                   "state": event.state().as_str_name(), "actor": event.actor_organisation_id, "at": when(&event.at),
                   "case_reference": event.case_reference, "overdue": event.overdue}),
        ]
    }
}

/// A page of the audit trail, a record per line.
struct Trail(Vec<pb::AuditEvent>);

impl Render for Trail {
    fn table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        for e in &self.0 {
            writeln!(
                out,
                "{:>6}  {}  {:<28} {:<8} {:<8} {:<24} {:<16} {}",
                e.seq,
                when(&e.at),
                e.event_type,
                short(e.action().as_str_name(), "AUDIT_ACTION_"),
                short(e.outcome().as_str_name(), "AUDIT_OUTCOME_"),
                e.organisation_id,
                e.person,
                e.consultation_id
            )?;
        }
        Ok(())
    }

    fn json(&self) -> Vec<serde_json::Value> {
        self.0
            .iter()
            .map(|e| {
                json!({"seq": e.seq, "at": when(&e.at), "event_type": e.event_type, "organisation_id": e.organisation_id,
                       "person": e.person, "certificate_identity": e.certificate_identity, "consultation_id": e.consultation_id,
                       "action": e.action().as_str_name(), "outcome": e.outcome().as_str_name(), "hash": e.hash})
            })
            .collect()
    }
}

impl Render for pb::VerifyAuditChainResponse {
    fn table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        if self.intact {
            writeln!(
                out,
                "audit chain intact: {} records verified",
                self.records_checked
            )
        } else {
            writeln!(
                out,
                "audit chain BROKEN at record {}: {} ({} records verified before it)",
                self.broken_at_seq, self.problem, self.records_checked
            )
        }
    }

    fn json(&self) -> Vec<serde_json::Value> {
        vec![
            json!({"intact": self.intact, "records_checked": self.records_checked, "broken_at_seq": self.broken_at_seq, "problem": self.problem}),
        ]
    }
}

async fn watch(
    client: &SpilClient,
    person: &str,
    from: u64,
    limit: Option<usize>,
    format: Format,
) -> anyhow::Result<()> {
    let mut limit = crate::follow::Limit::new(limit);
    crate::follow::follow(
        from,
        |last| async move {
            client
                .consultations(person)
                .watch_consultations(pb::WatchConsultationsRequest {
                    start_revision: last,
                    ..Default::default()
                })
                .await
                .map(tonic::Response::into_inner)
        },
        |event| {
            show(format, &Event(event))?;
            Ok(limit.go_on())
        },
    )
    .await
}

pub async fn audit(
    client: &SpilClient,
    command: &AuditCommand,
    format: Format,
) -> anyhow::Result<()> {
    match command {
        AuditCommand::List {
            consultation,
            organisation,
            since,
            until,
        } => {
            let mut request = pb::ListAuditEventsRequest {
                consultation_id: consultation.clone().unwrap_or_default(),
                organisation_id: organisation.clone().unwrap_or_default(),
                start_time: since.map(super::timestamp),
                end_time: until.map(super::timestamp),
                page_size: 1000,
                page_token: String::new(),
            };
            loop {
                let page = client
                    .audit()
                    .list_audit_events(request.clone())
                    .await?
                    .into_inner();
                show(format, &Trail(page.events))?;
                if page.next_page_token.is_empty() {
                    break;
                }
                request.page_token = page.next_page_token;
            }
        }
        AuditCommand::Verify => {
            let report = client
                .audit()
                .verify_audit_chain(pb::VerifyAuditChainRequest {})
                .await?
                .into_inner();
            show(format, &report)?;
            anyhow::ensure!(report.intact, "the audit chain is broken");
        }
    }
    Ok(())
}

/// The person acting, from `--person` or `SPIL_PERSON`.
pub fn person(given: &Option<String>) -> anyhow::Result<String> {
    given.clone().context(
        "name yourself with --person or SPIL_PERSON (a name or staff id; it goes into the audit trail)",
    )
}
