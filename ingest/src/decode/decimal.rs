//! Exact decimal conversion of register values written as text (a JSON number's literal text or a
//! decimal string) into integers of a smaller unit, e.g. cubic metres into litres.
//!
//! Nothing here goes through `f64`: the digits are scaled by moving the decimal point, sub-unit
//! digits are rounded half up (half away from zero for negative values), and anything that does
//! not fit an `i64` is an error rather than a silently wrong number.

/// Why a text is not a usable decimal amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// Not a decimal number: empty, stray characters, a comma as decimal separator, ….
    #[error("not a decimal number")]
    Invalid,
    /// A decimal number whose scaled value does not fit an `i64`.
    #[error("out of range")]
    Overflow,
}

/// A decimal amount scaled to an integer, with what was lost on the way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scaled {
    /// The value, rounded half up (away from zero for negative amounts).
    pub value: i64,
    /// Whether no non-zero digit was rounded away.
    pub exact: bool,
    /// Whether the amount is below zero, even if it rounds to 0 (`"-0.0004"`).
    pub below_zero: bool,
}

/// Cubic metres (`"6.408"`, `"123"`, `"0.0005"`, `"1e2"`, `"-1.5"`) to litres, exactly, with
/// sub-litre digits rounded half up (away from zero for negative amounts).
pub fn m3_to_litres(text: &str) -> Result<i64, DecimalError> {
    parse_decimal_scaled(text, 3)
}

/// The decimal `text` multiplied by `10^scale_pow10` (a negative power divides), rounded half
/// up (away from zero for negative values) to an integer. `parse_decimal_scaled("6.408", 3)` is
/// 6408; `parse_decimal_scaled("15", -1)` is 2.
///
/// Accepted syntax: an optional `-`, digits with an optional `.` and fraction (at least one digit
/// in all), an optional exponent (`e`/`E`, optional sign, digits). No spaces, no `+` sign, no
/// thousands separators, no comma.
pub fn parse_decimal_scaled(text: &str, scale_pow10: i32) -> Result<i64, DecimalError> {
    scale(text, scale_pow10).map(|s| s.value)
}

/// The parsed parts of a decimal text: sign, integer and fraction digits, exponent.
struct Parts<'a> {
    negative: bool,
    int: &'a [u8],
    frac: &'a [u8],
    /// Clamped to ±[`EXP_CLAMP`]; beyond that, any non-zero amount overflows or rounds to zero.
    exp: i64,
}

/// Exponents are clamped to this magnitude: with payloads of at most a few MiB, a shift this large
/// already moves every digit out of range.
const EXP_CLAMP: i64 = 1 << 40;

fn parts(text: &str) -> Result<Parts<'_>, DecimalError> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let negative = bytes.first() == Some(&b'-');
    if negative {
        i += 1;
    }
    let digits_from = |from: usize| {
        from + bytes[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let int_end = digits_from(i);
    let int = &bytes[i..int_end];
    i = int_end;
    let mut frac: &[u8] = &[];
    if bytes.get(i) == Some(&b'.') {
        let frac_end = digits_from(i + 1);
        frac = &bytes[i + 1..frac_end];
        i = frac_end;
    }
    if int.is_empty() && frac.is_empty() {
        return Err(DecimalError::Invalid);
    }
    let mut exp: i64 = 0;
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        let exp_negative = match bytes.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let exp_end = digits_from(i);
        if exp_end == i {
            return Err(DecimalError::Invalid);
        }
        for &d in &bytes[i..exp_end] {
            exp = (exp * 10 + i64::from(d - b'0')).min(EXP_CLAMP);
        }
        if exp_negative {
            exp = -exp;
        }
        i = exp_end;
    }
    if i != bytes.len() {
        return Err(DecimalError::Invalid);
    }
    Ok(Parts {
        negative,
        int,
        frac,
        exp,
    })
}

