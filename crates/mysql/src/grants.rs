//! Reading `SHOW GRANTS` and `SHOW CREATE USER` output structurally, and the statements
//! that make one account's grants equal to another's.
//!
//! Each `SHOW GRANTS` line is tokenized (backtick identifiers, quoted strings, words,
//! punctuation), so a user, database or column name can never be mistaken for a keyword.
//! Lines become a set of [`Grant`]s: one per privilege, object and column, the objects
//! holding `WITH GRANT OPTION`, and role memberships. Everything after `TO <account>` is
//! read only for `WITH GRANT OPTION` / `WITH ADMIN OPTION`: an `IDENTIFIED BY PASSWORD`
//! clause (MariaDB prints the account's hash there) is never replayed, and the TLS
//! requirement and resource limits are copied from `mysql.user` instead.
//!
//! Not handled (reported by [`Grants::unsupported`], logged as a warning, left as they
//! are): `PROXY` grants.

use std::collections::BTreeSet;

use crate::sql::quote_ident;

/// A token of a MySQL statement as `SHOW GRANTS` prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Token {
    /// A bare word, upper-cased (`SELECT`, `ON`, `*`-free).
    Word(String),
    /// A backtick-quoted identifier, unquoted.
    Ident(String),
    /// A single- or double-quoted string, unquoted (may hold a password hash: never log).
    Str(String),
    /// `*`, `.`, `,`, `(`, `)`, `@`, `=`.
    Punct(char),
}

/// Split `line` into tokens. Strings follow MySQL's output: `''` and `\x` escapes.
pub(crate) fn tokenize(line: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '`' => {
                let mut s = String::new();
                while let Some(c) = chars.next() {
                    if c == '`' {
                        if chars.peek() == Some(&'`') {
                            chars.next();
                            s.push('`');
                        } else {
                            break;
                        }
                    } else {
                        s.push(c);
                    }
                }
                out.push(Token::Ident(s));
            }
            '\'' | '"' => {
                let quote = c;
                let mut s = String::new();
                while let Some(c) = chars.next() {
                    if c == quote {
                        if chars.peek() == Some(&quote) {
                            chars.next();
                            s.push(quote);
                        } else {
                            break;
                        }
                    } else if c == '\\' {
                        match chars.next() {
                            Some('0') => s.push('\0'),
                            Some('n') => s.push('\n'),
                            Some('r') => s.push('\r'),
                            Some('t') => s.push('\t'),
                            Some(other) => s.push(other),
                            None => {}
                        }
                    } else {
                        s.push(c);
                    }
                }
                out.push(Token::Str(s));
            }
            '*' | '.' | ',' | '(' | ')' | '@' | '=' | ';' => out.push(Token::Punct(c)),
            _ => {
                let mut s = String::from(c);
                while let Some(&n) = chars.peek() {
                    if n.is_whitespace() || "`'\"*.,()@=;".contains(n) {
                        break;
                    }
                    s.push(n);
                    chars.next();
                }
                out.push(Token::Word(s.to_ascii_uppercase()));
            }
        }
    }
    out
}

/// The object of a privilege.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Object {
    /// `""`, `PROCEDURE`, `FUNCTION`, `PACKAGE`, `PACKAGE BODY`.
    pub kind: String,
    /// The database (`None` = `*`).
    pub db: Option<String>,
    /// The table or routine (`None` = `*`).
    pub name: Option<String>,
}

impl Object {
    /// As SQL: `*.*`, `` `db`.* ``, `` PROCEDURE `db`.`p` ``.
    pub fn sql(&self) -> String {
        let part = |p: &Option<String>| p.as_deref().map_or("*".to_owned(), quote_ident);
        let target = match (&self.db, &self.name) {
            (None, None) => "*.*".to_owned(),
            (db, name) => format!("{}.{}", part(db), part(name)),
        };
        if self.kind.is_empty() {
            target
        } else {
            format!("{} {target}", self.kind)
        }
    }
}

/// One privilege on one object (and column, for column grants).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Grant {
    /// The privilege, upper case, words separated by one space (`SELECT`,
    /// `CREATE TEMPORARY TABLES`, `ALL PRIVILEGES`).
    pub privilege: String,
    /// What it is on.
    pub object: Object,
    /// The column, for a column grant.
    pub column: Option<String>,
}

impl Grant {
    fn privilege_sql(&self) -> String {
        match &self.column {
            Some(c) => format!("{} ({})", self.privilege, quote_ident(c)),
            None => self.privilege.clone(),
        }
    }
}

