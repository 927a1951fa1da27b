//! The local broker's password file and ACL file as text: read, changed one account at a time,
//! written back. Pure: the caller reads and writes the files (see `super::broker`).
//!
//! Many processes share one broker (every test process, `ebok gateway`, the stack), each with
//! its own database, so the files are never regenerated from one source: a change replaces,
//! adds or removes exactly one account's password line and ACL block and keeps everything else
//! as it was, comments included.
//!
//! The formats are Mosquitto 2.0's:
//! - password file: `user:hash` per line; lines starting with `#` are comments.
//! - ACL file: a `user <name>` line opens that user's block of `topic <access> <pattern>` lines,
//!   which runs until the next `user` line. Lines before the first `user` line apply to
//!   anonymous clients, which this broker refuses; ebok keeps only comments there.

use super::account::Account;

const PASSWORD_HEADER: &str = "# Mosquitto password file, managed by ebok (the local stack, `ebok gateway`).\n\
# One account per line: user:$7$<iterations>$<salt>$<PBKDF2-SHA512 hash>. Changes are merged\n\
# one account at a time under accounts.lock and the broker reloads them (SIGHUP).";

const ACL_HEADER: &str = "# Mosquitto ACL file, managed by ebok (the local stack, `ebok gateway`).\n\
# One block per account: `user <name>`, then what it may read or write. Anonymous clients are\n\
# refused (allow_anonymous false); an account without a block may do nothing.";

#[derive(Debug, Clone, PartialEq, Eq)]
enum PasswordLine {
    Entry {
        user: String,
        hash: String,
    },
    /// Comments and anything else, kept as it was.
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct AclBlock {
    user: String,
    lines: Vec<String>,
}

/// Both files of one broker, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountFiles {
    passwords: Vec<PasswordLine>,
    acl_preamble: Vec<String>,
    acl: Vec<AclBlock>,
}

impl AccountFiles {
    /// Reads the two files' text (empty text: a file that does not exist yet).
    pub fn parse(passwords: &str, acl: &str) -> AccountFiles {
        let mut password_lines: Vec<PasswordLine> = passwords
            .lines()
            .map(|line| match line.split_once(':') {
                Some((user, hash)) if !line.starts_with('#') && !user.trim().is_empty() => {
                    PasswordLine::Entry {
                        user: user.trim().to_string(),
                        hash: hash.trim().to_string(),
                    }
                }
                _ => PasswordLine::Other(line.to_string()),
            })
            .collect();
        if passwords.trim().is_empty() {
            password_lines = PASSWORD_HEADER
                .lines()
                .map(|l| PasswordLine::Other(l.to_string()))
                .collect();
        }

        let mut acl_preamble = Vec::new();
        let mut blocks: Vec<AclBlock> = Vec::new();
        for line in acl.lines() {
            match line.trim().strip_prefix("user ") {
                Some(user) => blocks.push(AclBlock {
                    user: user.trim().to_string(),
                    lines: Vec::new(),
                }),
                None if line.trim().is_empty() => {}
                None => match blocks.last_mut() {
                    Some(block) => block.lines.push(line.trim().to_string()),
                    None => acl_preamble.push(line.to_string()),
                },
            }
        }
        if acl.trim().is_empty() {
            acl_preamble = ACL_HEADER.lines().map(str::to_string).collect();
        }
        AccountFiles {
            passwords: password_lines,
            acl_preamble,
            acl: blocks,
        }
    }

    /// Adds `account`, or replaces the account of that username (its password line and ACL
    /// block; without rules it has no block).
    pub fn upsert(&mut self, account: &Account) {
        let hash = account.hash.to_string();
        let mut replaced = false;
        self.passwords.retain_mut(|line| match line {
            PasswordLine::Entry { user, hash: old } if *user == account.username => {
                if replaced {
                    return false; // a duplicate: Mosquitto's behaviour with two is undefined
                }
                *old = hash.clone();
                replaced = true;
                true
            }
            _ => true,
        });
        if !replaced {
            self.passwords.push(PasswordLine::Entry {
                user: account.username.clone(),
                hash,
            });
        }
        let at = self.acl.iter().position(|b| b.user == account.username);
        self.acl.retain(|b| b.user != account.username);
        if !account.rules.is_empty() {
            let block = AclBlock {
                user: account.username.clone(),
                lines: account.rules.iter().map(|r| r.to_string()).collect(),
            };
            self.acl.insert(at.unwrap_or(self.acl.len()), block);
        }
    }

