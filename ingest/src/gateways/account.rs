//! Broker accounts and the rules that make them: a gateway's name, its MQTT username, the topics
//! it may publish to, and an account's password-file line and ACL block. Pure: no files, no
//! broker.
//!
//! - A gateway is named `[a-z0-9-]{1,40}` within its utility; its username is
//!   `<utility-slug>.<name>` (`mlynary.sim`). Neither part may contain a dot, so the username is
//!   unique per (utility, name) and splits back into both; it never contains `/`, `+` or `#`
//!   (which MQTT topic patterns would read as levels or wildcards) nor `:` (the password file's
//!   separator).
//! - What a gateway may publish to is derived from ingest's topic filters: each filter with its
//!   utility level (the first `+`, see `crate::mqtt::first_wildcard_level`) replaced by the
//!   gateway's utility, so `ebok/+/readings` gives `ebok/mlynary/readings` and `wmbusmeters/+/#`
//!   gives `wmbusmeters/mlynary/#`. The topic, guarded by the broker's ACL, is then what says
//!   whose readings a message carries.

use std::fmt;

use super::hash::PasswordHash;

/// The username of ingest's own account on the local stack's broker.
pub const INGEST_USERNAME: &str = "ebok-ingest";

/// A gateway's name within its utility: `[a-z0-9-]{1,40}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GatewayName(String);

/// A utility's slug, as the `utilities` table allows it: `[a-z0-9][a-z0-9-]{1,62}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UtilitySlug(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("a gateway name is 1 to 40 of a-z, 0-9 and -, got {0:?}")]
    Gateway(String),
    #[error("a utility slug starts with a-z or 0-9 and has 2 to 63 of a-z, 0-9 and -, got {0:?}")]
    Utility(String),
}

