//! What a ledger credit paid: a payment (online, by bank transfer) or a correction downwards is
//! allocated to the customer's open invoices — the one the resident chose first, then the
//! oldest by due date — and what is left stays on the balance as an overpayment, which the next
//! invoice uses (its `credit_used`). An invoice's open amount is its amount due less its
//! allocations (migration 0024: `invoice_allocations`, append-only, never more than the amount
//! due).
//!
//! [`plan`] is the pure rule; [`allocate`] applies it in the caller's transaction, which must
//! already have booked the credit's ledger entry: that insert holds the customer's balance row
//! locked (the `ledger_append` trigger updates it) until the transaction ends, so two credits of
//! one customer allocate one after the other and each sees the other's allocations.

use ebok_common::domain::Money;
use sqlx::PgConnection;

/// An invoice with something left to pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Open {
    pub invoice_id: i64,
    pub open: Money,
}

/// A part of a credit that paid (part of) an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allocation {
    pub invoice_id: i64,
    pub amount: Money,
}

/// How `credit` pays `open` (oldest first, as given), `first` before the others when it is
/// open. Never more than an invoice's open amount, never more than the credit in all; what is
/// not allocated is the overpayment.
pub fn plan(open: &[Open], credit: Money, first: Option<i64>) -> Vec<Allocation> {
    let chosen = open.iter().filter(|o| Some(o.invoice_id) == first);
    let others = open.iter().filter(|o| Some(o.invoice_id) != first);
    let mut left = credit.max(Money::ZERO);
    let mut out = Vec::new();
    for o in chosen.chain(others) {
        if left <= Money::ZERO {
            break;
        }
        let amount = left.min(o.open);
        if amount > Money::ZERO {
            out.push(Allocation {
                invoice_id: o.invoice_id,
                amount,
            });
            left = left.checked_sub(amount).expect("amount ≤ left");
        }
    }
    out
}

/// The customer's open invoices, oldest due first.
pub async fn open_invoices(conn: &mut PgConnection, customer_id: i64) -> sqlx::Result<Vec<Open>> {
    let rows = sqlx::query!(
        r#"SELECT i.id, i.amount_due_grosze - coalesce(a.paid, 0) AS "open!"
           FROM invoices i
           LEFT JOIN LATERAL (SELECT sum(amount_grosze)::bigint AS paid FROM invoice_allocations
                              WHERE invoice_id = i.id) a ON true
           WHERE i.customer_id = $1 AND i.amount_due_grosze > coalesce(a.paid, 0)
           ORDER BY i.due_date, i.id"#,
        customer_id
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Open {
            invoice_id: r.id,
            open: Money::from_grosze(r.open),
        })
        .collect())
}

/// Allocates the credit of ledger entry `ledger_entry_id` (`credit`, positive) of customer
/// `customer_id` to their open invoices, `first` first; what it allocated.
pub async fn allocate(
    conn: &mut PgConnection,
    customer_id: i64,
    ledger_entry_id: i64,
    credit: Money,
    first: Option<i64>,
) -> sqlx::Result<Vec<Allocation>> {
    let open = open_invoices(conn, customer_id).await?;
    let allocations = plan(&open, credit, first);
    if allocations.is_empty() {
        return Ok(allocations);
    }
    let invoices: Vec<i64> = allocations.iter().map(|a| a.invoice_id).collect();
    let amounts: Vec<i64> = allocations.iter().map(|a| a.amount.grosze()).collect();
    sqlx::query!(
        r#"INSERT INTO invoice_allocations (ledger_entry_id, invoice_id, amount_grosze)
           SELECT $1, * FROM unnest($2::bigint[], $3::bigint[])"#,
        ledger_entry_id,
        &invoices,
        &amounts
    )
    .execute(conn)
    .await?;
    Ok(allocations)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn open(id: i64, grosze: i64) -> Open {
        Open {
            invoice_id: id,
            open: Money::from_grosze(grosze),
        }
    }

    #[test]
    fn oldest_invoices_are_paid_first_and_the_rest_is_overpayment() {
        let a = plan(&[open(1, 100), open(2, 250)], Money::from_grosze(400), None);
        assert_eq!(
            a,
            vec![
                Allocation {
                    invoice_id: 1,
                    amount: Money::from_grosze(100)
                },
                Allocation {
                    invoice_id: 2,
                    amount: Money::from_grosze(250)
                }
            ]
        );
    }

    #[test]
    fn the_chosen_invoice_is_paid_before_older_ones() {
        let a = plan(
            &[open(1, 100), open(2, 250)],
            Money::from_grosze(300),
            Some(2),
        );
        assert_eq!(a[0].invoice_id, 2);
        assert_eq!(a[0].amount, Money::from_grosze(250));
        assert_eq!(a[1].invoice_id, 1);
        assert_eq!(a[1].amount, Money::from_grosze(50));
    }

    #[test]
    fn a_chosen_invoice_already_paid_leaves_the_oldest_first() {
        let a = plan(&[open(1, 100)], Money::from_grosze(30), Some(9));
        assert_eq!(
            a,
            vec![Allocation {
                invoice_id: 1,
                amount: Money::from_grosze(30)
            }]
        );
    }

    proptest! {
        #[test]
        fn allocations_never_exceed_the_credit_or_an_invoice(
            opens in proptest::collection::vec(1i64..100_000, 0..8),
            credit in 0i64..500_000,
            first in proptest::option::of(0i64..8),
        ) {
            let open: Vec<Open> = opens.iter().enumerate().map(|(i, g)| super::tests::open(i as i64, *g)).collect();
            let a = plan(&open, Money::from_grosze(credit), first);
            let total: i64 = a.iter().map(|x| x.amount.grosze()).sum();
            let all_open: i64 = opens.iter().sum();
            // As much as can be paid is paid: the credit or everything open, whichever is less.
            prop_assert_eq!(total, credit.min(all_open));
            for x in &a {
                let o = open.iter().find(|o| o.invoice_id == x.invoice_id).unwrap();
                prop_assert!(x.amount > Money::ZERO && x.amount <= o.open);
            }
            // Each invoice once; an invoice after another is paid only when that one is paid in full.
            for w in a.windows(2) {
                prop_assert_ne!(w[0].invoice_id, w[1].invoice_id);
                let o = open.iter().find(|o| o.invoice_id == w[0].invoice_id).unwrap();
                prop_assert_eq!(w[0].amount, o.open);
            }
        }
    }
}
