//! A case's lifecycle as a pure function: which action moves a case from which state to which,
//! and who may take it. Handlers call [`next`] before they change anything, so a wrong state or
//! a wrong role is refused in one place, with a Polish message.
//!
//! ```text
//! draft ──submit──▶ registered ──assign──▶ assigned ──approve──▶ approved ──offer_contract──▶ contract_offered
//!                                  ▲  │                 │           │                              │ sign_contract
//!                       supplement │  ▼ request_        ▼ refuse    │ appeal (14 days, once)       ▼
//!                   awaiting_supplement  supplement    refused ─────┴──▶ appealed ──approve/refuse──▶ …
//!                                                                                   contract_signed ──conclude──▶ concluded
//! approved (no contract) / refused (appeal time over or appeal decided) / concluded ──close──▶ closed
//! registered / assigned / awaiting_supplement ──withdraw (resident)──▶ withdrawn
//! ```
//!
//! Residents submit, supplement, appeal, sign and withdraw their own cases; a clerk takes an
//! unassigned case and handles the cases assigned to them; a manager assigns and reassigns,
//! handles any case and decides appeals (the higher instance). Each action names the outbox
//! event and audit action it is recorded as ([`Action::event`]).

use serde::{Deserialize, Serialize};

/// Where a case is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "case_state", rename_all = "snake_case")]
pub enum State {
    /// Being filled (by the resident, or by a clerk for them): not yet a case.
    Draft,
    Registered,
    Assigned,
    AwaitingSupplement,
    Approved,
    Refused,
    Appealed,
    ContractOffered,
    ContractSigned,
    Concluded,
    Closed,
    Withdrawn,
}

impl State {
    pub const ALL: [State; 12] = [
        State::Draft,
        State::Registered,
        State::Assigned,
        State::AwaitingSupplement,
        State::Approved,
        State::Refused,
        State::Appealed,
        State::ContractOffered,
        State::ContractSigned,
        State::Concluded,
        State::Closed,
        State::Withdrawn,
    ];

    /// What a resident and a clerk read.
    pub fn polish(self) -> &'static str {
        match self {
            State::Draft => "Wersja robocza",
            State::Registered => "Przyjęty",
            State::Assigned => "W realizacji",
            State::AwaitingSupplement => "Oczekuje na uzupełnienie",
            State::Approved => "Rozpatrzony pozytywnie",
            State::Refused => "Rozpatrzony negatywnie",
            State::Appealed => "Odwołanie w rozpatrzeniu",
            State::ContractOffered => "Umowa do podpisu",
            State::ContractSigned => "Umowa podpisana",
            State::Concluded => "Umowa zawarta",
            State::Closed => "Zakończony",
            State::Withdrawn => "Wycofany",
        }
    }

    /// Whether the utility's deadline runs in this state (the clock of [`crate::deadline`]).
    pub fn awaits_the_utility(self) -> bool {
        matches!(self, State::Registered | State::Assigned | State::Appealed)
    }
}

/// Who acts on a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// The resident whose case it is (another resident never gets this far).
    Resident,
    /// A clerk; `assigned`: the case is assigned to them.
    Clerk { assigned: bool },
    /// A manager (the utility's admin): assigns, handles any case, decides appeals.
    Manager,
}

/// What is done to a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Submit,
    Withdraw,
    Assign,
    RequestSupplement,
    Supplement,
    Approve,
    Refuse,
    Appeal,
    OfferContract,
    SignContract,
    Conclude,
    Close,
    ExtendDeadline,
}

impl Action {
    /// The outbox event kind and audit action it is recorded as.
    pub fn event(self) -> &'static str {
        match self {
            Action::Submit => "case.submitted",
            Action::Withdraw => "case.withdrawn",
            Action::Assign => "case.assigned",
            Action::RequestSupplement => "case.supplement_requested",
            Action::Supplement => "case.supplemented",
            Action::Approve => "case.approved",
            Action::Refuse => "case.refused",
            Action::Appeal => "case.appealed",
            Action::OfferContract => "case.contract_offered",
            Action::SignContract => "case.contract_signed",
            Action::Conclude => "case.concluded",
            Action::Close => "case.closed",
            Action::ExtendDeadline => "case.deadline_extended",
        }
    }
}

