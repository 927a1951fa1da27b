//! Paying by bank transfer: each customer's virtual account and the payment QR code banks'
//! apps read.
//!
//! **Virtual accounts.** A utility's bank gives it a sort code (8 digits: bank and branch) and
//! a client prefix; the 16 digits of account are the prefix followed by the customer's id,
//! zero-padded, and the NRB's two check digits make it valid (ISO 13616 mod 97,
//! [`Nrb::from_bank_and_account`]). Every transfer to it is the customer's, whatever its title
//! says, so a statement line is matched by its account first ([`customer_of`]).
//!
//! **The payment QR code** follows the Polish banks' recommendation for 2D codes (Związek
//! Banków Polskich, "Standard 2D", 2013): fields separated by `|` — the recipient's NIP, the
//! country `PL`, the 26-digit account, the amount in grosze (at least 6 digits), the recipient's
//! name (≤ 20 characters), the title (≤ 32), then three reserved fields left empty. Banking
//! apps fill a transfer from it.

use ebok_common::domain::Money;
use ebok_common::domain::identifiers::Nrb;
use sqlx::PgExecutor;

/// The longest client prefix: the customer's id keeps at least 10 digits.
pub const MAX_PREFIX: usize = 6;
const ACCOUNT_DIGITS: usize = 16;

/// The virtual account of customer `customer_id` under `sort_code` (8 digits) and `prefix`
/// (at most [`MAX_PREFIX`] digits); `None` when the settings or the id do not fit.
pub fn virtual_account(sort_code: &str, prefix: &str, customer_id: i64) -> Option<Nrb> {
    if prefix.len() > MAX_PREFIX || !prefix.bytes().all(|b| b.is_ascii_digit()) || customer_id < 0 {
        return None;
    }
    let width = ACCOUNT_DIGITS - prefix.len();
    let id = format!("{customer_id:0width$}");
    if id.len() != width {
        return None;
    }
    Nrb::from_bank_and_account(sort_code, &format!("{prefix}{id}")).ok()
}

/// Is `code` a bank sort code (numer rozliczeniowy): 8 digits whose last is the check digit
/// of the first seven, weighted 3, 9, 7, 1, 3, 9, 7 (mod 10)?
pub fn sort_code_ok(code: &str) -> bool {
    let b = code.as_bytes();
    if b.len() != 8 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = b[..7]
        .iter()
        .zip([3, 9, 7, 1, 3, 9, 7])
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    u32::from(b[7] - b'0') == (10 - sum % 10) % 10
}

/// The customer whose virtual account `account` is, under `sort_code` and `prefix`.
pub fn customer_of(account: &Nrb, sort_code: &str, prefix: &str) -> Option<i64> {
    let digits = account.as_str();
    let rest = digits[2..].strip_prefix(sort_code)?.strip_prefix(prefix)?;
    rest.parse().ok()
}

/// What the QR code says: the transfer of `amount` to `account` of `recipient` (NIP `nip`)
/// titled `title`.
pub fn zbp_qr_payload(
    nip: Option<&str>,
    account: &Nrb,
    amount: Money,
    recipient: &str,
    title: &str,
) -> String {
    let clean = |s: &str, max: usize| -> String {
        s.chars()
            .filter(|c| *c != '|' && !c.is_control())
            .take(max)
            .collect::<String>()
            .trim()
            .to_string()
    };
    format!(
        "{}|PL|{}|{:06}|{}|{}|||",
        clean(nip.unwrap_or_default(), 10),
        account.as_str(),
        amount.grosze().max(0),
        clean(recipient, 20),
        clean(title, 32),
    )
}

/// Where a customer transfers money, and to whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferDetails {
    /// The customer's virtual account, or the utility's own.
    pub account: Nrb,
    /// Whether `account` is the customer's own (no title needed to find the payer).
    pub virtual_account: bool,
    pub recipient: String,
    pub nip: Option<String>,
}

