//! The statements of `sql/` (embedded at build time), their parameters, and
//! the read-only guard of `driftlake sql` (STYLE.md §4).
//!
//! **Parameters.** A statement names its parameters as DataFusion named
//! placeholders (`$identity`) and declares them in its header:
//! `-- Params:  $identity (…), $interval = 1d (…)`; `= value` gives a default.
//! Values are bound with `LogicalPlan::with_param_values` as `Utf8` literals,
//! never spliced into the SQL text, so a value cannot change the statement.

use std::collections::BTreeMap;

use datafusion::common::ParamValues;
use datafusion::common::ScalarValue;
use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;

use super::{EngineError, Result};

/// One `sql/<relation>.sql` file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SqlFile {
    /// The relation it defines (the file stem).
    pub name: &'static str,
    /// The statement text, header included.
    pub text: &'static str,
}

/// Every file in `sql/`, in the order a job runs them.
pub const SQL_FILES: &[SqlFile] = &[
    SqlFile {
        name: "attribution_state",
        text: include_str!("../../sql/attribution_state.sql"),
    },
    SqlFile {
        name: "observations_latest",
        text: include_str!("../../sql/observations_latest.sql"),
    },
    SqlFile {
        name: "observation_series",
        text: include_str!("../../sql/observation_series.sql"),
    },
    SqlFile {
        name: "trends_primitives",
        text: include_str!("../../sql/trends_primitives.sql"),
    },
    SqlFile {
        name: "trends_attribution",
        text: include_str!("../../sql/trends_attribution.sql"),
    },
    SqlFile {
        name: "agent_profiles",
        text: include_str!("../../sql/agent_profiles.sql"),
    },
    SqlFile {
        name: "trends_agents",
        text: include_str!("../../sql/trends_agents.sql"),
    },
    SqlFile {
        name: "attribution_transitions",
        text: include_str!("../../sql/attribution_transitions.sql"),
    },
    SqlFile {
        name: "agent_tier_changes",
        text: include_str!("../../sql/agent_tier_changes.sql"),
    },
    SqlFile {
        name: "trends_behavior",
        text: include_str!("../../sql/trends_behavior.sql"),
    },
    SqlFile {
        name: "trends_drift_events",
        text: include_str!("../../sql/trends_drift_events.sql"),
    },
    SqlFile {
        name: "what_drifted",
        text: include_str!("../../sql/what_drifted.sql"),
    },
];

/// The embedded file defining `name`.
pub fn sql_file(name: &str) -> Option<&'static SqlFile> {
    SQL_FILES.iter().find(|f| f.name == name)
}

/// A parameter declared in a statement header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamDecl {
    /// Name without the `$`.
    pub name: String,
    /// Default value, if the header gives one.
    pub default: Option<String>,
}

/// The parameters declared by the `-- Params:` header line(s) of `text`
/// (`none` declares none). Continuation lines are not read: keep the list on
/// one line.
pub fn declared_params(text: &str) -> Vec<ParamDecl> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.trim_start().strip_prefix("--") else {
            break;
        };
        let Some(list) = rest.trim_start().strip_prefix("Params:") else {
            continue;
        };
        // Drop parenthesised notes, then split on commas.
        let mut clean = String::new();
        let mut depth = 0usize;
        for c in list.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                c if depth == 0 => clean.push(c),
                _ => {}
            }
        }
        for item in clean.split(',') {
            let item = item.trim().trim_end_matches('.');
            let Some(item) = item.strip_prefix('$') else {
                continue;
            };
            let (name, default) = match item.split_once('=') {
                Some((n, d)) => (n.trim(), Some(d.trim().trim_matches('\'').to_owned())),
                None => (item.trim(), None),
            };
            if !name.is_empty() {
                out.push(ParamDecl {
                    name: name.to_owned(),
                    default,
                });
            }
        }
    }
    out
}

/// Parse `k=v` (as given to `--param`).
///
/// # Errors
/// [`EngineError::Param`] without `=` or with an empty name.
pub fn parse_param(kv: &str) -> Result<(String, String)> {
    match kv.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => {
            Ok((k.trim().trim_start_matches('$').to_owned(), v.to_owned()))
        }
        _ => Err(EngineError::Param(format!("{kv:?} is not name=value"))),
    }
}

/// The parameter values for `text`: the given ones, plus declared defaults.
///
/// # Errors
/// [`EngineError::Param`] when a declared parameter without default is not
/// given.
pub fn param_values(text: &str, given: &BTreeMap<String, String>) -> Result<ParamValues> {
    let mut values: BTreeMap<String, String> = given.clone();
    for d in declared_params(text) {
        if values.contains_key(&d.name) {
            continue;
        }
        match d.default {
            Some(v) => {
                values.insert(d.name, v);
            }
            None => {
                return Err(EngineError::Param(format!(
                    "${} is required (pass --param {}=…)",
                    d.name, d.name
                )));
            }
        }
    }
    Ok(ParamValues::from(
        values
            .into_iter()
            .map(|(k, v)| (k, ScalarValue::Utf8(Some(v))))
            .collect::<Vec<_>>(),
    ))
}