    /// Removes the account `username`; `false` if there was none.
    pub fn remove(&mut self, username: &str) -> bool {
        let before = (self.passwords.len(), self.acl.len());
        self.passwords
            .retain(|line| !matches!(line, PasswordLine::Entry { user, .. } if user == username));
        self.acl.retain(|b| b.user != username);
        before != (self.passwords.len(), self.acl.len())
    }

    /// The stored hash of `username` (the text after `user:`), if it has an account.
    pub fn hash_of(&self, username: &str) -> Option<&str> {
        self.passwords.iter().find_map(|line| match line {
            PasswordLine::Entry { user, hash } if user == username => Some(hash.as_str()),
            _ => None,
        })
    }

    /// The ACL lines of `username` (empty: no block).
    pub fn rules_of(&self, username: &str) -> Vec<&str> {
        self.acl
            .iter()
            .filter(|b| b.user == username)
            .flat_map(|b| b.lines.iter().map(String::as_str))
            .collect()
    }

    /// Every username with a password line, in file order.
    pub fn usernames(&self) -> Vec<&str> {
        self.passwords
            .iter()
            .filter_map(|line| match line {
                PasswordLine::Entry { user, .. } => Some(user.as_str()),
                PasswordLine::Other(_) => None,
            })
            .collect()
    }

    pub fn render_passwords(&self) -> String {
        let mut text = String::new();
        for line in &self.passwords {
            match line {
                PasswordLine::Entry { user, hash } => text.push_str(&format!("{user}:{hash}\n")),
                PasswordLine::Other(other) => {
                    text.push_str(other);
                    text.push('\n');
                }
            }
        }
        text
    }