/// How customer `customer_id` of utility `utility_id` pays by transfer; `None` when the
/// utility has neither virtual accounts nor an account of its own.
pub async fn details(
    db: impl PgExecutor<'_>,
    utility_id: i64,
    customer_id: i64,
) -> sqlx::Result<Option<TransferDetails>> {
    let Some(u) = sqlx::query!(
        r#"SELECT name, nip, bank_account, virtual_account_sort_code, virtual_account_prefix
           FROM utilities WHERE id = $1"#,
        utility_id
    )
    .fetch_optional(db)
    .await?
    else {
        return Ok(None);
    };
    let own = u
        .virtual_account_sort_code
        .as_deref()
        .and_then(|code| virtual_account(code, &u.virtual_account_prefix, customer_id));
    let (account, virtual_account) = match own {
        Some(nrb) => (nrb, true),
        None => match u.bank_account.as_deref().and_then(|a| Nrb::parse(a).ok()) {
            Some(nrb) => (nrb, false),
            None => return Ok(None),
        },
    };
    Ok(Some(TransferDetails {
        account,
        virtual_account,
        recipient: u.name,
        nip: u.nip,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_codes_carry_their_check_digit() {
        // PKO BP's and mBank's head offices, and the demo's made-up branch.
        for code in ["10201026", "11402004", "10203046"] {
            assert!(sort_code_ok(code), "{code}");
        }
        for code in ["10201027", "1020102", "1020102a", "102010266"] {
            assert!(!sort_code_ok(code), "{code}");
        }
    }
    use proptest::prelude::*;

    #[test]
    fn a_virtual_account_is_a_valid_nrb_of_the_sort_code_prefix_and_customer() {
        let nrb = virtual_account("10201026", "7788", 123).unwrap();
        assert_eq!(&nrb.as_str()[2..], "102010267788000000000123");
        assert!(Nrb::parse(nrb.as_str()).is_ok());
        assert_eq!(customer_of(&nrb, "10201026", "7788"), Some(123));
        assert_eq!(customer_of(&nrb, "10201026", "7789"), None);
        assert_eq!(customer_of(&nrb, "10201027", "7788"), None);
    }

    #[test]
    fn settings_that_do_not_fit_give_no_account() {
        assert_eq!(
            virtual_account("1020102", "7788", 1),
            None,
            "7-digit sort code"
        );
        assert_eq!(
            virtual_account("10201026", "1234567", 1),
            None,
            "prefix too long"
        );
        assert_eq!(virtual_account("10201026", "12a", 1), None);
        assert_eq!(
            virtual_account("10201026", "123456", 12_345_678_901),
            None,
            "id too long"
        );
    }

    #[test]
    fn the_qr_payload_has_the_recommended_fields() {
        let nrb = Nrb::parse("61109010140000071219812874").unwrap();
        assert_eq!(
            zbp_qr_payload(
                Some("5260250274"),
                &nrb,
                Money::from_grosze(12_345),
                "Wodociągi Młynary | Sp. z o.o.",
                "Klient 000123, FV/2026/11/000001 i dalej"
            ),
            "5260250274|PL|61109010140000071219812874|012345|Wodociągi Młynary  S|Klient 000123, FV/2026/11/000001|||"
        );
        assert!(
            zbp_qr_payload(None, &nrb, Money::from_grosze(123_456_789), "A", "B")
                .starts_with("|PL|61109010140000071219812874|123456789|A|B")
        );
    }

    proptest! {
        #[test]
        fn every_customer_has_a_valid_account_of_their_own(
            a in 0i64..10_000_000_000, b in 0i64..10_000_000_000, prefix in "[0-9]{0,6}",
        ) {
            let x = virtual_account("10900004", &prefix, a).unwrap();
            prop_assert!(Nrb::parse(x.as_str()).is_ok());
            prop_assert_eq!(customer_of(&x, "10900004", &prefix), Some(a));
            if a != b {
                prop_assert_ne!(x, virtual_account("10900004", &prefix, b).unwrap());
            }
        }
    }
}