/// Split `sql` into statements with DataFusion's parser.
///
/// # Errors
/// The parser's error.
pub fn parse_statements(sql: &str) -> Result<Vec<DfStatement>> {
    Ok(DFParser::parse_sql(sql)?.into_iter().collect())
}

/// Refuse a statement that could write outside the session (read-only mode):
/// `COPY`, `INSERT`, `UPDATE`, `DELETE`, `CREATE TABLE [AS]`, `DROP`, `CREATE
/// EXTERNAL TABLE` outside the temp directory, and anything not known to be
/// read-only (an allow list: queries, `EXPLAIN` of those, `SHOW`, `DESCRIBE`,
/// `SET`, `CREATE VIEW`, `PREPARE`/`EXECUTE` of those).
///
/// # Errors
/// [`EngineError::WriteRefused`] naming the statement kind.
pub fn check_read_only(stmt: &DfStatement) -> Result<()> {
    let refuse = |what: &str| {
        Err(EngineError::WriteRefused(format!(
            "{what} is refused: `driftlake sql` is read-only (pass --allow-write to run statements that write)"
        )))
    };
    match stmt {
        DfStatement::Statement(s) => {
            check_sql_statement(s).map_or_else(|| Ok(()), |what| refuse(&what))
        }
        DfStatement::Explain(e) => check_read_only(&e.statement),
        DfStatement::Reset(_) => Ok(()),
        DfStatement::CopyTo(_) => refuse("COPY"),
        DfStatement::CreateExternalTable(t) => {
            let tmp = std::env::temp_dir();
            let in_tmp = |l: &String| {
                let path = l.strip_prefix("file://").unwrap_or(l);
                // `..` could climb out of the temp directory.
                std::path::Path::new(path).starts_with(&tmp) && !path.contains("..")
            };
            if !t.locations.is_empty() && t.locations.iter().all(in_tmp) {
                Ok(())
            } else {
                refuse("CREATE EXTERNAL TABLE outside the temp directory")
            }
        }
    }
}

/// `Some(kind)` when the sqlparser statement is not on the read-only list.
fn check_sql_statement(s: &SqlStatement) -> Option<String> {
    use SqlStatement as S;
    match s {
        S::Query(_)
        | S::ShowTables { .. }
        | S::ShowColumns { .. }
        | S::ShowVariable { .. }
        | S::ShowVariables { .. }
        | S::ShowFunctions { .. }
        | S::ShowCreate { .. }
        | S::ExplainTable { .. }
        | S::Set(_)
        | S::Execute { .. }
        | S::Deallocate { .. } => None,
        S::CreateView(v) if !v.materialized => None,
        S::Explain { statement, .. } | S::Prepare { statement, .. } => {
            check_sql_statement(statement)
        }
        S::Insert(_) => Some("INSERT".into()),
        S::Copy { .. } => Some("COPY".into()),
        S::Update(_) => Some("UPDATE".into()),
        S::Delete(_) => Some("DELETE".into()),
        S::CreateTable(_) => Some("CREATE TABLE".into()),
        S::Drop { .. } => Some("DROP".into()),
        other => {
            let text = other.to_string();
            let kind: Vec<&str> = text.split_whitespace().take(2).collect();
            Some(format!("statement `{}`", kind.join(" ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(sql: &str) -> bool {
        let stmts = parse_statements(sql).expect("parses");
        stmts.iter().any(|s| check_read_only(s).is_err())
    }

    #[test]
    fn read_only_guard_allows_queries_and_refuses_writes() {
        for ok in [
            "SELECT 1",
            "EXPLAIN SELECT 1",
            "SHOW TABLES",
            "SET datafusion.execution.batch_size = 1024",
            "CREATE VIEW v AS SELECT 1",
            "DESCRIBE observations",
        ] {
            assert!(!refused(ok), "{ok}");
        }
        for bad in [
            "COPY (SELECT 1) TO '/tmp/x.parquet'",
            "INSERT INTO t VALUES (1)",
            "CREATE TABLE t AS SELECT 1",
            "DROP TABLE observations",
            "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '/etc/x/'",
            "EXPLAIN ANALYZE INSERT INTO t VALUES (1)",
            "DELETE FROM t",
        ] {
            assert!(refused(bad), "{bad}");
        }
    }

    #[test]
    fn params_from_headers() {
        let text = "-- x: y\n-- Params:  $identity (identity_ref, e.g. 1.2.3.4), $interval = 1d (1h | 1d | 1w).\nSELECT 1";
        assert_eq!(
            declared_params(text),
            vec![
                ParamDecl {
                    name: "identity".into(),
                    default: None
                },
                ParamDecl {
                    name: "interval".into(),
                    default: Some("1d".into())
                },
            ]
        );
        assert!(param_values(text, &BTreeMap::new()).is_err());
        let given = BTreeMap::from([("identity".to_owned(), "1.2.3.4".to_owned())]);
        assert!(param_values(text, &given).is_ok());
        assert_eq!(
            parse_param("$a=b=c").expect("param"),
            ("a".to_owned(), "b=c".to_owned())
        );
        assert!(parse_param("novalue").is_err());
        for f in SQL_FILES {
            assert!(
                f.text.starts_with(&format!("-- {}:", f.name)),
                "{} header",
                f.name
            );
        }
    }
}