/// What else decides an action, besides state and role.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    /// The case's type ends in a contract (supply contract).
    pub contract: bool,
    /// The decision was appealed before (a decision is appealed once).
    pub appealed: bool,
    /// The deadline was extended before (it is extended once).
    pub extended: bool,
    /// The time to appeal the decision has not passed.
    pub appeal_open: bool,
}

/// Why an action was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("a case in state {0:?} does not take this action")]
    WrongState(State),
    #[error("this action is not for this role")]
    WrongRole,
    #[error("the case is assigned to another clerk")]
    NotAssigned,
    #[error("the time to appeal has passed")]
    AppealTooLate,
    #[error("the decision was appealed already")]
    AppealedAlready,
    #[error("the deadline was extended already")]
    ExtendedAlready,
    #[error("this case type ends without a contract")]
    NoContract,
    #[error("the decision may still be appealed")]
    AppealStillOpen,
    /// A draft prepared in the resident's name was handed over: only the resident changes it.
    #[error("the draft was handed over to the resident")]
    HandedOver,
}

impl Refusal {
    /// What the person who tried reads.
    pub fn message_pl(self) -> String {
        match self {
            Refusal::WrongState(state) => format!(
                "Tego nie można zrobić ze sprawą w stanie „{}”.",
                state.polish()
            ),
            Refusal::WrongRole => "Nie masz uprawnień do tej czynności.".to_string(),
            Refusal::NotAssigned => {
                "Sprawę prowadzi inna osoba: może ją przekazać kierownik.".to_string()
            }
            Refusal::AppealTooLate => "Termin na odwołanie już minął.".to_string(),
            Refusal::AppealedAlready => "Od tej decyzji już się odwołano.".to_string(),
            Refusal::ExtendedAlready => "Termin tej sprawy był już przedłużony.".to_string(),
            Refusal::NoContract => "Ta sprawa nie kończy się umową.".to_string(),
            Refusal::AppealStillOpen => {
                "Sprawę można zakończyć po upływie terminu na odwołanie.".to_string()
            }
            Refusal::HandedOver => {
                "Wniosek przekazano już klientowi: teraz zmienić i złożyć może go tylko on."
                    .to_string()
            }
        }
    }
}

