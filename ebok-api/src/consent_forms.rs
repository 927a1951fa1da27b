//! The wording of the consent forms (seed 004) and its version. A grant records the version the
//! resident agreed to; when the wording changes, the version changes, and the history shows who
//! agreed to which text.

use ebok_common::consent::ConsentKind;
use serde::Serialize;

/// One consent form.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct ConsentForm {
    /// `e_invoice` or `notifications`.
    #[schema(value_type = crate::api::names::ConsentKind)]
    pub kind: &'static str,
    pub version: &'static str,
    pub title: &'static str,
    /// The statement the resident agrees to, in Polish.
    pub statement: &'static str,
    /// What withdrawing means.
    pub withdrawal: &'static str,
}

pub const E_INVOICE: ConsentForm = ConsentForm {
    kind: "e_invoice",
    version: "2026-11",
    title: "Zgoda na fakturę elektroniczną",
    statement: "Wyrażam zgodę na otrzymywanie faktur i korekt faktur w formie elektronicznej, \
                udostępnianych w eBOK, z powiadomieniem na adres e-mail mojego konta \
                (art. 106n ustawy o podatku od towarów i usług). Papierowe faktury przestaną \
                być wysyłane od następnego okresu rozliczeniowego.",
    withdrawal: "Zgodę możesz wycofać w każdej chwili; od następnego okresu rozliczeniowego \
                 faktury wrócą do formy papierowej.",
};

pub const NOTIFICATIONS: ConsentForm = ConsentForm {
    kind: "notifications",
    version: "2026-11",
    title: "Zgoda na powiadomienia o awariach i wyłączeniach",
    statement: "Wyrażam zgodę na otrzymywanie od przedsiębiorstwa wodociągowego powiadomień o \
                awariach, planowanych pracach i przerwach w dostawie wody w mojej okolicy — w \
                aplikacji mobilnej, w eBOK i na adres e-mail, zgodnie z moimi ustawieniami \
                powiadomień.",
    withdrawal: "Po wycofaniu zgody nie będziemy wysyłać Ci powiadomień o awariach i \
                 wyłączeniach; komunikaty pozostaną dostępne na stronie przedsiębiorstwa.",
};

pub const ALL: [ConsentForm; 2] = [E_INVOICE, NOTIFICATIONS];

pub fn for_kind(kind: ConsentKind) -> ConsentForm {
    match kind {
        ConsentKind::EInvoice => E_INVOICE,
        ConsentKind::Notifications => NOTIFICATIONS,
    }
}