/// Scales `text` by `10^scale_pow10` exactly; see [`parse_decimal_scaled`].
pub(crate) fn scale(text: &str, scale_pow10: i32) -> Result<Scaled, DecimalError> {
    let Parts {
        negative,
        int,
        frac,
        exp,
    } = parts(text)?;

    // The significant digits: integer and fraction digits in a row, without leading zeros.
    let all = int.len() + frac.len();
    let digit = |k: usize| -> u8 {
        if k < int.len() {
            int[k] - b'0'
        } else {
            frac[k - int.len()] - b'0'
        }
    };
    let Some(first) = (0..all).find(|&k| digit(k) != 0) else {
        return Ok(Scaled {
            value: 0,
            exact: true,
            below_zero: false,
        });
    };
    let n = (all - first) as i64;
    // value = D × 10^shift, D being the n significant digits.
    let shift = exp - frac.len() as i64 + i64::from(scale_pow10);

    // How many of the significant digits are kept as the integer part.
    let kept = (n + shift).clamp(0, n) as usize;
    if kept > 20 || n + shift > 20 {
        return Err(DecimalError::Overflow);
    }
    let mut magnitude: u128 = 0;
    for k in 0..kept {
        magnitude = magnitude * 10 + u128::from(digit(first + k));
    }
    let mut exact = true;
    if shift > 0 {
        // n + shift ≤ 20, so this fits a u128 easily.
        magnitude *= 10u128.pow(shift as u32);
    } else if (kept as i64) < n {
        // Digits dropped: the first of them decides the rounding (half up). When every
        // significant digit lies below the first dropped position, that position holds a zero.
        let round_digit = if n + shift < 0 {
            0
        } else {
            digit(first + kept)
        };
        if round_digit >= 5 {
            magnitude += 1;
        }
        exact = false; // the leading digit is non-zero, so something non-zero was dropped …
        if n + shift >= 0 {
            // … unless every dropped digit is zero.
            exact = (first + kept..all).all(|k| digit(k) == 0);
        }
    }

    let value = if negative {
        if magnitude > 1u128 << 63 {
            return Err(DecimalError::Overflow);
        }
        (-(magnitude as i128)) as i64
    } else {
        i64::try_from(magnitude).map_err(|_| DecimalError::Overflow)?
    };
    Ok(Scaled {
        value,
        exact,
        below_zero: negative,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cubic_metres_with_three_decimals_convert_exactly() {
        assert_eq!(m3_to_litres("6.408"), Ok(6408));
        assert_eq!(m3_to_litres("812.004"), Ok(812_004));
        assert_eq!(m3_to_litres("0.001"), Ok(1));
        assert_eq!(m3_to_litres("123.456"), Ok(123_456));
    }

    #[test]
    fn integers_fewer_decimals_and_exponents_scale() {
        assert_eq!(m3_to_litres("123"), Ok(123_000));
        assert_eq!(m3_to_litres("0"), Ok(0));
        assert_eq!(m3_to_litres("696.32"), Ok(696_320));
        assert_eq!(m3_to_litres("1e2"), Ok(100_000));
        assert_eq!(m3_to_litres("1E+2"), Ok(100_000));
        assert_eq!(m3_to_litres("1.5e-3"), Ok(2));
        assert_eq!(m3_to_litres("12345e-3"), Ok(12_345));
        assert_eq!(m3_to_litres("0e999999999999999999999"), Ok(0));
        assert_eq!(m3_to_litres("5."), Ok(5000));
        assert_eq!(m3_to_litres(".5"), Ok(500));
    }

    #[test]
    fn sub_litre_digits_round_half_up() {
        assert_eq!(m3_to_litres("0.0005"), Ok(1));
        assert_eq!(m3_to_litres("0.0004999999"), Ok(0));
        assert_eq!(m3_to_litres("1.2345"), Ok(1235));
        assert_eq!(m3_to_litres("1.23449"), Ok(1234));
        assert_eq!(m3_to_litres("0.00000000000000000000001"), Ok(0));
        assert_eq!(m3_to_litres("9.9995"), Ok(10_000));
    }

    #[test]
    fn negative_amounts_round_away_from_zero() {
        assert_eq!(m3_to_litres("-1.5"), Ok(-1500));
        assert_eq!(m3_to_litres("-0.0005"), Ok(-1));
        assert_eq!(m3_to_litres("-0.0004"), Ok(0));
        assert_eq!(m3_to_litres("-0"), Ok(0));
    }

    #[test]
    fn tiny_negative_amounts_are_still_below_zero() {
        let s = scale("-0.0004", 3).unwrap();
        assert_eq!((s.value, s.exact, s.below_zero), (0, false, true));
        assert!(!scale("-0.000", 3).unwrap().below_zero);
    }

    #[test]
    fn exactness_is_reported() {
        assert!(scale("12.000", 0).unwrap().exact);
        assert!(scale("1e3", 0).unwrap().exact);
        assert!(!scale("12.5", 0).unwrap().exact);
        assert!(!scale("1e-30", 0).unwrap().exact);
    }

    #[test]
    fn negative_scale_divides() {
        assert_eq!(parse_decimal_scaled("15", -1), Ok(2));
        assert_eq!(parse_decimal_scaled("14", -1), Ok(1));
        assert_eq!(parse_decimal_scaled("0.1", 0), Ok(0));
        assert_eq!(parse_decimal_scaled("10", 0), Ok(10));
    }

    #[test]
    fn the_extremes_of_i64_fit_and_one_more_overflows() {
        assert_eq!(parse_decimal_scaled("9223372036854775807", 0), Ok(i64::MAX));
        assert_eq!(
            parse_decimal_scaled("-9223372036854775808", 0),
            Ok(i64::MIN)
        );
        assert_eq!(m3_to_litres("9223372036854775.807"), Ok(i64::MAX));
        assert_eq!(
            parse_decimal_scaled("9223372036854775808", 0),
            Err(DecimalError::Overflow)
        );
        assert_eq!(
            parse_decimal_scaled("-9223372036854775809", 0),
            Err(DecimalError::Overflow)
        );
        assert_eq!(
            m3_to_litres("9223372036854775.8075"),
            Err(DecimalError::Overflow)
        );
        assert_eq!(m3_to_litres("1e300"), Err(DecimalError::Overflow));
        assert_eq!(
            m3_to_litres("1e99999999999999999999999"),
            Err(DecimalError::Overflow)
        );
        assert_eq!(
            m3_to_litres("100000000000000000000000000000"),
            Err(DecimalError::Overflow)
        );
    }

    #[test]
    fn leading_zeros_do_not_count_towards_overflow() {
        assert_eq!(m3_to_litres("000000000000000000000000000001.5"), Ok(1500));
        assert_eq!(m3_to_litres("1e-99999999999999999999"), Ok(0));
    }

    #[test]
    fn garbage_is_invalid() {
        for text in [
            "", "-", ".", "abc", "12,5", "1.2.3", " 1", "1 ", "+1", "1e", "1e+", "0x10", "1_000",
            "NaN", "inf", "--1", "1-", "e5",
        ] {
            assert_eq!(m3_to_litres(text), Err(DecimalError::Invalid), "{text:?}");
        }
    }

    proptest! {
        #[test]
        fn any_i64_litres_written_as_m3_with_three_decimals_converts_back(l in any::<i64>()) {
            let sign = if l < 0 { "-" } else { "" };
            let abs = l.unsigned_abs();
            let text = format!("{sign}{}.{:03}", abs / 1000, abs % 1000);
            prop_assert_eq!(m3_to_litres(&text), Ok(l));
        }

        #[test]
        fn non_negative_litres_formatted_as_in_the_contract_convert_back(l in 0..=i64::MAX) {
            let text = format!("{}.{:03}", l / 1000, l % 1000);
            prop_assert_eq!(m3_to_litres(&text), Ok(l));
        }

        #[test]
        fn conversion_agrees_with_integer_arithmetic(
            negative in any::<bool>(),
            int in 0u64..10_000_000_000,
            frac in 0u64..1_000_000_000,
            frac_len in 0usize..=9,
            exp in -6i32..=6,
        ) {
            let frac = frac % 10u64.pow(frac_len as u32);
            let frac_text = if frac_len == 0 {
                String::new()
            } else {
                format!(".{frac:0frac_len$}")
            };
            let text = format!("{}{int}{frac_text}e{exp}", if negative { "-" } else { "" });
            // value × 1000 = mantissa × 10^(exp + 3 - frac_len)
            let mantissa = i128::from(int) * 10i128.pow(frac_len as u32) + i128::from(frac);
            let power = exp + 3 - frac_len as i32;
            let expected = if power >= 0 {
                mantissa * 10i128.pow(power as u32)
            } else {
                let divisor = 10i128.pow((-power) as u32);
                (mantissa + divisor / 2) / divisor
            };
            let expected = if negative { -expected } else { expected };
            let expected = i64::try_from(expected).map_err(|_| DecimalError::Overflow);
            prop_assert_eq!(m3_to_litres(&text), expected);
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,40}") {
            let _ = m3_to_litres(&text);
        }

        #[test]
        fn numeric_looking_text_never_panics(text in "-?[0-9]{0,30}(\\.[0-9]{0,30})?([eE][+-]?[0-9]{1,25})?", pow in -40i32..40) {
            let _ = parse_decimal_scaled(&text, pow);
        }
    }
}