/// The state after `action` by `who` on a case in `state`, or why not.
pub fn next(state: State, action: Action, who: Who, facts: Facts) -> Result<State, Refusal> {
    use State::*;
    let resident = || match who {
        Who::Resident => Ok(()),
        _ => Err(Refusal::WrongRole),
    };
    // The clerk the case is assigned to, or a manager.
    let handler = || match who {
        Who::Manager | Who::Clerk { assigned: true } => Ok(()),
        Who::Clerk { assigned: false } => Err(Refusal::NotAssigned),
        Who::Resident => Err(Refusal::WrongRole),
    };
    let wrong = Err(Refusal::WrongState(state));
    match action {
        Action::Submit => match state {
            Draft => resident().map(|_| Registered),
            _ => wrong,
        },
        Action::Withdraw => match state {
            Registered | Assigned | AwaitingSupplement => resident().map(|_| Withdrawn),
            _ => wrong,
        },
        // A clerk takes a case nobody has; a manager assigns and reassigns any open one.
        Action::Assign => match (state, who) {
            (Registered, Who::Clerk { .. } | Who::Manager) => Ok(Assigned),
            (Assigned | AwaitingSupplement | Appealed, Who::Manager) => Ok(state),
            (Registered | Assigned | AwaitingSupplement | Appealed, _) => Err(Refusal::WrongRole),
            _ => wrong,
        },
        Action::RequestSupplement => match state {
            Assigned => handler().map(|_| AwaitingSupplement),
            _ => wrong,
        },
        Action::Supplement => match state {
            AwaitingSupplement => resident().map(|_| Assigned),
            _ => wrong,
        },
        Action::Approve | Action::Refuse => {
            let decided = if action == Action::Approve {
                Approved
            } else {
                Refused
            };
            match state {
                Assigned => handler().map(|_| decided),
                // An appeal goes to the higher instance.
                Appealed => match who {
                    Who::Manager => Ok(decided),
                    _ => Err(Refusal::WrongRole),
                },
                _ => wrong,
            }
        }
        Action::Appeal => match state {
            Approved | Refused => {
                resident()?;
                if facts.appealed {
                    Err(Refusal::AppealedAlready)
                } else if !facts.appeal_open {
                    Err(Refusal::AppealTooLate)
                } else {
                    Ok(Appealed)
                }
            }
            _ => wrong,
        },
        Action::OfferContract => match state {
            Approved if !facts.contract => Err(Refusal::NoContract),
            Approved => handler().map(|_| ContractOffered),
            _ => wrong,
        },
        Action::SignContract => match state {
            ContractOffered => resident().map(|_| ContractSigned),
            _ => wrong,
        },
        Action::Conclude => match state {
            ContractSigned => handler().map(|_| Concluded),
            _ => wrong,
        },
        Action::Close => match state {
            Concluded => handler().map(|_| Closed),
            Approved | Refused => {
                handler()?;
                if state == Approved && facts.contract {
                    // An approved contract case ends with the contract.
                    Err(Refusal::WrongState(state))
                } else if facts.appeal_open && !facts.appealed {
                    Err(Refusal::AppealStillOpen)
                } else {
                    Ok(Closed)
                }
            }
            _ => wrong,
        },
        Action::ExtendDeadline => match state {
            Registered | Assigned | AwaitingSupplement | Appealed => {
                handler()?;
                if facts.extended {
                    Err(Refusal::ExtendedAlready)
                } else {
                    Ok(state)
                }
            }
            _ => wrong,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use State::*;

    const RESIDENT: Who = Who::Resident;
    const MINE: Who = Who::Clerk { assigned: true };
    const OTHERS: Who = Who::Clerk { assigned: false };
    const MANAGER: Who = Who::Manager;

    fn go(state: State, action: Action, who: Who) -> Result<State, Refusal> {
        next(state, action, who, Facts::default())
    }

    #[test]
    fn a_connection_case_goes_from_draft_to_closed() {
        let facts = Facts::default();
        let mut s = Draft;
        for (action, who, expected) in [
            (Action::Submit, RESIDENT, Registered),
            (Action::Assign, OTHERS, Assigned),
            (Action::RequestSupplement, MINE, AwaitingSupplement),
            (Action::Supplement, RESIDENT, Assigned),
            (Action::ExtendDeadline, MINE, Assigned),
            (Action::Approve, MINE, Approved),
        ] {
            s = next(s, action, who, facts).unwrap();
            assert_eq!(s, expected, "{action:?}");
        }
        assert_eq!(
            next(
                s,
                Action::Close,
                MINE,
                Facts {
                    appeal_open: true,
                    ..facts
                }
            ),
            Err(Refusal::AppealStillOpen)
        );
        assert_eq!(next(s, Action::Close, MINE, facts), Ok(Closed));
    }

    #[test]
    fn a_supply_contract_is_offered_signed_and_concluded() {
        let facts = Facts {
            contract: true,
            ..Facts::default()
        };
        assert_eq!(
            next(Approved, Action::Close, MINE, facts),
            Err(Refusal::WrongState(Approved))
        );
        let mut s = Approved;
        for (action, who, expected) in [
            (Action::OfferContract, MINE, ContractOffered),
            (Action::SignContract, RESIDENT, ContractSigned),
            (Action::Conclude, MANAGER, Concluded),
            (Action::Close, MINE, Closed),
        ] {
            s = next(s, action, who, facts).unwrap();
            assert_eq!(s, expected, "{action:?}");
        }
        assert_eq!(
            go(Approved, Action::OfferContract, MINE),
            Err(Refusal::NoContract)
        );
    }

    #[test]
    fn an_appeal_is_made_once_in_time_and_decided_by_a_manager() {
        let open = Facts {
            appeal_open: true,
            ..Facts::default()
        };
        assert_eq!(next(Refused, Action::Appeal, RESIDENT, open), Ok(Appealed));
        assert_eq!(
            next(Refused, Action::Appeal, MINE, open),
            Err(Refusal::WrongRole)
        );
        assert_eq!(
            go(Refused, Action::Appeal, RESIDENT),
            Err(Refusal::AppealTooLate)
        );
        let again = Facts {
            appealed: true,
            ..open
        };
        assert_eq!(
            next(Refused, Action::Appeal, RESIDENT, again),
            Err(Refusal::AppealedAlready)
        );
        assert_eq!(go(Appealed, Action::Approve, MINE), Err(Refusal::WrongRole));
        assert_eq!(go(Appealed, Action::Refuse, MANAGER), Ok(Refused));
        // Decided on appeal: closed at once, the time to appeal does not matter any more.
        assert_eq!(next(Refused, Action::Close, MINE, again), Ok(Closed));
    }

    #[test]
    fn only_the_assigned_clerk_or_a_manager_handles_a_case() {
        for action in [
            Action::RequestSupplement,
            Action::Approve,
            Action::Refuse,
            Action::ExtendDeadline,
        ] {
            assert_eq!(
                go(Assigned, action, OTHERS),
                Err(Refusal::NotAssigned),
                "{action:?}"
            );
            assert_eq!(
                go(Assigned, action, RESIDENT),
                Err(Refusal::WrongRole),
                "{action:?}"
            );
            assert!(go(Assigned, action, MINE).is_ok(), "{action:?}");
            assert!(go(Assigned, action, MANAGER).is_ok(), "{action:?}");
        }
        // Reassigning is the manager's.
        assert_eq!(go(Assigned, Action::Assign, MINE), Err(Refusal::WrongRole));
        assert_eq!(go(Assigned, Action::Assign, MANAGER), Ok(Assigned));
        assert_eq!(
            go(Registered, Action::Assign, RESIDENT),
            Err(Refusal::WrongRole)
        );
    }

    #[test]
    fn residents_act_only_on_what_is_theirs_to_do() {
        for action in [
            Action::Submit,
            Action::Supplement,
            Action::SignContract,
            Action::Withdraw,
        ] {
            let from = match action {
                Action::Submit => Draft,
                Action::Supplement => AwaitingSupplement,
                Action::SignContract => ContractOffered,
                _ => Assigned,
            };
            assert!(go(from, action, RESIDENT).is_ok(), "{action:?}");
            assert_eq!(
                go(from, action, MINE),
                Err(Refusal::WrongRole),
                "{action:?}"
            );
            assert_eq!(
                go(from, action, MANAGER),
                Err(Refusal::WrongRole),
                "{action:?}"
            );
        }
        assert_eq!(
            go(Approved, Action::Withdraw, RESIDENT),
            Err(Refusal::WrongState(Approved))
        );
    }

    #[test]
    fn the_deadline_is_extended_once() {
        let extended = Facts {
            extended: true,
            ..Facts::default()
        };
        assert_eq!(
            next(Assigned, Action::ExtendDeadline, MINE, extended),
            Err(Refusal::ExtendedAlready)
        );
    }

    #[test]
    fn nothing_leaves_a_closed_or_withdrawn_case() {
        let all = [
            Action::Submit,
            Action::Withdraw,
            Action::Assign,
            Action::RequestSupplement,
            Action::Supplement,
            Action::Approve,
            Action::Refuse,
            Action::Appeal,
            Action::OfferContract,
            Action::SignContract,
            Action::Conclude,
            Action::Close,
            Action::ExtendDeadline,
        ];
        let everyone = [RESIDENT, MINE, OTHERS, MANAGER];
        let facts = [
            Facts::default(),
            Facts {
                contract: true,
                appeal_open: true,
                ..Facts::default()
            },
        ];
        for state in [Closed, Withdrawn] {
            for action in all {
                for who in everyone {
                    for f in facts {
                        assert_eq!(next(state, action, who, f), Err(Refusal::WrongState(state)));
                    }
                }
            }
        }
        // And every refusal has its Polish sentence.
        for state in State::ALL {
            assert!(
                Refusal::WrongState(state)
                    .message_pl()
                    .contains(state.polish())
            );
        }
    }
}
