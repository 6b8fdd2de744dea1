//! The one small layer between the storage's SQL and its two drivers: rusqlite
//! (synchronous, run on Tokio's blocking pool) and tokio-postgres (asynchronous, pooled).
//!
//! Every statement is written once, in SQLite's numbered-placeholder form (`?1`, `?2`, …)
//! and in SQL both databases accept (`ON CONFLICT`, `RETURNING`, `CAST(… AS BIGINT)`,
//! `TRUE`/`FALSE`, `NULLS FIRST`). Parameters are `Value`s and rows come back as `Row`s of
//! `Value`s, so one piece of code reads and writes both: this layer turns placeholders
//! into PostgreSQL's `$n`, fits a value to the type PostgreSQL inferred for its parameter
//! (an integer into a BOOLEAN or INTEGER column, say), and reads PostgreSQL's column types
//! back into the same `Value`s SQLite gives.
//!
//! Work that must be one transaction is a closure over `&mut dyn Tx`, given to
//! `Db::read` or `Db::write`. On PostgreSQL it runs as any future does; on SQLite it runs
//! on a blocking thread holding the connection, where every statement completes at once,
//! so the closure's future finishes in a single poll (`sqlite::run_ready`). The closure
//! may therefore await only the transaction's own statements.

pub mod postgres;
pub mod sqlite;

use std::future::Future;
use std::pin::Pin;

use async_trait::async_trait;

use super::{Result, StoreError};

/// A parameter or a column value, as both databases hold them.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
    /// PostgreSQL's BOOLEAN; SQLite stores it as the integer 0 or 1.
    Bool(bool),
    /// Arrays, for PostgreSQL's `unnest` (one statement for many rows); SQLite has none.
    Ints(Vec<i64>),
    Texts(Vec<String>),
    Blobs(Vec<Vec<u8>>),
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<&i64> for Value {
    fn from(v: &i64) -> Self {
        Value::Int(*v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(v.into())
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Int(v.into())
    }
}
impl From<u16> for Value {
    fn from(v: u16) -> Self {
        Value::Int(v.into())
    }
}
impl From<u8> for Value {
    fn from(v: u8) -> Self {
        Value::Int(v.into())
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<&bool> for Value {
    fn from(v: &bool) -> Self {
        Value::Bool(*v)
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Blob(v)
    }
}
impl From<&Vec<u8>> for Value {
    fn from(v: &Vec<u8>) -> Self {
        Value::Blob(v.clone())
    }
}
impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value::Blob(v.to_vec())
    }
}
impl From<[u8; 32]> for Value {
    fn from(v: [u8; 32]) -> Self {
        Value::Blob(v.to_vec())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}
impl<T: Clone + Into<Value>> From<&Option<T>> for Value {
    fn from(v: &Option<T>) -> Self {
        v.clone().map_or(Value::Null, Into::into)
    }
}

/// Ids are stored as their text.
macro_rules! text_values {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::Text(v.to_string())
            }
        }
        impl From<&$t> for Value {
            fn from(v: &$t) -> Self {
                Value::Text(v.to_string())
            }
        }
    )*};
}
text_values!(
    saferound_core::ids::InstitutionId,
    saferound_core::ids::DocId,
    saferound_core::ids::UserId,
    saferound_core::ids::DepartmentId,
    saferound_core::ids::SiteId,
    saferound_core::ids::CampaignId,
    chrono::NaiveDate
);

/// The parameters of a statement: `args![a, b, c]`, an array of each converted with
/// `Value::from`.
macro_rules! args {
    ($($v:expr),* $(,)?) => {
        [$($crate::store::sql::Value::from($v)),*]
    };
}
pub(crate) use args;

/// What a column's value may be read as (`Row::get`).
pub trait FromValue: Sized {
    /// `None`: the value is of another kind.
    fn from_value(v: &Value) -> Option<Self>;
}

