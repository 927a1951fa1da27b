//! The letters a case produces — the acknowledgement of an application, the decision
//! (approval or refusal) and the supply contract offered for signing — worded by templates the
//! utility edits and set as PDF by [`ebok_pdf::letter`].
//!
//! A template is a title and a body of plain text: paragraphs separated by an empty line, a
//! paragraph starting with `## ` a section title, and placeholders in braces (`{numer_sprawy}`)
//! from [`PLACEHOLDERS`], filled from the case. [`check`] refuses a template with an unknown
//! placeholder or a stray brace before it is stored, so a letter never goes out with `{…}` in
//! it. Without the utility's own wording the built-in one ([`builtin`]) is used.
//!
//! The facts every letter of a kind must carry are not left to the template: the
//! acknowledgement lists the answers and the files received, the contract the data it was
//! concluded on (from the application), each letter its case number and date.
//!
//! [`issue`] renders a case's letter, stores it ([`crate::documents`]) and returns it, inside
//! the transaction of the step that produced it.

use std::collections::BTreeMap;

use chrono::{NaiveDate, Utc};
use ebok_common::polish;
use ebok_pdf::letter::{Letter, Paragraph, letter_pdf};
use serde::Serialize;
use sqlx::PgConnection;

use crate::documents::{self, Document};
use crate::form::{Answers, FieldError, FormDefinition};

/// Which letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LetterKind {
    Acknowledgement,
    Approval,
    Refusal,
    Contract,
}

impl LetterKind {
    pub const ALL: [LetterKind; 4] = [
        LetterKind::Acknowledgement,
        LetterKind::Approval,
        LetterKind::Refusal,
        LetterKind::Contract,
    ];

    /// Its name in `case_templates.kind` and in forms.
    pub fn code(self) -> &'static str {
        match self {
            LetterKind::Acknowledgement => "acknowledgement",
            LetterKind::Approval => "approval",
            LetterKind::Refusal => "refusal",
            LetterKind::Contract => "contract",
        }
    }

    pub fn from_code(code: &str) -> Option<LetterKind> {
        LetterKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// What staff read.
    pub fn polish(self) -> &'static str {
        match self {
            LetterKind::Acknowledgement => "Potwierdzenie złożenia wniosku",
            LetterKind::Approval => "Decyzja pozytywna",
            LetterKind::Refusal => "Decyzja odmowna",
            LetterKind::Contract => "Umowa do podpisu",
        }
    }

    /// The kind of document it is in a case's history (`case_events.document_kind`).
    pub fn document_kind(self) -> &'static str {
        match self {
            LetterKind::Acknowledgement => "acknowledgement",
            LetterKind::Approval | LetterKind::Refusal => "decision",
            LetterKind::Contract => "contract",
        }
    }
}

/// What a resident reads a document kind of the history as.
pub fn document_kind_polish(kind: &str) -> &'static str {
    match kind {
        "acknowledgement" => "Potwierdzenie złożenia wniosku",
        "decision" => "Decyzja",
        "contract" => "Umowa",
        _ => "Dokument",
    }
}

/// The file name a document of a case is downloaded as: `decyzja-WTP-2026-000123.pdf`.
pub fn file_name(kind: &str, number: &str) -> String {
    let stem = match kind {
        "acknowledgement" => "potwierdzenie",
        "decision" => "decyzja",
        "contract" => "umowa",
        _ => "dokument",
    };
    format!("{stem}-{}.pdf", number.replace('/', "-"))
}

/// A letter's wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub title: String,
    pub body: String,
}