fn plain(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl GatewayName {
    pub fn parse(text: &str) -> Result<GatewayName, NameError> {
        if (1..=40).contains(&text.len()) && plain(text) {
            Ok(GatewayName(text.to_string()))
        } else {
            Err(NameError::Gateway(text.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl UtilitySlug {
    pub fn parse(text: &str) -> Result<UtilitySlug, NameError> {
        if (2..=63).contains(&text.len()) && plain(text) && !text.starts_with('-') {
            Ok(UtilitySlug(text.to_string()))
        } else {
            Err(NameError::Utility(text.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GatewayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for UtilitySlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The MQTT username of gateway `name` of utility `slug`: `<slug>.<name>`.
pub fn gateway_username(slug: &UtilitySlug, name: &GatewayName) -> String {
    format!("{slug}.{name}")
}

/// The utility and gateway a gateway username names (the inverse of [`gateway_username`]).
pub fn parse_gateway_username(username: &str) -> Option<(UtilitySlug, GatewayName)> {
    let (slug, name) = username.split_once('.')?;
    Some((
        UtilitySlug::parse(slug).ok()?,
        GatewayName::parse(name).ok()?,
    ))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("topic filter {0:?} has no `+` level naming the utility (like ebok/+/readings)")]
pub struct NoUtilityLevel(pub String);

/// The topics a gateway of `slug` may publish to: each of ingest's `filters` with its first
/// `+` level replaced by the slug.
pub fn publish_topics<'f>(
    filters: impl IntoIterator<Item = &'f str>,
    slug: &UtilitySlug,
) -> Result<Vec<String>, NoUtilityLevel> {
    filters
        .into_iter()
        .map(|filter| {
            let mut levels: Vec<&str> = filter.split('/').collect();
            let utility = levels
                .iter()
                .position(|l| *l == "+")
                .ok_or_else(|| NoUtilityLevel(filter.to_string()))?;
            levels[utility] = slug.as_str();
            Ok(levels.join("/"))
        })
        .collect()
}

/// What an ACL rule allows on its topic pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Receive messages published to matching topics (Mosquitto checks it per delivered message).
    Read,
    /// Publish to matching topics.
    Write,
}

/// One `topic <access> <pattern>` line of an ACL block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub access: Access,
    pub topic: String,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let access = match self.access {
            Access::Read => "read",
            Access::Write => "write",
        };
        write!(f, "topic {access} {}", self.topic)
    }
}

/// A broker account: username, password hash and ACL rules (none: the account may neither
/// publish nor receive anything).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub username: String,
    pub hash: PasswordHash,
    pub rules: Vec<Rule>,
}

impl Account {
    /// Gateway `name` of utility `slug`, publishing only, under the utility's topics of
    /// `filters`.
    pub fn gateway<'f>(
        slug: &UtilitySlug,
        name: &GatewayName,
        hash: PasswordHash,
        filters: impl IntoIterator<Item = &'f str>,
    ) -> Result<Account, NoUtilityLevel> {
        Ok(Account {
            username: gateway_username(slug, name),
            hash,
            rules: publish_topics(filters, slug)?
                .into_iter()
                .map(|topic| Rule {
                    access: Access::Write,
                    topic,
                })
                .collect(),
        })
    }

    /// Ingest's own account on the local stack's broker: it receives every topic (tests and the
    /// demo choose their own topic prefixes) and publishes nothing.
    pub fn ingest(hash: PasswordHash) -> Account {
        Account {
            username: INGEST_USERNAME.to_string(),
            hash,
            rules: vec![Rule {
                access: Access::Read,
                topic: "#".into(),
            }],
        }
    }

    /// The account's line in a Mosquitto password file.
    pub fn password_line(&self) -> String {
        format!("{}:{}", self.username, self.hash)
    }

    /// The account's block in a Mosquitto ACL file (`user …` and its `topic …` lines).
    pub fn acl_block(&self) -> String {
        let mut block = format!("user {}\n", self.username);
        for rule in &self.rules {
            block.push_str(&format!("{rule}\n"));
        }
        block
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn slug(s: &str) -> UtilitySlug {
        UtilitySlug::parse(s).unwrap()
    }

    fn name(s: &str) -> GatewayName {
        GatewayName::parse(s).unwrap()
    }

    #[test]
    fn gateway_names_are_short_lowercase_words() {
        assert!(GatewayName::parse("sim").is_ok());
        assert!(GatewayName::parse("gw-01").is_ok());
        assert!(GatewayName::parse(&"a".repeat(40)).is_ok());
        for bad in [
            "",
            "Sim",
            "gw_01",
            "gw.01",
            "gw/01",
            "gw+",
            "#",
            &"a".repeat(41),
        ] {
            assert!(GatewayName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn utility_slugs_follow_the_tables_rule() {
        assert!(UtilitySlug::parse("mlynary").is_ok());
        assert!(UtilitySlug::parse("9-x").is_ok());
        for bad in ["a", "-ab", "Ab", "a.b", "a/b", &"a".repeat(64)] {
            assert!(UtilitySlug::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_gateway_publishes_only_under_its_utility_of_every_filter() {
        let account = Account::gateway(
            &slug("mlynary"),
            &name("sim"),
            PasswordHash::new("x"),
            ["ebok/+/readings", "wmbusmeters/+/#"],
        )
        .unwrap();
        assert_eq!(account.username, "mlynary.sim");
        assert_eq!(
            account.acl_block(),
            "user mlynary.sim\ntopic write ebok/mlynary/readings\ntopic write wmbusmeters/mlynary/#\n"
        );
    }

    #[test]
    fn test_prefixes_and_later_wildcards_are_kept() {
        let topics = publish_topics(
            ["t/ingest-1-2/+/readings", "t/x-wmbus/+/#", "a/+/b/+"],
            &slug("alfa"),
        )
        .unwrap();
        assert_eq!(
            topics,
            [
                "t/ingest-1-2/alfa/readings",
                "t/x-wmbus/alfa/#",
                "a/alfa/b/+"
            ]
        );
    }

    #[test]
    fn a_filter_without_a_utility_level_is_refused() {
        assert_eq!(
            publish_topics(["wmbusmeters/#"], &slug("alfa")),
            Err(NoUtilityLevel("wmbusmeters/#".into()))
        );
    }

    #[test]
    fn ingest_reads_everything_and_writes_nothing() {
        let account = Account::ingest(PasswordHash::new("x"));
        assert_eq!(account.acl_block(), "user ebok-ingest\ntopic read #\n");
        assert!(account.password_line().starts_with("ebok-ingest:$7$101$"));
    }

    proptest! {
        #[test]
        fn usernames_are_unique_per_utility_and_name_and_safe_in_mqtt(
            s in "[a-z0-9][a-z0-9-]{1,20}",
            n in "[a-z0-9-]{1,40}",
        ) {
            let username = gateway_username(&slug(&s), &name(&n));
            prop_assert!(!username.contains(['/', '+', '#', ':', ' ']));
            // It splits back into exactly the utility and the name: no two pairs share one.
            prop_assert_eq!(parse_gateway_username(&username), Some((slug(&s), name(&n))));
            prop_assert_ne!(username.as_str(), INGEST_USERNAME);
        }

        #[test]
        fn derived_topics_match_their_filter_and_name_the_utility(
            prefix in "[a-z0-9]{1,8}(/[a-z0-9-]{1,8}){0,2}",
            s in "[a-z0-9][a-z0-9-]{1,20}",
        ) {
            let filter = format!("{prefix}/+/readings");
            let topics = publish_topics([filter.as_str()], &slug(&s)).unwrap();
            prop_assert!(crate::mqtt::topic_matches(&filter, &topics[0]));
            prop_assert_eq!(crate::mqtt::first_wildcard_level(&filter, &topics[0]), Some(s.as_str()));
        }
    }
}