impl FromValue for String {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Text(t) => Some(t.clone()),
            _ => None,
        }
    }
}
impl FromValue for i64 {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(*b as i64),
            _ => None,
        }
    }
}
macro_rules! narrow_ints {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: &Value) -> Option<Self> {
                i64::from_value(v).and_then(|i| <$t>::try_from(i).ok())
            }
        }
    )*};
}
narrow_ints!(i32, u32, u16, u8, u64, usize);
impl FromValue for bool {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Bool(b) => Some(*b),
            Value::Int(i) => Some(*i != 0),
            _ => None,
        }
    }
}
impl FromValue for f64 {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Real(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
}
impl FromValue for Vec<u8> {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Blob(b) => Some(b.clone()),
            _ => None,
        }
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Null => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// One row of a result.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub Vec<Value>);

impl Row {
    /// Column `i` as a `T`; another kind of value (or no such column) is an error.
    pub fn get<T: FromValue>(&self, i: usize) -> Result<T> {
        let v = self
            .0
            .get(i)
            .ok_or_else(|| StoreError::Corrupt(format!("no column {i}")))?;
        T::from_value(v).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "column {i} holds {v:?}, not a {}",
                std::any::type_name::<T>()
            ))
        })
    }

    /// Column `i`'s bytes, without copying them.
    pub fn bytes(&self, i: usize) -> Result<&[u8]> {
        match self.0.get(i) {
            Some(Value::Blob(b)) => Ok(b),
            v => Err(StoreError::Corrupt(format!(
                "column {i} holds {v:?}, not bytes"
            ))),
        }
    }

    /// Column `i`'s bytes, taken out of the row.
    pub fn take_bytes(&mut self, i: usize) -> Result<Vec<u8>> {
        match self.0.get_mut(i) {
            Some(Value::Blob(b)) => Ok(std::mem::take(b)),
            v => Err(StoreError::Corrupt(format!(
                "column {i} holds {v:?}, not bytes"
            ))),
        }
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Which database a transaction talks to, for the few statements that must differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// Statements run inside one transaction (or, outside `Db::read` and `Db::write`, on one
/// connection). Every method is a statement of the shared SQL: see the module comment.
#[async_trait]
pub trait Tx: Send {
    async fn query(&mut self, sql: &str, args: &[Value]) -> Result<Vec<Row>>;
    /// A statement built at run time (the ledger's filters): run without keeping it
    /// prepared, so however many variants a user asks for, the connection's statement
    /// cache holds only the named statements.
    async fn query_built(&mut self, sql: &str, args: &[Value]) -> Result<Vec<Row>>;
    /// The number of rows the statement changed.
    async fn execute(&mut self, sql: &str, args: &[Value]) -> Result<u64>;
    fn dialect(&self) -> Dialect;
}

impl dyn Tx + '_ {
    /// The first row, if any.
    pub async fn query_opt(&mut self, sql: &str, args: &[Value]) -> Result<Option<Row>> {
        Ok(self.query(sql, args).await?.into_iter().next())
    }

    /// The one row the statement must return.
    pub async fn query_one(&mut self, sql: &str, args: &[Value]) -> Result<Row> {
        self.query_opt(sql, args)
            .await?
            .ok_or_else(|| StoreError::Corrupt("a statement returned no row".into()))
    }
}

/// What `Db::read` and `Db::write` run: a closure given the transaction, returning the
/// future of its work.
pub type TxFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// One of the two databases. Shared code calls these; what is truly different between
/// them (connections, migrations, locks, feed positions, backups) lives in `sqlite` and
/// `postgres` behind the backend methods of `Store`.
pub enum Db {
    Sqlite(sqlite::SqliteDb),
    /// Boxed: a pool and a listener are much larger than SQLite's handles.
    Postgres(Box<postgres::PgDb>),
}

impl Db {
    pub fn dialect(&self) -> Dialect {
        match self {
            Db::Sqlite(_) => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
        }
    }

    /// One statement's rows, outside any transaction of ours.
    pub async fn query(&self, sql: &str, args: &[Value]) -> Result<Vec<Row>> {
        match self {
            Db::Sqlite(d) => d.query(sql, args).await,
            Db::Postgres(d) => d.query(sql, args).await,
        }
    }

    pub async fn query_opt(&self, sql: &str, args: &[Value]) -> Result<Option<Row>> {
        Ok(self.query(sql, args).await?.into_iter().next())
    }

    pub async fn query_one(&self, sql: &str, args: &[Value]) -> Result<Row> {
        self.query_opt(sql, args)
            .await?
            .ok_or_else(|| StoreError::Corrupt("a statement returned no row".into()))
    }