/// A role (MariaDB: a name; MySQL 8: a name and a host).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Role {
    /// The role name.
    pub name: String,
    /// MySQL 8 roles are accounts.
    pub host: Option<String>,
}

impl Role {
    fn sql(&self) -> String {
        match &self.host {
            Some(h) => format!("{}@{}", quote_ident(&self.name), quote_ident(h)),
            None => quote_ident(&self.name),
        }
    }
}

/// An account's grants, read from `SHOW GRANTS`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grants {
    /// Privileges (USAGE is not one).
    pub privileges: BTreeSet<Grant>,
    /// Objects on which the account holds `WITH GRANT OPTION`.
    pub grant_option: BTreeSet<Object>,
    /// Role memberships, with `WITH ADMIN OPTION` or not.
    pub roles: BTreeSet<(Role, bool)>,
    /// MariaDB's default role (`SET DEFAULT ROLE r FOR a`).
    pub default_role: Option<Role>,
    /// Lines this module does not reproduce (PROXY grants), with the reason.
    pub unsupported: Vec<String>,
}

/// A `SHOW GRANTS` line that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot read a SHOW GRANTS line ({0}); refusing to guess the grants")]
pub struct GrantParseError(pub &'static str);

fn object(tokens: &[Token], i: &mut usize) -> Result<Object, GrantParseError> {
    let mut kind = String::new();
    while let Some(Token::Word(w)) = tokens.get(*i) {
        if !matches!(w.as_str(), "PROCEDURE" | "FUNCTION" | "PACKAGE" | "BODY") {
            break;
        }
        if !kind.is_empty() {
            kind.push(' ');
        }
        kind.push_str(w);
        *i += 1;
    }
    let part = |t: Option<&Token>| -> Result<Option<String>, GrantParseError> {
        match t {
            Some(Token::Punct('*')) => Ok(None),
            Some(Token::Ident(s)) => Ok(Some(s.clone())),
            Some(Token::Word(w)) => Ok(Some(w.to_ascii_lowercase())),
            _ => Err(GrantParseError("unexpected object name")),
        }
    };
    let first = part(tokens.get(*i))?;
    *i += 1;
    if tokens.get(*i) == Some(&Token::Punct('.')) {
        *i += 1;
        let second = part(tokens.get(*i))?;
        *i += 1;
        Ok(Object {
            kind,
            db: first,
            name: second,
        })
    } else {
        // `GRANT ... ON *` (the current database) or `ON t`: not printed by SHOW GRANTS.
        Err(GrantParseError("object without a database"))
    }
}

fn role_at(tokens: &[Token], i: &mut usize) -> Result<Role, GrantParseError> {
    let name = match tokens.get(*i) {
        Some(Token::Ident(s) | Token::Str(s)) => s.clone(),
        Some(Token::Word(w)) => w.clone(),
        _ => return Err(GrantParseError("unexpected role name")),
    };
    *i += 1;
    let host = if tokens.get(*i) == Some(&Token::Punct('@')) {
        *i += 1;
        let h = match tokens.get(*i) {
            Some(Token::Ident(s) | Token::Str(s)) => s.clone(),
            _ => return Err(GrantParseError("unexpected role host")),
        };
        *i += 1;
        Some(h)
    } else {
        None
    };
    Ok(Role { name, host })
}

fn has_words(tokens: &[Token], words: &[&str]) -> bool {
    tokens.windows(words.len()).any(|w| {
        w.iter()
            .zip(words)
            .all(|(t, want)| matches!(t, Token::Word(x) if x == want))
    })
}

impl Grants {
    /// Read the rows of `SHOW GRANTS FOR <account>`.
    pub fn parse<S: AsRef<str>>(lines: &[S]) -> Result<Grants, GrantParseError> {
        let mut grants = Grants::default();
        for line in lines {
            grants.add_line(line.as_ref())?;
        }
        Ok(grants)
    }

    fn add_line(&mut self, line: &str) -> Result<(), GrantParseError> {
        let tokens = tokenize(line);
        let mut i = 0;
        match tokens.first() {
            Some(Token::Word(w)) if w == "GRANT" => i += 1,
            Some(Token::Word(w)) if w == "SET" => {
                // SET DEFAULT ROLE <role> FOR <account>
                if !has_words(&tokens[..3.min(tokens.len())], &["SET", "DEFAULT", "ROLE"]) {
                    return Err(GrantParseError("unexpected SET line"));
                }
                let mut j = 3;
                if matches!(tokens.get(j), Some(Token::Word(w)) if w == "NONE") {
                    self.default_role = None;
                } else {
                    self.default_role = Some(role_at(&tokens, &mut j)?);
                }
                return Ok(());
            }
            _ => {
                return Err(GrantParseError(
                    "a line that is not GRANT or SET DEFAULT ROLE",
                ));
            }
        }
        // The privilege list, up to ON (privileges) or TO (roles), at depth 0.
        let mut privileges: Vec<(String, Vec<String>)> = Vec::new();
        let mut words: Vec<String> = Vec::new();
        let mut columns: Vec<String> = Vec::new();
        let mut role_tokens: Option<usize> = None;
        loop {
            match tokens.get(i) {
                None => return Err(GrantParseError("no ON or TO")),
                Some(Token::Word(w)) if w == "ON" || w == "TO" => {
                    if w == "TO" {
                        role_tokens = Some(i);
                    }
                    if !words.is_empty() {
                        privileges.push((words.join(" "), std::mem::take(&mut columns)));
                        words.clear();
                    }
                    i += 1;
                    break;
                }
                Some(Token::Word(w)) => {
                    words.push(w.clone());
                    i += 1;
                }
                Some(Token::Punct(',')) => {
                    if words.is_empty() {
                        return Err(GrantParseError("empty privilege"));
                    }
                    privileges.push((words.join(" "), std::mem::take(&mut columns)));
                    words.clear();
                    i += 1;
                }
                Some(Token::Punct('(')) => {
                    i += 1;
                    loop {
                        match tokens.get(i) {
                            Some(Token::Ident(c)) => columns.push(c.clone()),
                            Some(Token::Word(c)) => columns.push(c.to_ascii_lowercase()),
                            Some(Token::Punct(',')) => {}
                            Some(Token::Punct(')')) => break,
                            _ => return Err(GrantParseError("bad column list")),
                        }
                        i += 1;
                    }
                    i += 1;
                }
                Some(Token::Ident(_) | Token::Str(_)) if role_tokens.is_none() => {
                    // A role grant: GRANT `role`[@`host`] TO <account> [WITH ADMIN OPTION].
                    let mut j = i;
                    let role = role_at(&tokens, &mut j)?;
                    if !matches!(tokens.get(j), Some(Token::Word(w)) if w == "TO") {
                        return Err(GrantParseError("role grant without TO"));
                    }
                    let admin = has_words(&tokens[j..], &["WITH", "ADMIN", "OPTION"]);
                    self.roles.insert((role, admin));
                    return Ok(());
                }
                Some(_) => return Err(GrantParseError("unexpected token in privilege list")),
            }
        }
        if role_tokens.is_some() {
            return Err(GrantParseError("role grant without a role name"));
        }
        if privileges.iter().any(|(p, _)| p == "PROXY") {
            self.unsupported
                .push("a PROXY grant (not copied to the clone)".to_owned());
            return Ok(());
        }
        let object = object(&tokens, &mut i)?;
        // The rest: TO <account> [IDENTIFIED ...] [REQUIRE ...] [WITH ...]. Only the grant
        // option is read here.
        if has_words(&tokens[i..], &["WITH", "GRANT", "OPTION"])
            || has_words(&tokens[i..], &["GRANT", "OPTION"])
        {
            self.grant_option.insert(object.clone());
        }
        for (privilege, columns) in privileges {
            if privilege == "USAGE" {
                continue;
            }
            if columns.is_empty() {
                self.privileges.insert(Grant {
                    privilege,
                    object: object.clone(),
                    column: None,
                });
            } else {
                for column in columns {
                    self.privileges.insert(Grant {
                        privilege: privilege.clone(),
                        object: object.clone(),
                        column: Some(column),
                    });
                }
            }
        }
        Ok(())
    }

    /// The statements that make `account`'s grants (`self`) equal to `target`'s:
    /// revocations first (so `ALL PRIVILEGES` replacing single privileges, or the
    /// reverse, ends right), then grants. Empty when they are already equal.
    pub fn statements_to_match(&self, target: &Grants, account: &str) -> Vec<String> {
        let mut out = Vec::new();
        for g in self.privileges.difference(&target.privileges) {
            out.push(format!(
                "REVOKE {} ON {} FROM {account}",
                g.privilege_sql(),
                g.object.sql()
            ));
        }
        for o in self.grant_option.difference(&target.grant_option) {
            out.push(format!("REVOKE GRANT OPTION ON {} FROM {account}", o.sql()));
        }
        for (role, admin) in self.roles.difference(&target.roles) {
            if target.roles.contains(&(role.clone(), !admin)) {
                if *admin {
                    out.push(format!(
                        "REVOKE ADMIN OPTION FOR {} FROM {account}",
                        role.sql()
                    ));
                }
            } else {
                out.push(format!("REVOKE {} FROM {account}", role.sql()));
            }
        }
        for g in target.privileges.difference(&self.privileges) {
            out.push(format!(
                "GRANT {} ON {} TO {account}",
                g.privilege_sql(),
                g.object.sql()
            ));
        }
        for o in target.grant_option.difference(&self.grant_option) {
            out.push(format!(
                "GRANT USAGE ON {} TO {account} WITH GRANT OPTION",
                o.sql()
            ));
        }
        for (role, admin) in target.roles.difference(&self.roles) {
            let with = if *admin { " WITH ADMIN OPTION" } else { "" };
            out.push(format!("GRANT {} TO {account}{with}", role.sql()));
        }
        if self.default_role != target.default_role {
            out.push(match &target.default_role {
                Some(r) => format!("SET DEFAULT ROLE {} FOR {account}", r.sql()),
                None => format!("SET DEFAULT ROLE NONE FOR {account}"),
            });
        }
        out
    }
}

/// The auth plugin in `SHOW CREATE USER` output: MariaDB `IDENTIFIED VIA p` (the first
/// one), `IDENTIFIED BY PASSWORD` (mysql_native_password); MySQL `IDENTIFIED WITH 'p'`.
/// No `IDENTIFIED` clause: mysql_native_password (no password).
pub fn plugin_of(show_create_user: &str) -> String {
    let tokens = tokenize(show_create_user);
    for w in tokens.windows(3) {
        if let [Token::Word(a), Token::Word(b), third] = w
            && a == "IDENTIFIED"
        {
            match (b.as_str(), third) {
                ("VIA" | "WITH", Token::Word(p)) => return p.to_ascii_lowercase(),
                ("VIA" | "WITH", Token::Str(p) | Token::Ident(p)) => return p.clone(),
                ("BY", _) => return crate::sql::NATIVE.to_owned(),
                _ => {}
            }
        }
    }
    crate::sql::NATIVE.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &[&str] = &[
        "GRANT `zz_role` TO `u`@`localhost`",
        "GRANT USAGE ON *.* TO `u`@`localhost` IDENTIFIED BY PASSWORD '*6891F9D51EB5A38D1BB310DDBC6379A189A4F575' REQUIRE SSL WITH MAX_QUERIES_PER_HOUR 5",
        "GRANT SELECT, INSERT ON `zz db`.* TO `u`@`localhost` WITH GRANT OPTION",
        "GRANT SELECT (`a`, `b``c`), UPDATE (`b``c`) ON `zz db`.`t` TO `u`@`localhost`",
        "GRANT EXECUTE ON PROCEDURE `d`.`p` TO `u`@`localhost`",
        "GRANT CREATE TEMPORARY TABLES, LOCK TABLES ON `d`.* TO `u`@`localhost`",
        "SET DEFAULT ROLE `zz_role` FOR `u`@`localhost`",
    ];

    #[test]
    fn parses_mariadb_output() {
        let g = Grants::parse(BASE).unwrap();
        let names: Vec<String> = g
            .privileges
            .iter()
            .map(|g| format!("{} {} {:?}", g.privilege, g.object.sql(), g.column))
            .collect();
        assert_eq!(
            names,
            [
                "CREATE TEMPORARY TABLES `d`.* None",
                "EXECUTE PROCEDURE `d`.`p` None",
                "INSERT `zz db`.* None",
                "LOCK TABLES `d`.* None",
                "SELECT `zz db`.* None",
                "SELECT `zz db`.`t` Some(\"a\")",
                "SELECT `zz db`.`t` Some(\"b`c\")",
                "UPDATE `zz db`.`t` Some(\"b`c\")",
            ]
        );
        assert_eq!(g.grant_option.len(), 1);
        assert_eq!(g.roles.len(), 1);
        assert_eq!(g.default_role.as_ref().unwrap().name, "zz_role");
        assert!(g.unsupported.is_empty());
    }

    #[test]
    fn hash_never_replayed_and_diff_is_exact() {
        let base = Grants::parse(BASE).unwrap();
        let clone = Grants::parse(&[
            "GRANT USAGE ON *.* TO `u_clone`@`localhost` IDENTIFIED BY PASSWORD '*AAAA'",
            "GRANT SELECT, DELETE ON `zz db`.* TO `u_clone`@`localhost`",
            "GRANT ALL PRIVILEGES ON `other`.* TO `u_clone`@`localhost`",
        ])
        .unwrap();
        let acct = "`u_clone`@`localhost`";
        let sql = clone.statements_to_match(&base, acct);
        let text = sql.join("\n");
        assert!(!text.contains("IDENTIFIED") && !text.contains("*6891") && !text.contains("*AAAA"));
        assert!(!text.contains("REQUIRE"));
        assert_eq!(
            sql,
            [
                "REVOKE ALL PRIVILEGES ON `other`.* FROM `u_clone`@`localhost`",
                "REVOKE DELETE ON `zz db`.* FROM `u_clone`@`localhost`",
                "GRANT CREATE TEMPORARY TABLES ON `d`.* TO `u_clone`@`localhost`",
                "GRANT EXECUTE ON PROCEDURE `d`.`p` TO `u_clone`@`localhost`",
                "GRANT INSERT ON `zz db`.* TO `u_clone`@`localhost`",
                "GRANT LOCK TABLES ON `d`.* TO `u_clone`@`localhost`",
                "GRANT SELECT (`a`) ON `zz db`.`t` TO `u_clone`@`localhost`",
                "GRANT SELECT (`b``c`) ON `zz db`.`t` TO `u_clone`@`localhost`",
                "GRANT UPDATE (`b``c`) ON `zz db`.`t` TO `u_clone`@`localhost`",
                "GRANT USAGE ON `zz db`.* TO `u_clone`@`localhost` WITH GRANT OPTION",
                "GRANT `zz_role` TO `u_clone`@`localhost`",
                "SET DEFAULT ROLE `zz_role` FOR `u_clone`@`localhost`",
            ]
        );
        // Equal grants: nothing to do.
        assert!(base.statements_to_match(&base, acct).is_empty());
        // Reverse direction revokes everything extra.
        let back = base.statements_to_match(&clone, acct);
        assert!(back.contains(&"REVOKE `zz_role` FROM `u_clone`@`localhost`".to_owned()));
        assert!(back.contains(&"SET DEFAULT ROLE NONE FOR `u_clone`@`localhost`".to_owned()));
        assert!(
            back.contains(
                &"REVOKE GRANT OPTION ON `zz db`.* FROM `u_clone`@`localhost`".to_owned()
            )
        );
    }

    #[test]
    fn names_that_look_like_keywords_are_names() {
        let g = Grants::parse(&[
            "GRANT SELECT ON `ON TO GRANT`.`WITH GRANT OPTION` TO `IDENTIFIED BY PASSWORD 'x'`@`%`",
        ])
        .unwrap();
        assert!(g.grant_option.is_empty());
        let only = g.privileges.iter().next().unwrap();
        assert_eq!(only.object.db.as_deref(), Some("ON TO GRANT"));
        assert_eq!(only.object.name.as_deref(), Some("WITH GRANT OPTION"));
    }

    #[test]
    fn mysql8_output_and_unsupported_lines() {
        let g = Grants::parse(&[
            "GRANT USAGE ON *.* TO `u`@`%`",
            "GRANT BACKUP_ADMIN ON *.* TO `u`@`%`",
            "GRANT `r1`@`%` TO `u`@`%` WITH ADMIN OPTION",
            "GRANT PROXY ON ''@'' TO 'u'@'%'",
        ])
        .unwrap();
        assert_eq!(g.privileges.len(), 1);
        let (role, admin) = g.roles.iter().next().unwrap();
        assert_eq!(role.sql(), "`r1`@`%`");
        assert!(*admin);
        assert_eq!(g.unsupported.len(), 1);
        assert!(Grants::parse(&["REVOKE ALL"]).is_err());
        assert!(Grants::parse(&["GRANT SELECT ON t TO x"]).is_err());
    }

    #[test]
    fn plugins() {
        assert_eq!(
            plugin_of(
                "CREATE USER `a`@`%` IDENTIFIED BY PASSWORD '*6891F9D51EB5A38D1BB310DDBC6379A189A4F575'"
            ),
            "mysql_native_password"
        );
        assert_eq!(
            plugin_of("CREATE USER `IDENTIFIED VIA x`@`%` IDENTIFIED VIA ed25519 USING 'abc'"),
            "ed25519"
        );
        assert_eq!(
            plugin_of(
                "CREATE USER 'u'@'%' IDENTIFIED WITH 'caching_sha2_password' AS '$A$005$x' REQUIRE NONE"
            ),
            "caching_sha2_password"
        );
        assert_eq!(plugin_of("CREATE USER `u`@`%`"), "mysql_native_password");
    }
}
