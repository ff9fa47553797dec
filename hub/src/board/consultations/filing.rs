//! Filing a consultation on the board: the form, every wrong field reported at once with what was typed kept.

use super::*;

/// The filing form as typed.
#[derive(Default)]
pub(super) struct FilingForm {
    request_id: String,
    addressee: String,
    municipality: String,
    age: String,
    case_reference: String,
    domains: Vec<ProblemDomain>,
    question_type: Option<QuestionType>,
    urgency: Option<Urgency>,
    question: String,
    consent: bool,
}

impl FilingForm {
    fn of(fields: &[(String, String)]) -> Self {
        Self {
            request_id: field(fields, "request_id").to_owned(),
            addressee: field(fields, "addressee_id").to_owned(),
            municipality: field(fields, "municipality_code").trim().to_uppercase(),
            age: field(fields, "age_years").trim().to_owned(),
            case_reference: field(fields, "case_reference").trim().to_owned(),
            domains: fields
                .iter()
                .filter(|(name, _)| name == "problem_domains")
                .filter_map(|(_, value)| chosen(&ProblemDomain::ALL, value))
                .collect(),
            question_type: chosen(&QuestionType::ALL, field(fields, "question_type")),
            urgency: chosen(&Urgency::ALL, field(fields, "urgency")),
            question: field(fields, "question").to_owned(),
            consent: field(fields, "consent_recorded") == "ja",
        }
    }

    /// The consultation to file, or every field that is wrong.
    fn parse(&self) -> Result<NewConsultation, AppError> {
        let mut wrong = Vec::new();
        let mut check = |name: &str, result: Result<(), String>| {
            if let Err(description) = result {
                wrong.push(FieldViolation::new(name, description));
            }
        };
        let request_id = RequestId::parse(&self.request_id);
        check(
            "request_id",
            request_id.as_ref().map(|_| ()).map_err(|e| e.0.clone()),
        );
        let addressee = OrgId::parse(&self.addressee);
        check(
            "addressee_id",
            addressee.as_ref().map(|_| ()).map_err(|e| e.0.clone()),
        );
        let municipality = MunicipalityCode::parse(&self.municipality);
        check(
            "municipality_code",
            municipality.as_ref().map(|_| ()).map_err(|e| e.0.clone()),
        );
        let age = self
            .age
            .parse::<u32>()
            .map_err(|_| "must be a whole number of years".to_owned())
            .and_then(|years| AgeYears::new(years).map_err(|e| e.0));
        check("age_years", age.as_ref().map(|_| ()).map_err(Clone::clone));
        let case_reference = CaseReference::parse(&self.case_reference);
        check(
            "case_reference",
            case_reference.as_ref().map(|_| ()).map_err(|e| e.0.clone()),
        );
        let domains = ProblemDomains::new(self.domains.iter().copied());
        check(
            "problem_domains",
            domains.as_ref().map(|_| ()).map_err(|e| e.0.clone()),
        );
        check(
            "question_type",
            self.question_type
                .map(|_| ())
                .ok_or_else(|| "is required".to_owned()),
        );
        check(
            "urgency",
            self.urgency
                .map(|_| ())
                .ok_or_else(|| "is required".to_owned()),
        );
        let question = FreeText::parse(&self.question);
        check(
            "question",
            question.as_ref().map(|_| ()).map_err(|e| e.0.clone()),
        );
        if !self.consent {
            check(
                "consent_recorded",
                Err(
                    "the family's consent to share this case must be recorded before filing".into(),
                ),
            );
        }
        match (
            request_id,
            addressee,
            municipality,
            age,
            case_reference,
            domains,
            self.question_type,
            self.urgency,
            question,
        ) {
            (
                Ok(request_id),
                Ok(addressee),
                Ok(municipality),
                Ok(age),
                Ok(case_reference),
                Ok(problem_domains),
                Some(question_type),
                Some(urgency),
                Ok(question),
            ) if wrong.is_empty() => Ok(NewConsultation {
                request_id,
                addressee,
                content: CaseContent {
                    case_reference,
                    age,
                    question,
                },
                municipality,
                problem_domains,
                question_type,
                urgency,
            }),
            _ => Err(AppError::Invalid(wrong)),
        }
    }
}