/// The placeholders a template may use, and what each is filled with (Polish, for the editor).
pub const PLACEHOLDERS: &[(&str, &str)] = &[
    ("przedsiebiorstwo", "nazwa przedsiębiorstwa"),
    ("numer_sprawy", "numer sprawy, np. WTP/2026/000123"),
    (
        "rodzaj_wniosku",
        "rodzaj wniosku, np. „Warunki techniczne przyłączenia”",
    ),
    ("wnioskodawca", "imię i nazwisko lub nazwa wnioskodawcy"),
    ("data_zlozenia", "dzień złożenia wniosku"),
    ("termin", "termin załatwienia sprawy"),
    (
        "uzasadnienie",
        "uzasadnienie decyzji wpisane przez pracownika",
    ),
    ("termin_odwolania", "ostatni dzień na odwołanie od decyzji"),
    (
        "pouczenie",
        "pouczenie: jak i do kiedy można się odwołać, albo że decyzja jest ostateczna",
    ),
    (
        "adres_punktu",
        "adres punktu poboru lub nieruchomości z wniosku",
    ),
    (
        "uslugi",
        "usługi z wniosku (dostawa wody, odprowadzanie ścieków)",
    ),
    ("od_kiedy", "dzień, od którego umowa ma obowiązywać"),
    ("data", "dzień wystawienia pisma"),
];

/// The built-in wording of `kind`.
pub fn builtin(kind: LetterKind) -> Template {
    let (title, body) = match kind {
        LetterKind::Acknowledgement => (
            "Potwierdzenie złożenia wniosku",
            "{przedsiebiorstwo} potwierdza, że {data_zlozenia} w Elektronicznym Biurze Obsługi \
             Klienta złożono wniosek „{rodzaj_wniosku}”. Sprawa otrzymała numer {numer_sprawy}; \
             prosimy podawać go w korespondencji.\n\n\
             Sprawę załatwimy do {termin}. O każdej zmianie jej stanu poinformujemy w eBOK, a po \
             wyrażeniu zgody także e-mailem i w aplikacji mobilnej. Stan sprawy można sprawdzić \
             bez logowania na stronie „Status sprawy”, podając jej numer oraz PESEL lub NIP.",
        ),
        LetterKind::Approval => (
            "Decyzja w sprawie {numer_sprawy}",
            "Po rozpatrzeniu wniosku „{rodzaj_wniosku}” złożonego {data_zlozenia} przez: \
             {wnioskodawca}, {przedsiebiorstwo} uwzględnia wniosek.\n\n\
             ## Uzasadnienie\n\n{uzasadnienie}\n\n\
             ## Pouczenie\n\n{pouczenie}",
        ),
        LetterKind::Refusal => (
            "Decyzja w sprawie {numer_sprawy}",
            "Po rozpatrzeniu wniosku „{rodzaj_wniosku}” złożonego {data_zlozenia} przez: \
             {wnioskodawca}, {przedsiebiorstwo} odmawia jego uwzględnienia.\n\n\
             ## Uzasadnienie\n\n{uzasadnienie}\n\n\
             ## Pouczenie\n\n{pouczenie}",
        ),
        LetterKind::Contract => (
            "Umowa o zaopatrzenie w wodę i odprowadzanie ścieków",
            "zawarta pomiędzy {przedsiebiorstwo}, zwanym dalej Przedsiębiorstwem, a \
             {wnioskodawca}, zwanym dalej Odbiorcą.\n\n\
             ## § 1. Przedmiot umowy\n\n\
             Przedsiębiorstwo zobowiązuje się świadczyć Odbiorcy usługi w zakresie: {uslugi}, w \
             punkcie poboru: {adres_punktu}, od {od_kiedy}, a Odbiorca zobowiązuje się płacić za \
             nie w terminie.\n\n\
             ## § 2. Rozliczenia\n\n\
             Ilość dostarczonej wody ustala się na podstawie wskazań wodomierza głównego, a ilość \
             odprowadzonych ścieków jako równą ilości pobranej wody, chyba że zainstalowano \
             urządzenie pomiarowe. Należności rozlicza się według taryfy obowiązującej w dniu \
             świadczenia usługi, fakturami udostępnianymi w eBOK.\n\n\
             ## § 3. Postanowienia końcowe\n\n\
             Umowę zawiera się na czas nieokreślony. W sprawach nieuregulowanych stosuje się \
             ustawę z dnia 7 czerwca 2001 r. o zbiorowym zaopatrzeniu w wodę i zbiorowym \
             odprowadzaniu ścieków oraz regulamin świadczenia usług. Odbiorca podpisuje umowę \
             w eBOK; podpis obejmuje skrót SHA-256 tego dokumentu, a umowa wiąże od jej \
             zawarcia przez Przedsiębiorstwo.",
        ),
    };
    Template {
        title: title.to_string(),
        body: body.to_string(),
    }
}