    /// One statement that writes (committed by itself); the number of rows it changed.
    pub async fn execute(&self, sql: &str, args: &[Value]) -> Result<u64> {
        match self {
            Db::Sqlite(d) => d.execute(sql, args).await,
            Db::Postgres(d) => d.execute(sql, args).await,
        }
    }

    /// Reads of one moment: every statement of `f` sees the same committed state
    /// (SQLite: a read transaction on a reader; PostgreSQL: REPEATABLE READ, read only).
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a mut dyn Tx) -> TxFuture<'a, T> + Send + 'static,
    {
        match self {
            Db::Sqlite(d) => d.read(f).await,
            Db::Postgres(d) => d.read(f).await,
        }
    }

    /// A write transaction: all of `f` or nothing (SQLite: BEGIN IMMEDIATE on the one
    /// writer; PostgreSQL: READ COMMITTED, so `f` locks what it must compare and swap).
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a mut dyn Tx) -> TxFuture<'a, T> + Send + 'static,
    {
        match self {
            Db::Sqlite(d) => d.write(f).await,
            Db::Postgres(d) => d.write(f).await,
        }
    }

    /// Prepares `sql` without running it: that it is valid on this database, with
    /// its tables and columns (and, on PostgreSQL, its parameters' types) resolved.
    pub async fn prepare(&self, sql: &str) -> Result<()> {
        match self {
            Db::Sqlite(d) => d.prepare(sql).await,
            Db::Postgres(d) => d.prepare(sql).await,
        }
    }
}

/// A value the database keeps for itself (`meta`: the epoch, a restore, positions).
pub(crate) const META_VALUE: &str = "SELECT value FROM meta WHERE key = ?1";

/// `sql` with SQLite's `?n` placeholders written as PostgreSQL's `$n` (outside quoted
/// text and identifiers, where a `?` is just a character).
pub fn postgres_placeholders(sql: &str) -> String {
    // `?` and `$` are one byte each, so the text keeps its length: a copy with bytes
    // replaced in one pass (this runs for every statement sent to PostgreSQL).
    let mut out = sql.as_bytes().to_vec();
    let mut quote: Option<u8> = None;
    for i in 0..out.len() {
        let c = out[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'\'' || c == b'"' => quote = Some(c),
            None if c == b'?' && out.get(i + 1).is_some_and(u8::is_ascii_digit) => out[i] = b'$',
            None => {}
        }
    }
    // Only ASCII bytes were replaced by ASCII bytes: still the UTF-8 it was.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Named statements of one concern, written once for both databases. Each becomes a
/// constant, and the concern's `STATEMENTS` lists them all, so a test can prepare every
/// statement on both databases (`Store::prepare_statements`).
macro_rules! statements {
    ($($(#[$doc:meta])* $name:ident = $sql:expr;)*) => {
        $($(#[$doc])* pub(crate) const $name: &str = $sql;)*
        /// Every named statement of this concern, for `Store::prepare_statements`.
        pub(crate) const STATEMENTS: &[(&str, &str)] = &[$((stringify!($name), $name)),*];
    };
}
pub(crate) use statements;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_dollars_outside_quotes() {
        assert_eq!(
            postgres_placeholders("SELECT '?1', \"a?2\" FROM t WHERE a = ?1 AND b = ?12"),
            "SELECT '?1', \"a?2\" FROM t WHERE a = $1 AND b = $12"
        );
        assert_eq!(postgres_placeholders("x IS ? "), "x IS ? ");
    }

    #[test]
    fn values_read_back_as_the_types_both_databases_give() {
        let r = Row(vec![
            Value::Int(1),
            Value::Bool(true),
            Value::Null,
            Value::Text("t".into()),
        ]);
        assert!(r.get::<bool>(0).unwrap());
        assert_eq!(r.get::<i64>(1).unwrap(), 1);
        assert_eq!(r.get::<Option<String>>(2).unwrap(), None);
        assert_eq!(r.get::<String>(3).unwrap(), "t");
        assert!(r.get::<i64>(3).is_err());
        assert!(r.get::<String>(2).is_err());
        assert!(r.get::<u8>(0).is_ok());
        assert!(Row(vec![Value::Int(-1)]).get::<u64>(0).is_err());
    }
}
