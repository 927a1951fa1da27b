//! Invoice arithmetic in integer grosze: a line's net is its quantity times its unit price
//! rounded half-up to the grosz; VAT is computed per rate on the net total of that rate and
//! rounded half-up (VAT act art. 106e ust. 11), never summed from the lines' own VAT; gross is
//! net plus VAT. Halves round away from zero, so a correction's negative difference rounds like
//! the positive amount it undoes.

use ebok_common::domain::Money;

use crate::document::{Line, RateTotal};

/// `numerator / denominator` rounded half away from zero (`denominator > 0`).
pub fn div_round(numerator: i128, denominator: i128) -> i128 {
    debug_assert!(denominator > 0);
    let q = numerator / denominator;
    let r = numerator % denominator;
    if 2 * r.abs() >= denominator {
        q + numerator.signum()
    } else {
        q
    }
}

/// `quantity_milli / 1000 × unit_price`, rounded half-up to the grosz.
pub fn line_net(quantity_milli: i64, unit_price: Money) -> Money {
    let grosze = div_round(
        i128::from(quantity_milli) * i128::from(unit_price.grosze()),
        1000,
    );
    Money::from_grosze(i64::try_from(grosze).expect("a line's net fits in i64"))
}

/// `amount × numerator / denominator` rounded half-up (a monthly fee for part of a month).
pub fn pro_rata(amount: Money, numerator: i64, denominator: i64) -> Money {
    let grosze = div_round(
        i128::from(amount.grosze()) * i128::from(numerator),
        i128::from(denominator),
    );
    Money::from_grosze(i64::try_from(grosze).expect("a share fits in i64"))
}

/// VAT of a rate's net total.
pub fn vat(net: Money, rate: u8) -> Money {
    pro_rata(net, i64::from(rate), 100)
}

/// The totals of lines: per rate (in ascending order of rate) and overall `(net, vat, gross)`.
pub fn totals(lines: &[Line]) -> (Vec<RateTotal>, Money, Money, Money) {
    let mut rates: Vec<RateTotal> = Vec::new();
    for line in lines {
        match rates.iter_mut().find(|r| r.vat_rate == line.vat_rate) {
            Some(r) => r.net += line.net,
            None => rates.push(RateTotal {
                vat_rate: line.vat_rate,
                net: line.net,
                vat: Money::ZERO,
            }),
        }
    }
    rates.sort_by_key(|r| r.vat_rate);
    for r in &mut rates {
        r.vat = vat(r.net, r.vat_rate);
    }
    let net = rates.iter().map(|r| r.net).sum();
    let vat = rates.iter().map(|r| r.vat).sum();
    (rates, net, vat, net + vat)
}

/// The totals of a correction: after minus before, per rate and overall. VAT of each side is
/// computed on its own net total and the difference taken, so the corrected invoice plus the
/// correction equal an invoice issued right in the first place.
pub fn correction_totals(before: &[Line], after: &[Line]) -> (Vec<RateTotal>, Money, Money, Money) {
    let (rates_before, ..) = totals(before);
    let (rates_after, ..) = totals(after);
    let mut rates: Vec<RateTotal> = rates_after.clone();
    for b in &rates_before {
        match rates.iter_mut().find(|r| r.vat_rate == b.vat_rate) {
            Some(r) => {
                r.net -= b.net;
                r.vat -= b.vat;
            }
            None => rates.push(RateTotal {
                vat_rate: b.vat_rate,
                net: -b.net,
                vat: -b.vat,
            }),
        }
    }
    rates.sort_by_key(|r| r.vat_rate);
    let net = rates.iter().map(|r| r.net).sum();
    let vat = rates.iter().map(|r| r.vat).sum();
    (rates, net, vat, net + vat)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn g(grosze: i64) -> Money {
        Money::from_grosze(grosze)
    }

    fn line(quantity_milli: i64, price: i64, rate: u8) -> Line {
        Line {
            no: 1,
            name: "x".into(),
            unit: "m³".into(),
            quantity_milli,
            unit_price: g(price),
            net: line_net(quantity_milli, g(price)),
            vat_rate: rate,
        }
    }

    #[test]
    fn halves_round_away_from_zero() {
        assert_eq!(div_round(5, 10), 1);
        assert_eq!(div_round(4, 10), 0);
        assert_eq!(div_round(-5, 10), -1);
        assert_eq!(div_round(-4, 10), 0);
        // 12,345 m³ at 5,67 zł = 69,99615 zł → 70,00 zł.
        assert_eq!(line_net(12_345, g(567)), g(7_000));
        // 0,500 m³ at 0,01 zł = 0,005 zł → 0,01 zł: the half grosz rounds up.
        assert_eq!(line_net(500, g(1)), g(1));
        assert_eq!(line_net(-500, g(1)), g(-1));
    }

    #[test]
    fn vat_is_taken_on_each_rates_total_not_summed_from_lines() {
        // Two lines of 0,06 zł net at 8%: 0,0048 each (0,00 rounded), but 0,12 × 8% = 0,0096 → 0,01.
        let lines = [line(1_000, 6, 8), line(1_000, 6, 8)];
        let (rates, net, vat, gross) = totals(&lines);
        assert_eq!(
            rates,
            [RateTotal {
                vat_rate: 8,
                net: g(12),
                vat: g(1)
            }]
        );
        assert_eq!((net, vat, gross), (g(12), g(1), g(13)));
    }

    #[test]
    fn rates_are_kept_apart() {
        let lines = [line(1_000, 10_000, 23), line(1_000, 10_000, 8)];
        let (rates, net, vat, gross) = totals(&lines);
        assert_eq!(
            rates
                .iter()
                .map(|r| (r.vat_rate, r.vat))
                .collect::<Vec<_>>(),
            [(8, g(800)), (23, g(2_300))]
        );
        assert_eq!((net, vat, gross), (g(20_000), g(3_100), g(23_100)));
    }

    #[test]
    fn a_correction_is_after_minus_before() {
        let before = [line(10_000, 500, 8)];
        let after = [line(8_000, 500, 8)];
        let (rates, net, vat, gross) = correction_totals(&before, &after);
        assert_eq!(
            rates,
            [RateTotal {
                vat_rate: 8,
                net: g(-1_000),
                vat: g(-80)
            }]
        );
        assert_eq!((net, vat, gross), (g(-1_000), g(-80), g(-1_080)));
    }

    proptest! {
        /// Gross is net plus VAT, and the rates add up to the totals.
        #[test]
        fn totals_add_up(lines in proptest::collection::vec((-100_000i64..10_000_000, 0i64..100_000, prop_oneof![Just(0u8), Just(5), Just(8), Just(23)]), 0..12)) {
            let lines: Vec<Line> = lines.into_iter().map(|(q, p, r)| line(q, p, r)).collect();
            let (rates, net, vat, gross) = totals(&lines);
            prop_assert_eq!(gross, net + vat);
            prop_assert_eq!(net, lines.iter().map(|l| l.net).sum::<Money>());
            prop_assert_eq!(vat, rates.iter().map(|r| r.vat).sum::<Money>());
            for r in &rates {
                // Within half a grosz of the exact VAT.
                let exact = i128::from(r.net.grosze()) * i128::from(r.vat_rate);
                prop_assert!((i128::from(r.vat.grosze()) * 100 - exact).abs() <= 50);
            }
        }
    }
}