/// The placeholders in `text`, or the first fault (an unclosed or stray brace).
fn placeholders(text: &str) -> Result<Vec<&str>, String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err("Zamykający nawias „}” bez otwierającego.".into());
        }
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err("Nawias „{” nie jest zamknięty.".into());
        };
        let name = &after[..close];
        if name.contains('{') {
            return Err("Nawias „{” nie jest zamknięty.".into());
        }
        found.push(name);
        rest = &after[close + 1..];
    }
    Ok(found)
}

/// Whether `template` can be used: a title and a body, and only known placeholders. The faults
/// at `title` or `body`, in Polish.
pub fn check(template: &Template) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    for (key, text, max) in [
        ("title", &template.title, 200),
        ("body", &template.body, 20_000),
    ] {
        if text.trim().is_empty() {
            errors.push(FieldError::new(key, "Wpisz treść."));
            continue;
        }
        if text.chars().count() > max {
            errors.push(FieldError::new(key, format!("Najwyżej {max} znaków.")));
            continue;
        }
        match placeholders(text) {
            Err(message) => errors.push(FieldError::new(key, message)),
            Ok(names) => {
                let unknown: Vec<&str> = names
                    .into_iter()
                    .filter(|n| !PLACEHOLDERS.iter().any(|(p, _)| p == n))
                    .collect();
                if !unknown.is_empty() {
                    errors.push(FieldError::new(
                        key,
                        format!(
                            "Nieznane pola: {}. Dostępne są tylko pola z listy obok.",
                            unknown
                                .iter()
                                .map(|n| format!("{{{n}}}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// `text` with its placeholders filled; one without a value reads "—".
pub fn fill(text: &str, values: &BTreeMap<&str, String>) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let name = &after[..close];
                out.push_str(values.get(name).map_or("—", String::as_str));
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The body's paragraphs: split at empty lines, `## ` starting a section title.
fn paragraphs(body: &str) -> Vec<Paragraph> {
    body.replace("\r\n", "\n")
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| match p.strip_prefix("## ") {
            Some(heading) => Paragraph::Heading(heading.trim().to_string()),
            None => Paragraph::Text(p.split_whitespace().collect::<Vec<_>>().join(" ")),
        })
        .collect()
}

/// What a letter is filled from.
#[derive(Debug, Clone)]
pub struct Context {
    /// The utility: its name first, then its address, NIP, contact.
    pub sender: Vec<String>,
    pub recipient: Vec<String>,
    pub number: String,
    pub type_name: String,
    pub submitted_on: NaiveDate,
    pub due: Option<NaiveDate>,
    pub note: Option<String>,
    pub appeal_until: Option<NaiveDate>,
    pub form: FormDefinition,
    pub answers: Answers,
    /// The files received (file names), for the acknowledgement.
    pub files: Vec<String>,
    pub today: NaiveDate,
    /// The place the letters are dated from (the utility's town).
    pub place: String,
}

impl Context {
    fn values(&self) -> BTreeMap<&'static str, String> {
        let answer = |key: &str| {
            self.answers.get(key).map(|v| {
                self.form
                    .fields
                    .iter()
                    .find(|f| f.key == key)
                    .map_or_else(|| v.clone(), |f| f.kind.read(v))
            })
        };
        let mut v = BTreeMap::new();
        v.insert(
            "przedsiebiorstwo",
            self.sender.first().cloned().unwrap_or_default(),
        );
        v.insert("numer_sprawy", self.number.clone());
        v.insert("rodzaj_wniosku", self.type_name.clone());
        v.insert(
            "wnioskodawca",
            answer("applicant_name")
                .or_else(|| self.recipient.first().cloned())
                .unwrap_or_default(),
        );
        v.insert("data_zlozenia", polish::day(self.submitted_on));
        if let Some(due) = self.due {
            v.insert("termin", polish::day(due));
        }
        v.insert(
            "uzasadnienie",
            self.note
                .clone()
                .unwrap_or_else(|| "Wniosek spełnia wymagane warunki.".into()),
        );
        v.insert(
            "pouczenie",
            match self.appeal_until {
                Some(until) => format!(
                    "Od tej decyzji przysługuje odwołanie do kierownictwa przedsiębiorstwa w \
                     terminie 14 dni, to jest do {}. Odwołanie można złożyć w eBOK, na stronie \
                     sprawy.",
                    polish::day(until)
                ),
                None => "Decyzja jest ostateczna: wydano ją po rozpatrzeniu odwołania.".into(),
            },
        );
        if let Some(until) = self.appeal_until {
            v.insert("termin_odwolania", polish::day(until));
        }
        if let Some(address) = answer("supply_address").or_else(|| answer("property_address")) {
            v.insert("adres_punktu", address);
        }
        if let Some(services) = answer("services") {
            v.insert("uslugi", polish::uncapitalized(&services));
        }
        if let Some(from) = answer("start_on") {
            v.insert("od_kiedy", from);
        }
        v.insert("data", polish::day(self.today));
        v
    }
}

/// An example case of a utility (`sender`, `place`) to preview a template with: a
/// supply contract of a made-up resident, every placeholder filled.
pub fn example(sender: Vec<String>, place: &str, today: NaiveDate) -> Context {
    let supply = crate::builtin::application_types()
        .into_iter()
        .find(|t| t.code == "supply_contract")
        .expect("the supply contract is built in");
    let answers: Answers = [
        ("applicant_kind", "person"),
        ("applicant_name", "Jan Przykładowy"),
        ("pesel", "44051401359"),
        ("street", "Polna 1"),
        ("postal_code", "00-001"),
        ("city", place),
        ("supply_address", "Polna 3"),
        ("services", "water,sewage"),
        ("legal_title_kind", "ownership"),
        ("start_on", &(today + chrono::Days::new(14)).to_string()),
        ("email", "jan@example.pl"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    Context {
        sender,
        recipient: vec![
            "Jan Przykładowy".into(),
            "Polna 1".into(),
            format!("00-001 {place}"),
        ],
        number: format!("UMW/{}/000123", today.format("%Y")),
        type_name: supply.name.to_string(),
        submitted_on: today,
        due: Some(today + chrono::Days::new(30)),
        note: Some("Tu znajdzie się uzasadnienie wpisane przez pracownika.".into()),
        appeal_until: Some(today + chrono::Days::new(14)),
        form: supply.form,
        answers,
        files: vec!["akt-notarialny.pdf".into(), "dowod.jpg".into()],
        today,
        place: place.to_string(),
    }
}

/// Letter `kind` of a case, worded by `template`.
pub fn letter(kind: LetterKind, template: &Template, ctx: &Context) -> Letter {
    let values = ctx.values();
    let mut body = paragraphs(&fill(&template.body, &values));
    match kind {
        LetterKind::Acknowledgement => {
            body.push(Paragraph::Heading("Treść wniosku".into()));
            body.push(Paragraph::Fields(ctx.form.read(&ctx.answers)));
            body.push(Paragraph::Heading("Załączniki".into()));
            body.push(if ctx.files.is_empty() {
                Paragraph::Text("Brak.".into())
            } else {
                Paragraph::Fields(
                    ctx.files
                        .iter()
                        .enumerate()
                        .map(|(i, f)| (format!("{}.", i + 1), f.clone()))
                        .collect(),
                )
            });
        }
        LetterKind::Contract => {
            body.push(Paragraph::Heading("Dane z wniosku".into()));
            body.push(Paragraph::Fields(ctx.form.read(&ctx.answers)));
        }
        LetterKind::Approval | LetterKind::Refusal => {}
    }
    let utility = ctx.sender.first().cloned().unwrap_or_default();
    Letter {
        sender: ctx.sender.clone(),
        recipient: ctx.recipient.clone(),
        place_and_date: format!("{}, {} r.", ctx.place, polish::day(ctx.today)),
        reference: Some(format!("Sprawa nr {}", ctx.number)),
        title: fill(&template.title, &values),
        body,
        signature: match kind {
            LetterKind::Contract => vec![
                "Za Przedsiębiorstwo:".into(),
                utility.clone(),
                "Odbiorca: podpis elektroniczny w eBOK".into(),
            ],
            _ => vec![
                "Z poważaniem".into(),
                utility.clone(),
                "Pismo wygenerowane w eBOK, bez podpisu odręcznego".into(),
            ],
        },
        footer: format!(
            "{utility} · sprawa {} · zgodność dokumentu sprawdzisz w eBOK przedsiębiorstwa, \
             na stronie „Weryfikacja dokumentu”",
            ctx.number
        ),
        created: Utc::now(),
        author: utility,
    }
}

/// Utility `utility_id`'s wording of `kind`: its own, or the built-in one.
pub async fn template(
    conn: &mut PgConnection,
    utility_id: i64,
    kind: LetterKind,
) -> sqlx::Result<Template> {
    let own = sqlx::query!(
        "SELECT title, body FROM case_templates WHERE utility_id = $1 AND kind = $2",
        utility_id,
        kind.code()
    )
    .fetch_optional(conn)
    .await?;
    Ok(own.map_or_else(
        || builtin(kind),
        |r| Template {
            title: r.title,
            body: r.body,
        },
    ))
}

/// Whether utility `utility_id` words `kind` itself.
pub async fn is_own(
    conn: &mut PgConnection,
    utility_id: i64,
    kind: LetterKind,
) -> sqlx::Result<bool> {
    Ok(sqlx::query_scalar!(
        r#"SELECT true AS "own!" FROM case_templates WHERE utility_id = $1 AND kind = $2"#,
        utility_id,
        kind.code()
    )
    .fetch_optional(conn)
    .await?
    .is_some())
}

/// Why a template was not stored.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("{} faults", .0.len())]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Stores utility `utility_id`'s wording of `kind` (checked first), by staff `by`; `None`
/// goes back to the built-in wording.
pub async fn set_template(
    conn: &mut PgConnection,
    utility_id: i64,
    kind: LetterKind,
    template: Option<&Template>,
    by: i64,
) -> Result<(), TemplateError> {
    match template {
        Some(t) => {
            check(t).map_err(TemplateError::Invalid)?;
            sqlx::query!(
                r#"INSERT INTO case_templates (utility_id, kind, title, body, updated_by)
                   VALUES ($1, $2, $3, $4, $5)
                   ON CONFLICT (utility_id, kind) DO UPDATE
                   SET title = excluded.title, body = excluded.body,
                       updated_by = excluded.updated_by, updated_at = now()"#,
                utility_id,
                kind.code(),
                t.title.trim(),
                t.body.trim(),
                by
            )
            .execute(conn)
            .await?;
        }
        None => {
            sqlx::query!(
                "DELETE FROM case_templates WHERE utility_id = $1 AND kind = $2",
                utility_id,
                kind.code()
            )
            .execute(conn)
            .await?;
        }
    }
    Ok(())
}

/// The case facts a letter needs beyond its context's defaults.
#[derive(Debug, Clone, Default)]
pub struct Issue<'a> {
    pub note: Option<&'a str>,
    pub due: Option<NaiveDate>,
    pub appeal_until: Option<NaiveDate>,
}

/// Renders letter `kind` of case `case_id` (utility `utility_id`, submitted, numbered) as it
/// stands in the caller's transaction, and stores it; the document.
pub async fn issue(
    conn: &mut PgConnection,
    utility_id: i64,
    case_id: i64,
    kind: LetterKind,
    facts: &Issue<'_>,
    today: NaiveDate,
) -> sqlx::Result<Document> {
    let r = sqlx::query!(
        r#"SELECT u.name AS utility_name, u.nip AS utility_nip, u.street AS u_street,
                  u.building_no AS u_building, u.postal_code AS u_postal, u.city AS u_city,
                  u.email AS u_email, u.phone AS u_phone, u.municipality,
                  c.number AS "number!", t.name AS type_name, c.answers, c.form AS "form!",
                  (c.submitted_at AT TIME ZONE 'Europe/Warsaw')::date AS "submitted_on!",
                  a.display_name
           FROM cases c
           JOIN application_types t ON t.id = c.type_id
           JOIN utilities u ON u.id = c.utility_id
           JOIN user_accounts a ON a.id = c.account_id
           WHERE c.utility_id = $1 AND c.id = $2"#,
        utility_id,
        case_id
    )
    .fetch_one(&mut *conn)
    .await?;
    let decode = |e: serde_json::Error| sqlx::Error::Decode(Box::new(e));
    let answers: Answers = serde_json::from_value(r.answers).map_err(decode)?;
    let form: FormDefinition = serde_json::from_value(r.form).map_err(decode)?;
    let files = sqlx::query_scalar!(
        "SELECT file_name FROM case_attachments WHERE case_id = $1 ORDER BY id",
        case_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut sender = vec![r.utility_name];
    if let (Some(building), Some(city)) = (r.u_building.as_deref(), r.u_city.as_deref()) {
        let (first, second) = polish::address_lines(
            r.u_street.as_deref(),
            building,
            None,
            r.u_postal.as_deref(),
            city,
            None,
        );
        sender.extend([first, second]);
    }
    if let Some(nip) = r.utility_nip {
        sender.push(format!("NIP {nip}"));
    }
    sender.extend(r.u_phone.map(|p| format!("tel. {p}")));
    sender.extend(r.u_email);
    let mut recipient = vec![
        answers
            .get("applicant_name")
            .cloned()
            .unwrap_or(r.display_name),
    ];
    if let Some(street) = answers.get("street") {
        recipient.push(street.clone());
        recipient.push(
            [answers.get("postal_code"), answers.get("city")]
                .into_iter()
                .flatten()
                .cloned()
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    let ctx = Context {
        sender,
        recipient,
        number: r.number,
        type_name: r.type_name,
        submitted_on: r.submitted_on,
        due: facts.due,
        note: facts.note.map(str::to_string),
        appeal_until: facts.appeal_until,
        form,
        answers,
        files,
        today,
        place: r.u_city.unwrap_or(r.municipality),
    };
    let template = template(conn, utility_id, kind).await?;
    let pdf = letter_pdf(&letter(kind, &template, &ctx));
    documents::store(conn, utility_id, &pdf, "application/pdf").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_templates_pass_their_own_check() {
        for kind in LetterKind::ALL {
            assert_eq!(check(&builtin(kind)), Ok(()), "{kind:?}");
        }
    }

    #[test]
    fn unknown_placeholders_and_stray_braces_are_named() {
        let t = |title: &str, body: &str| Template {
            title: title.into(),
            body: body.into(),
        };
        let errors = check(&t("Decyzja {numer}", "Treść {numer_sprawy} {kwota}")).unwrap_err();
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].key, "title");
        assert!(
            errors[0].message.contains("{numer}"),
            "{}",
            errors[0].message
        );
        assert!(
            errors[1].message.contains("{kwota}"),
            "{}",
            errors[1].message
        );
        assert!(!errors[1].message.contains("numer_sprawy"));
        for body in ["a { b", "a } b", "a {b {c}"] {
            let errors = check(&t("Tytuł", body)).unwrap_err();
            assert_eq!(errors[0].key, "body", "{body}");
        }
        assert_eq!(
            check(&t(" ", "x"))
                .unwrap_err()
                .first()
                .map(|e| e.key.as_str()),
            Some("title")
        );
    }

    #[test]
    fn placeholders_are_filled_and_missing_ones_read_as_a_dash() {
        let values = BTreeMap::from([("numer_sprawy", "WTP/2026/000001".to_string())]);
        assert_eq!(
            fill("Sprawa {numer_sprawy}, termin {termin}.", &values),
            "Sprawa WTP/2026/000001, termin —."
        );
    }

    #[test]
    fn a_body_splits_into_paragraphs_and_section_titles() {
        let p = paragraphs("Pierwszy\nwiersz.\n\n## § 1. Tytuł\n\r\nDrugi.\n\n\n");
        assert_eq!(p.len(), 3);
        assert!(matches!(&p[0], Paragraph::Text(t) if t == "Pierwszy wiersz."));
        assert!(matches!(&p[1], Paragraph::Heading(t) if t == "§ 1. Tytuł"));
        assert!(matches!(&p[2], Paragraph::Text(t) if t == "Drugi."));
    }
}