#[derive(Template)]
#[template(path = "board/consultation_new.html")]
pub(super) struct NewView<'a> {
    t: &'static Text,
    title: &'static str,
    org_name: &'a str,
    person: &'a str,
    csrf: &'a str,
    form: FilingForm,
    addressees: Vec<Pick>,
    domains: Vec<Pick>,
    question_types: Vec<Pick>,
    urgencies: Vec<Pick>,
    errors: FieldErrors,
    error: Option<&'static str>,
}

impl NewView<'_> {
    fn error_of(&self, field: &str) -> Option<&'static str> {
        self.errors.get(field)
    }
}

pub(super) const FILING_FIELDS: [&str; 9] = [
    "addressee_id",
    "municipality_code",
    "age_years",
    "case_reference",
    "problem_domains",
    "question_type",
    "urgency",
    "question",
    "consent_recorded",
];

pub(super) fn new_page(
    board: &Board,
    visitor: &Visitor,
    form: FilingForm,
    error: Option<&AppError>,
) -> Response {
    let person = visitor.person.clone().unwrap_or_default();
    let directory = board.app.directory.directory();
    let mut addressees: Vec<Pick> = directory
        .organisations
        .values()
        .filter(|org| org.id != visitor.caller.org.id && consultation::may_be_addressed(org))
        .map(|org| Pick {
            value: org.id.as_str().to_owned(),
            label: org.name.clone(),
            selected: org.id.as_str() == form.addressee,
        })
        .collect();
    addressees.sort_by(|a, b| a.label.cmp(&b.label));
    let errors = error.map(FieldErrors::of).unwrap_or_default();
    let page_error = match error {
        Some(AppError::Invalid(_)) => errors.elsewhere(&FILING_FIELDS),
        Some(other) => Some(refusal_words(other).1),
        None => None,
    };
    let status = match error {
        Some(error) => refusal_words(error).0,
        None => StatusCode::OK,
    };
    let csrf = board.app.form_token(&visitor.binding());
    let view = NewView {
        t: &NL,
        title: NL.new_consultation,
        org_name: &visitor.caller.org.name,
        person: &person,
        csrf: &csrf,
        addressees,
        domains: picks(&ProblemDomain::ALL, &form.domains, nl::problem_domain),
        question_types: picks(
            &QuestionType::ALL,
            form.question_type.as_slice(),
            nl::question_type,
        ),
        urgencies: picks(&Urgency::ALL, form.urgency.as_slice(), nl::urgency),
        form,
        errors,
        error: page_error,
    };
    page(visitor, status, view.render())
}

/// `GET /board/consultaties/nieuw`: the filing form.
pub async fn new_form(State(board): State<Board>, visitor: Visitor, parts: Parts) -> Response {
    if visitor.person.is_none() {
        return ask_name(&parts);
    }
    let form = FilingForm {
        request_id: new_request_id(),
        ..FilingForm::default()
    };
    new_page(&board, &visitor, form, None)
}

/// `POST /board/consultaties/nieuw`: files it; on a refusal the form comes
/// back as typed, the wrong fields marked.
pub async fn file(State(board): State<Board>, visitor: Visitor, body: Bytes) -> Response {
    let fields = match posted(&board, &visitor, &body) {
        Ok(fields) => fields,
        Err(refusal) => return *refusal,
    };
    let form = FilingForm::of(&fields);
    let filed = board
        .app
        .consultations
        .file_consultation(&actor(&visitor), form.parse())
        .await;
    match filed {
        Ok(seen) => Redirect::to(&format!("/board/consultaties/{}", seen.value.id)).into_response(),
        Err(error) => new_page(&board, &visitor, form, Some(&error)),
    }
}