    pub fn render_acl(&self) -> String {
        let mut text = String::new();
        for line in &self.acl_preamble {
            text.push_str(line);
            text.push('\n');
        }
        for block in &self.acl {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&format!("user {}\n", block.user));
            for line in &block.lines {
                text.push_str(line);
                text.push('\n');
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateways::account::{Access, Rule};
    use crate::gateways::hash::PasswordHash;
    use proptest::prelude::*;

    fn account(username: &str, topics: &[&str]) -> Account {
        Account {
            username: username.into(),
            hash: PasswordHash::with_salt(username, [7; 12], 1),
            rules: topics
                .iter()
                .map(|t| Rule {
                    access: Access::Write,
                    topic: t.to_string(),
                })
                .collect(),
        }
    }

    #[test]
    fn new_files_start_with_a_header_and_hold_the_first_account() {
        let mut files = AccountFiles::parse("", "");
        files.upsert(&account("alfa.gw", &["ebok/alfa/readings"]));
        let passwords = files.render_passwords();
        assert!(passwords.starts_with("# Mosquitto password file"));
        assert!(passwords.ends_with(&format!("{}\n", account("alfa.gw", &[]).password_line())));
        let acl = files.render_acl();
        assert!(acl.starts_with("# Mosquitto ACL file"));
        assert!(
            acl.ends_with("\nuser alfa.gw\ntopic write ebok/alfa/readings\n"),
            "{acl}"
        );
    }

    #[test]
    fn replacing_an_account_changes_only_its_lines() {
        let mut files = AccountFiles::parse("", "");
        files.upsert(&account("a.one", &["x/a/1"]));
        files.upsert(&account("b.two", &["x/b/2"]));
        let mut rekeyed = account("a.one", &["x/a/1", "y/a/#"]);
        rekeyed.hash = PasswordHash::with_salt("new", [1; 12], 1);
        files.upsert(&rekeyed);
        assert_eq!(files.usernames(), ["a.one", "b.two"], "order kept");
        assert_eq!(
            files.hash_of("a.one"),
            Some(rekeyed.hash.to_string().as_str())
        );
        assert_eq!(
            files.rules_of("a.one"),
            ["topic write x/a/1", "topic write y/a/#"]
        );
        assert_eq!(files.rules_of("b.two"), ["topic write x/b/2"]);
    }

    #[test]
    fn removing_an_account_removes_its_line_and_block() {
        let mut files = AccountFiles::parse("", "");
        files.upsert(&account("a.one", &["x/a/1"]));
        files.upsert(&account("b.two", &["x/b/2"]));
        assert!(files.remove("a.one"));
        assert!(!files.remove("a.one"), "already gone");
        assert_eq!(files.usernames(), ["b.two"]);
        assert!(files.rules_of("a.one").is_empty());
        assert!(!files.render_acl().contains("a.one"));
    }

    #[test]
    fn an_account_without_rules_has_no_acl_block() {
        let mut files = AccountFiles::parse("", "");
        files.upsert(&account("marker", &[]));
        assert!(files.hash_of("marker").is_some());
        assert!(!files.render_acl().contains("user marker"));
    }

    #[test]
    fn comments_and_lines_written_by_hand_survive_a_merge() {
        let passwords = "# operator's note\nold:$6$x$y\n";
        let acl = "# top\n\nuser old\n# why old may read\ntopic read old/#\n";
        let mut files = AccountFiles::parse(passwords, acl);
        files.upsert(&account("new.gw", &["n/new/x"]));
        assert_eq!(
            files.render_passwords(),
            format!(
                "# operator's note\nold:$6$x$y\n{}\n",
                account("new.gw", &[]).password_line()
            )
        );
        assert_eq!(
            files.render_acl(),
            "# top\n\nuser old\n# why old may read\ntopic read old/#\n\nuser new.gw\ntopic write n/new/x\n"
        );
    }

    fn accounts() -> impl Strategy<Value = Vec<Account>> {
        proptest::collection::btree_map(
            "[a-z]{1,6}\\.[a-z0-9-]{1,6}",
            proptest::collection::vec("[a-z]{1,4}/[a-z+#]{1,4}", 0..3),
            0..8,
        )
        .prop_map(|m| {
            m.into_iter()
                .map(|(user, topics)| {
                    let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
                    account(&user, &topics)
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn a_merge_keeps_every_other_account_exactly(
            existing in accounts(),
            change in accounts().prop_filter("one", |a| !a.is_empty()),
            remove in any::<bool>(),
        ) {
            let mut files = AccountFiles::parse("", "");
            for a in &existing {
                files.upsert(a);
            }
            // As another process would find them: written and read back.
            let mut merged = AccountFiles::parse(&files.render_passwords(), &files.render_acl());
            prop_assert_eq!(&merged, &files);
            let target = &change[0];
            if remove {
                merged.remove(&target.username);
                prop_assert_eq!(merged.hash_of(&target.username), None);
            } else {
                merged.upsert(target);
                let hash = target.hash.to_string();
                prop_assert_eq!(merged.hash_of(&target.username), Some(hash.as_str()));
                let expected: Vec<String> = target.rules.iter().map(|r| r.to_string()).collect();
                prop_assert_eq!(merged.rules_of(&target.username), expected);
            }
            for other in existing.iter().filter(|a| a.username != target.username) {
                prop_assert_eq!(merged.hash_of(&other.username), files.hash_of(&other.username));
                prop_assert_eq!(merged.rules_of(&other.username), files.rules_of(&other.username));
            }
            let reread = AccountFiles::parse(&merged.render_passwords(), &merged.render_acl());
            prop_assert_eq!(reread, merged);
        }

        #[test]
        fn upserting_twice_is_upserting_once(existing in accounts(), change in accounts().prop_filter("one", |a| !a.is_empty())) {
            let mut files = AccountFiles::parse("", "");
            for a in &existing {
                files.upsert(a);
            }
            files.upsert(&change[0]);
            let once = files.clone();
            files.upsert(&change[0]);
            prop_assert_eq!(files, once);
        }
    }
}
