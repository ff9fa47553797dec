//! Consultation cycles: file, accept, start, advise; audited writes each.

use crate::*;

impl Bench {
    /// File → accept → start → advise cycles: four audited writes each,
    /// the crisis service filing and the RET answering.
    pub(crate) async fn consultations(&self) -> anyhow::Result<Report> {
        const PERSON: &str = "spil-bench";
        let filers = self
            .clients("crisisdienst-zkh", self.args.connections)
            .await?;
        let team = Arc::new(
            self.clients("ret-zkh-ijmond", self.args.connections)
                .await?,
        );
        let run = uuid::Uuid::new_v4().simple().to_string();
        let mut report = self
            .timed("consultation cycle (4 calls)", filers, move |filer, n| {
                let team = Arc::clone(&team);
                let request_id = format!("bench-{run}-{n}");
                async move {
                    let answerer = team[n as usize % team.len()].consultations(PERSON);
                    let cycle = async {
                        let id = filer
                            .consultations(PERSON)
                            .file_consultation(pb::FileConsultationRequest {
                                request_id,
                                addressee_id: "ret-zkh-ijmond".into(),
                                case_reference: format!("BENCH-{n}"),
                                age_years: 14,
                                municipality_code: "GM0392".into(),
                                problem_domains: vec![pb::ProblemDomain::MentalHealth as i32],
                                question_type: pb::QuestionType::Advice as i32,
                                urgency: pb::Urgency::Routine as i32,
                                question: "Welke behandelrichting past?".into(),
                                consent_recorded: true,
                            })
                            .await?
                            .into_inner()
                            .consultation
                            .unwrap_or_default()
                            .id;
                        let mut answerer = answerer;
                        answerer
                            .accept_consultation(pb::AcceptConsultationRequest {
                                consultation_id: id.clone(),
                                ..Default::default()
                            })
                            .await?;
                        answerer
                            .start_work(pb::StartWorkRequest {
                                consultation_id: id.clone(),
                                ..Default::default()
                            })
                            .await?;
                        answerer
                            .give_advice(pb::GiveAdviceRequest {
                                consultation_id: id,
                                advice: "Ambulant traject met systeemtherapie".into(),
                                ..Default::default()
                            })
                            .await?;
                        Ok::<_, tonic::Status>(())
                    };
                    cycle.await.is_ok()
                }
            })
            .await;
        report.note = format!(
            "{} in flight; ok/s counts whole cycles",
            self.args.concurrency
        );
        Ok(report)
    }
}
