//! What a password must be: 10 to 128 characters, not the e-mail address, not only one repeated
//! character, and not one of the passwords everybody tries first. Length beats composition rules
//! (NIST SP 800-63B), so there are no "one digit, one capital" demands.

use super::AccountError;

const COMMON: &[&str] = &[
    "1234567890",
    "12345678910",
    "123456789a",
    "qwertyuiop",
    "1q2w3e4r5t",
    "zaq12wsxcde",
    "haslo12345",
    "hasło12345",
    "password123",
    "passw0rd123",
    "qwerty1234",
    "polska1234",
    "wodociagi1",
    "kochamcie1",
    "0987654321",
    "1111111111",
    "abcdefghij",
    "administrator",
];

pub fn check(password: &str, email: &str) -> Result<(), AccountError> {
    let invalid = |detail: &str| AccountError::Invalid {
        field: "password",
        detail: detail.to_string(),
    };
    let length = password.chars().count();
    if length < 10 {
        return Err(invalid("Hasło musi mieć co najmniej 10 znaków."));
    }
    if length > 128 {
        return Err(invalid("Hasło może mieć najwyżej 128 znaków."));
    }
    let lower = password.to_lowercase();
    if lower == email.to_lowercase()
        || lower == email.split('@').next().unwrap_or("").to_lowercase()
    {
        return Err(invalid("Hasło nie może być adresem e-mail."));
    }
    let mut chars = password.chars();
    let first = chars.next();
    if chars.all(|c| Some(c) == first) {
        return Err(invalid(
            "Hasło nie może składać się z jednego powtórzonego znaku.",
        ));
    }
    if COMMON.contains(&lower.as_str()) {
        return Err(invalid(
            "To hasło jest zbyt popularne i łatwe do odgadnięcia. Wybierz inne.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(r: Result<(), AccountError>) -> Option<&'static str> {
        match r {
            Err(AccountError::Invalid { field, .. }) => Some(field),
            _ => None,
        }
    }

    #[test]
    fn short_common_and_email_passwords_are_refused() {
        assert_eq!(field(check("krótkie", "a@b.pl")), Some("password"));
        assert_eq!(field(check("1234567890", "a@b.pl")), Some("password"));
        assert_eq!(
            field(check("jan@poczta.pl", "JAN@poczta.pl")),
            Some("password")
        );
        assert_eq!(field(check("aaaaaaaaaaaa", "a@b.pl")), Some("password"));
    }

    #[test]
    fn a_long_passphrase_is_accepted() {
        assert!(check("zielona łódka na Wiśle", "jan@poczta.pl").is_ok());
    }
}
