//! What each staff role may do: one table ([`StaffRole::may`]), read by the pages, the API and
//! the tests alike. Roles are the utility's own: an admin of one utility is nobody in another
//! (every staff session carries its utility, and every query is scoped by it).

use std::fmt;

/// A staff member's role (`user_accounts.role`, every value but `resident`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StaffRole {
    /// Customer service at the counter and on the phone.
    Clerk,
    /// The billing department.
    Billing,
    /// Field crews: meters, readings, alarms; also through the API for their app.
    Technician,
    /// Staff accounts and roles, the utility's settings, the audit log; and everything else.
    Admin,
}

/// Something a staff member does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Search customers and open their card (identity, contracts, meters, consents).
    ViewCustomers,
    /// Create and edit customers, start and end contracts.
    EditCustomers,
    /// Install, replace and remove meters; enter readings.
    ManageMeters,
    /// Acknowledge and clear meter alarms.
    HandleAlarms,
    /// The quarantine of unknown meters' readings, rejections, dead letters.
    HandleIngestProblems,
    /// Act in a resident's name (binding acts wait for the resident's acceptance).
    ActForResidents,
    /// See customers' invoices, balances and ledgers, and download invoices.
    ViewInvoices,
    /// Tariffs, billing runs and their print batches.
    ManageBilling,
    /// Take and handle residents' cases: supplements, decisions, contracts.
    HandleCases,
    /// Assign and reassign cases, decide appeals (the higher instance).
    ManageCases,
    /// The booking calendars: publish them, see the day's visits, cancel a visit or close a
    /// day with a reason.
    ManageBookings,
    /// Outage and planned-works notices for an area, and the network zones.
    PublishOutages,
    /// Residents' failure reports: the office verifies, rejects and sends crews; a technician
    /// reaches only the jobs given to them, marks them fixed (or not a failure) and adds photos.
    HandleFailureReports,
    /// The water balance of the network zones: losses, night flow and burst alarms, the
    /// zones' boundary meters and the unbilled use staff enter.
    WaterBalance,
    /// Read the audit log.
    ViewAudit,
    /// Staff accounts, roles and utility settings.
    ManageStaff,
}

impl StaffRole {
    /// Every role, in the order pages list them.
    pub const ALL: [StaffRole; 4] = [
        StaffRole::Clerk,
        StaffRole::Billing,
        StaffRole::Technician,
        StaffRole::Admin,
    ];

    /// The role of an account's `role` column; `None` for a resident (or anything else).
    pub fn parse(role: &str) -> Option<StaffRole> {
        match role {
            "clerk" => Some(StaffRole::Clerk),
            "billing" => Some(StaffRole::Billing),
            "technician" => Some(StaffRole::Technician),
            "admin" => Some(StaffRole::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StaffRole::Clerk => "clerk",
            StaffRole::Billing => "billing",
            StaffRole::Technician => "technician",
            StaffRole::Admin => "admin",
        }
    }

    /// The role as staff read it.
    pub fn polish(self) -> &'static str {
        match self {
            StaffRole::Clerk => "Biuro obsługi klienta",
            StaffRole::Billing => "Rozliczenia",
            StaffRole::Technician => "Technik",
            StaffRole::Admin => "Administrator",
        }
    }

    /// Whether this role may do `what`.
    pub fn may(self, what: Permission) -> bool {
        use Permission::*;
        match self {
            StaffRole::Admin => true,
            StaffRole::Clerk => matches!(
                what,
                ViewCustomers
                    | EditCustomers
                    | ManageMeters
                    | HandleAlarms
                    | HandleIngestProblems
                    | ActForResidents
                    | ViewInvoices
                    | HandleCases
                    | ManageBookings
                    | PublishOutages
                    | HandleFailureReports
            ),
            StaffRole::Billing => matches!(
                what,
                ViewCustomers | EditCustomers | ViewInvoices | ManageBilling
            ),
            StaffRole::Technician => {
                matches!(
                    what,
                    ViewCustomers
                        | ManageMeters
                        | HandleAlarms
                        | HandleIngestProblems
                        | PublishOutages
                        | HandleFailureReports
                        | WaterBalance
                )
            }
        }
    }
}

impl fmt::Display for StaffRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resident_has_no_staff_role() {
        assert_eq!(StaffRole::parse("resident"), None);
        for role in StaffRole::ALL {
            assert_eq!(StaffRole::parse(role.as_str()), Some(role));
        }
    }

    #[test]
    fn only_admins_read_the_audit_log_and_manage_staff() {
        for role in StaffRole::ALL {
            let admin = role == StaffRole::Admin;
            assert_eq!(role.may(Permission::ViewAudit), admin, "{role}");
            assert_eq!(role.may(Permission::ManageStaff), admin, "{role}");
        }
    }

    #[test]
    fn cases_are_handled_at_the_counter_and_assigned_by_admins() {
        for role in StaffRole::ALL {
            let counter = matches!(role, StaffRole::Clerk | StaffRole::Admin);
            assert_eq!(role.may(Permission::HandleCases), counter, "{role}");
            assert_eq!(
                role.may(Permission::ManageCases),
                role == StaffRole::Admin,
                "{role}"
            );
        }
    }

    #[test]
    fn the_counter_and_the_field_crews_publish_outage_notices_billing_does_not() {
        for role in StaffRole::ALL {
            assert_eq!(
                role.may(Permission::PublishOutages),
                role != StaffRole::Billing,
                "{role}"
            );
        }
    }

    #[test]
    fn failure_reports_reach_the_counter_and_the_field_crews_not_billing() {
        for role in StaffRole::ALL {
            assert_eq!(
                role.may(Permission::HandleFailureReports),
                role != StaffRole::Billing,
                "{role}"
            );
        }
    }

    #[test]
    fn the_water_balance_is_the_field_crews_and_admins_not_the_counters_or_billings() {
        for role in StaffRole::ALL {
            let network = matches!(role, StaffRole::Technician | StaffRole::Admin);
            assert_eq!(role.may(Permission::WaterBalance), network, "{role}");
        }
    }

    #[test]
    fn the_counter_and_admins_keep_the_booking_calendars() {
        for role in StaffRole::ALL {
            let counter = matches!(role, StaffRole::Clerk | StaffRole::Admin);
            assert_eq!(role.may(Permission::ManageBookings), counter, "{role}");
        }
    }

    #[test]
    fn every_role_finds_customers_but_only_the_counter_acts_for_them() {
        for role in StaffRole::ALL {
            assert!(role.may(Permission::ViewCustomers), "{role}");
        }
        assert!(StaffRole::Clerk.may(Permission::ActForResidents));
        assert!(!StaffRole::Technician.may(Permission::ActForResidents));
        assert!(!StaffRole::Billing.may(Permission::ActForResidents));
        assert!(!StaffRole::Billing.may(Permission::ManageMeters));
    }

    #[test]
    fn billing_manages_tariffs_and_runs_the_counter_only_sees_invoices() {
        assert!(StaffRole::Billing.may(Permission::ManageBilling));
        assert!(StaffRole::Admin.may(Permission::ManageBilling));
        assert!(!StaffRole::Clerk.may(Permission::ManageBilling));
        assert!(!StaffRole::Technician.may(Permission::ManageBilling));
        assert!(StaffRole::Clerk.may(Permission::ViewInvoices));
        assert!(!StaffRole::Technician.may(Permission::ViewInvoices));
        assert!(!StaffRole::Technician.may(Permission::EditCustomers));
    }
}
