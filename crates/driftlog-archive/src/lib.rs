//! driftlog's archive: the event store's history as immutable Parquet files that the engines a
//! team already runs (Athena, Trino, DuckDB, Spark, ClickHouse) read as they are.
//!
//! Files are laid out the Hive way, one folder level per partition column:
//! `source=aws/account=123456789012/region=us-east-1/date=2024-11-08/events-1-5000.parquet`.
//! The partition columns live only in the path (as Hive, Athena and Trino expect; DuckDB and
//! Spark read them back with hive partitioning). An absent value is `__HIVE_DEFAULT_PARTITION__`
//! (read back as NULL); other values are percent-escaped outside `[A-Za-z0-9._-]`.
//!
//! Each file holds one row per event ([`columns`]): the normalized columns, the resources the
//! event names as a list, the leaf hash the ledger committed to when the event was stored, and
//! the original record. Columns are zstd-compressed; repeated values are dictionary-encoded by
//! Parquet itself.
//!
//! [`ArchiveWriter`] takes rows in any order and hands back finished files (bytes in memory)
//! for the caller to put where the archive lives; it keeps the memory of the files under way
//! below a bound by finishing the largest one early (the next rows of its partition start a
//! new file).
//!
//! ```
//! use driftlog_archive::{ArchiveWriter, Row};
//! let mut writer = ArchiveWriter::new("events-1-1", "store-id");
//! # let event: driftlog_core::AuditEvent = serde_json::from_str(r#"{"source":"aws","event_id":"e","time_us":0,"account":null,"region":null,"service":null,"action":"RunInstances","read_only":false,"outcome":{"result":"success"},"principal":{"id":null,"kind":null,"issuer":null,"session_name":null,"source_identity":null,"on_behalf_of":null,"invoked_by":null,"mfa":null},"actor":{"kind":"console","rule":"r"},"source_ip":null,"user_agent":null,"resources":[],"completeness":0}"#).unwrap();
//! let mut files = writer.push(Row { id: 1, event, raw: b"{}".to_vec(), leaf: None })?;
//! files.extend(writer.finish()?);
//! assert_eq!(files[0].rows, 1);
//! # Ok::<(), driftlog_archive::ArchiveError>(())
//! ```

use arrow_array::builder::{
    BooleanBuilder, Int32Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use driftlog_core::{AuditEvent, Outcome};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The archive's own version of its columns, in every file's metadata
/// (`driftlog.archive.format`). A change adds columns; it never changes one's meaning.
pub const FORMAT: &str = "driftlog-archive-v1";

/// The value Hive, Spark, Athena, Trino and DuckDB read back as NULL in a partition path.
pub const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("writing Parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("building columns: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    #[error("stored event {id}: its original record is not UTF-8")]
    NotText { id: i64 },
    #[error("{path}: not a Parquet file: {reason}")]
    NotParquet { path: String, reason: String },
}

/// One event to archive: its store id, the event, its original record, and the leaf the
/// ledger committed to when it was stored (none for events stored before leaves were kept).
#[derive(Debug, Clone)]
pub struct Row {
    pub id: i64,
    pub event: AuditEvent,
    pub raw: Vec<u8>,
    pub leaf: Option<[u8; 32]>,
}

/// The partition an event's row belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Partition {
    pub source: &'static str,
    pub account: Option<String>,
    pub region: Option<String>,
    /// The event's UTC date, `YYYY-MM-DD`.
    pub date: String,
}

impl Partition {
    pub fn of(event: &AuditEvent) -> Self {
        let date = jiff::Timestamp::from_microsecond(event.time_us)
            .map(|t| jiff::tz::TimeZone::UTC.to_datetime(t).date().to_string())
            .unwrap_or_else(|_| NULL_PARTITION.to_owned());
        Partition {
            source: event.source.as_str(),
            account: event.account.clone(),
            region: event.region.clone(),
            date,
        }
    }

    /// The folder of this partition, relative to the archive's root.
    pub fn path(&self) -> String {
        format!(
            "source={}/account={}/region={}/date={}",
            escape(Some(self.source)),
            escape(self.account.as_deref()),
            escape(self.region.as_deref()),
            self.date
        )
    }
}

/// A partition value as a path segment: percent-escaped outside `[A-Za-z0-9._-]` (so no value
/// can add a folder or an `=`), an absent or empty value as [`NULL_PARTITION`].
pub fn escape(value: Option<&str>) -> String {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return NULL_PARTITION.to_owned();
    };
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    // `.` and `..` would name folders, not values.
    if out == "." || out == ".." {
        out = out.replace('.', "%2E");
    }
    out
}

/// A finished archive file, ready to be put at `path` (relative to the archive's root).
#[derive(Debug, Clone)]
pub struct FinishedFile {
    pub path: String,
    pub rows: u64,
    /// The lowest and highest store ids among its rows.
    pub first_id: i64,
    pub last_id: i64,
    pub bytes: Vec<u8>,
}

impl FinishedFile {
    /// SHA-256 of the file's bytes, hex: what the ledger records.
    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(&self.bytes))
    }
}

/// The columns of every archive file (the partition columns are in its path).
pub fn columns() -> SchemaRef {
    let text = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        text("event_id", false),
        Field::new(
            "time",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        text("service", true),
        text("action", false),
        Field::new("read_only", DataType::Boolean, true),
        text("outcome", false),
        text("error_code", true),
        text("error_message", true),
        text("principal", true),
        text("principal_type", true),
        text("issuer", true),
        text("session_name", true),
        text("source_identity", true),
        text("on_behalf_of", true),
        text("invoked_by", true),
        Field::new("mfa", DataType::Boolean, true),
        text("actor_kind", false),
        text("actor_rule", false),
        text("source_ip", true),
        text("user_agent", true),
        Field::new_list("resources", Field::new("item", DataType::Utf8, true), false),
        Field::new("completeness", DataType::Int32, false),
        text("leaf", true),
        text("raw", false),
    ]))
}

/// Column builders for one partition's next batch of rows, in [`columns`] order.
struct Builders {
    id: Int64Builder,
    event_id: StringBuilder,
    time: TimestampMicrosecondBuilder,
    service: StringBuilder,
    action: StringBuilder,
    read_only: BooleanBuilder,
    outcome: StringBuilder,
    error_code: StringBuilder,
    error_message: StringBuilder,
    principal: StringBuilder,
    principal_type: StringBuilder,
    issuer: StringBuilder,
    session_name: StringBuilder,
    source_identity: StringBuilder,
    on_behalf_of: StringBuilder,
    invoked_by: StringBuilder,
    mfa: BooleanBuilder,
    actor_kind: StringBuilder,
    actor_rule: StringBuilder,
    source_ip: StringBuilder,
    user_agent: StringBuilder,
    resources: ListBuilder<StringBuilder>,
    completeness: Int32Builder,
    leaf: StringBuilder,
    raw: StringBuilder,
    rows: usize,
    bytes: usize,
}

impl Builders {
    fn new() -> Self {
        Builders {
            id: Int64Builder::new(),
            event_id: StringBuilder::new(),
            time: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            service: StringBuilder::new(),
            action: StringBuilder::new(),
            read_only: BooleanBuilder::new(),
            outcome: StringBuilder::new(),
            error_code: StringBuilder::new(),
            error_message: StringBuilder::new(),
            principal: StringBuilder::new(),
            principal_type: StringBuilder::new(),
            issuer: StringBuilder::new(),
            session_name: StringBuilder::new(),
            source_identity: StringBuilder::new(),
            on_behalf_of: StringBuilder::new(),
            invoked_by: StringBuilder::new(),
            mfa: BooleanBuilder::new(),
            actor_kind: StringBuilder::new(),
            actor_rule: StringBuilder::new(),
            source_ip: StringBuilder::new(),
            user_agent: StringBuilder::new(),
            resources: ListBuilder::new(StringBuilder::new()),
            completeness: Int32Builder::new(),
            leaf: StringBuilder::new(),
            raw: StringBuilder::new(),
            rows: 0,
            bytes: 0,
        }
    }

    fn append(&mut self, row: &Row) -> Result<(), ArchiveError> {
        let raw =
            std::str::from_utf8(&row.raw).map_err(|_| ArchiveError::NotText { id: row.id })?;
        let e = &row.event;
        let p = &e.principal;
        let (outcome, code, message) = match &e.outcome {
            Outcome::Success => ("success", None, None),
            Outcome::Failure { code, message } => {
                ("failure", Some(code.as_str()), message.as_deref())
            }
            Outcome::Unknown => ("unknown", None, None),
        };
        self.id.append_value(row.id);
        self.event_id.append_value(&e.event_id);
        self.time.append_value(e.time_us);
        self.service.append_option(e.service.as_deref());
        self.action.append_value(&e.action);
        self.read_only.append_option(e.read_only);
        self.outcome.append_value(outcome);
        self.error_code.append_option(code);
        self.error_message.append_option(message);
        self.principal.append_option(p.id.as_deref());
        self.principal_type.append_option(p.kind.as_deref());
        self.issuer.append_option(p.issuer.as_deref());
        self.session_name.append_option(p.session_name.as_deref());
        self.source_identity
            .append_option(p.source_identity.as_deref());
        self.on_behalf_of.append_option(p.on_behalf_of.as_deref());
        self.invoked_by.append_option(p.invoked_by.as_deref());
        self.mfa.append_option(p.mfa);
        self.actor_kind.append_value(e.actor.kind.as_str());
        self.actor_rule.append_value(&e.actor.rule);
        self.source_ip.append_option(e.source_ip.as_deref());
        self.user_agent.append_option(e.user_agent.as_deref());
        for resource in &e.resources {
            self.resources.values().append_value(resource);
        }
        self.resources.append(true);
        self.completeness.append_value(i32::from(e.completeness));
        self.leaf.append_option(row.leaf.map(hex::encode));
        self.raw.append_value(raw);
        self.rows += 1;
        // The record dominates; the normalized columns are a few hundred bytes at most.
        self.bytes += raw.len() + 256 + e.resources.iter().map(String::len).sum::<usize>();
        Ok(())
    }

    fn batch(&mut self, schema: &SchemaRef) -> Result<RecordBatch, ArchiveError> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.id.finish()),
            Arc::new(self.event_id.finish()),
            Arc::new(self.time.finish()),
            Arc::new(self.service.finish()),
            Arc::new(self.action.finish()),
            Arc::new(self.read_only.finish()),
            Arc::new(self.outcome.finish()),
            Arc::new(self.error_code.finish()),
            Arc::new(self.error_message.finish()),
            Arc::new(self.principal.finish()),
            Arc::new(self.principal_type.finish()),
            Arc::new(self.issuer.finish()),
            Arc::new(self.session_name.finish()),
            Arc::new(self.source_identity.finish()),
            Arc::new(self.on_behalf_of.finish()),
            Arc::new(self.invoked_by.finish()),
            Arc::new(self.mfa.finish()),
            Arc::new(self.actor_kind.finish()),
            Arc::new(self.actor_rule.finish()),
            Arc::new(self.source_ip.finish()),
            Arc::new(self.user_agent.finish()),
            Arc::new(self.resources.finish()),
            Arc::new(self.completeness.finish()),
            Arc::new(self.leaf.finish()),
            Arc::new(self.raw.finish()),
        ];
        self.rows = 0;
        self.bytes = 0;
        Ok(RecordBatch::try_new(schema.clone(), columns)?)
    }
}

/// Rows buffered per partition before they are encoded (a batch is encoded at once).
const BATCH_ROWS: usize = 4096;
const BATCH_BYTES: usize = 4 << 20;
/// A file is finished once it holds this much, so no file grows without bound.
const FILE_BYTES: usize = 256 << 20;
/// Rows per Parquet row group: large enough for engines to skip well, small enough to encode
/// in memory.
const ROW_GROUP_ROWS: usize = 128 * 1024;

/// One partition's file under way.
struct Open {
    builders: Builders,
    writer: ArrowWriter<Vec<u8>>,
    rows: u64,
    first_id: i64,
    last_id: i64,
    /// Memory this file held when last measured (after its last encoded batch).
    held: usize,
}

/// Writes rows into one file per partition (more when a file is finished early).
pub struct ArchiveWriter {
    /// Names this run's files: `<run>.parquet`, `<run>-2.parquet`…
    run: String,
    schema: SchemaRef,
    properties: WriterProperties,
    open: BTreeMap<Partition, Open>,
    /// Files each partition has had in this run.
    started: HashMap<Partition, u32>,
    /// Memory the files under way may hold together.
    budget: usize,
}

impl ArchiveWriter {
    /// `run` names the files (`events-<first id>-<last id>` of the run keeps names unique
    /// across runs and equal when an interrupted run is repeated); `store_id` goes into each
    /// file's metadata.
    pub fn new(run: &str, store_id: &str) -> Self {
        let metadata = vec![
            KeyValue::new("driftlog.archive.format".into(), FORMAT.to_owned()),
            KeyValue::new("driftlog.store".into(), store_id.to_owned()),
        ];
        let properties = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_key_value_metadata(Some(metadata))
            .set_created_by(format!("driftlog {}", env!("CARGO_PKG_VERSION")))
            .build();
        ArchiveWriter {
            run: run.to_owned(),
            schema: columns(),
            properties,
            open: BTreeMap::new(),
            started: HashMap::new(),
            budget: 512 << 20,
        }
    }

    /// Bound the memory of the files under way (default 512 MiB).
    pub fn with_budget(mut self, bytes: usize) -> Self {
        self.budget = bytes;
        self
    }

    /// Add a row; returns the files this finished (under memory pressure or at the size bound).
    pub fn push(&mut self, row: Row) -> Result<Vec<FinishedFile>, ArchiveError> {
        let partition = Partition::of(&row.event);
        if !self.open.contains_key(&partition) {
            let writer = ArrowWriter::try_new(
                Vec::new(),
                self.schema.clone(),
                Some(self.properties.clone()),
            )?;
            let open = Open {
                builders: Builders::new(),
                writer,
                rows: 0,
                first_id: row.id,
                last_id: row.id,
                held: 0,
            };
            self.open.insert(partition.clone(), open);
        }
        let Some(open) = self.open.get_mut(&partition) else {
            return Ok(Vec::new());
        };
        open.builders.append(&row)?;
        open.rows += 1;
        open.first_id = open.first_id.min(row.id);
        open.last_id = open.last_id.max(row.id);
        if open.builders.rows < BATCH_ROWS && open.builders.bytes < BATCH_BYTES {
            return Ok(Vec::new());
        }
        let batch = open.builders.batch(&self.schema)?;
        open.writer.write(&batch)?;
        open.held = open.writer.memory_size() + open.writer.inner().len();
        let mut finished = Vec::new();
        if open.writer.inner().len() >= FILE_BYTES {
            finished.push(self.finish_one(&partition)?);
        }
        // Over the budget: finish the largest files until under it again.
        while self.held() > self.budget {
            let Some(largest) = self
                .open
                .iter()
                .max_by_key(|(_, o)| o.held)
                .map(|(p, _)| p.clone())
            else {
                break;
            };
            finished.push(self.finish_one(&largest)?);
        }
        Ok(finished)
    }

    fn held(&self) -> usize {
        self.open.values().map(|o| o.held + o.builders.bytes).sum()
    }

    fn finish_one(&mut self, partition: &Partition) -> Result<FinishedFile, ArchiveError> {
        let mut open = self.open.remove(partition).ok_or_else(|| {
            ArchiveError::Parquet(parquet::errors::ParquetError::General(
                "no file under way for this partition".into(),
            ))
        })?;
        if open.builders.rows > 0 {
            let batch = open.builders.batch(&self.schema)?;
            open.writer.write(&batch)?;
        }
        let bytes = open.writer.into_inner()?;
        let n = self.started.entry(partition.clone()).or_insert(0);
        *n += 1;
        let name = match *n {
            1 => format!("{}.parquet", self.run),
            n => format!("{}-{n}.parquet", self.run),
        };
        Ok(FinishedFile {
            path: format!("{}/{name}", partition.path()),
            rows: open.rows,
            first_id: open.first_id,
            last_id: open.last_id,
            bytes,
        })
    }

    /// Finish every file under way, in partition order.
    pub fn finish(mut self) -> Result<Vec<FinishedFile>, ArchiveError> {
        let partitions: Vec<Partition> = self.open.keys().cloned().collect();
        partitions.iter().map(|p| self.finish_one(p)).collect()
    }
}

/// The number of rows a Parquet file says it holds (from its footer), or why it is not one.
pub fn row_count(path: &str, bytes: Vec<u8>) -> Result<u64, ArchiveError> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(bytes::Bytes::from(bytes)).map_err(|e| {
        ArchiveError::NotParquet {
            path: path.to_owned(),
            reason: e.to_string(),
        }
    })?;
    Ok(u64::try_from(reader.metadata().file_metadata().num_rows()).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use driftlog_core::{Actor, ActorKind, Principal, Source};

    fn event(id: &str, time_us: i64, account: Option<&str>) -> AuditEvent {
        AuditEvent {
            source: Source::Aws,
            event_id: id.into(),
            time_us,
            account: account.map(Into::into),
            region: Some("us-east-1".into()),
            service: Some("ec2.amazonaws.com".into()),
            action: "AuthorizeSecurityGroupIngress".into(),
            read_only: Some(false),
            outcome: Outcome::Failure {
                code: "Client.UnauthorizedOperation".into(),
                message: Some("no".into()),
            },
            principal: Principal {
                id: Some("arn:aws:iam::1:user/alice".into()),
                ..Principal::default()
            },
            actor: Actor::new(ActorKind::Console, "console"),
            source_ip: None,
            user_agent: None,
            resources: vec!["sg-1".into(), "vpc-2".into()],
            completeness: 0,
        }
    }

    fn row(id: i64, time_us: i64, account: Option<&str>) -> Row {
        Row {
            id,
            event: event(&format!("e{id}"), time_us, account),
            raw: format!("{{\"eventID\":\"e{id}\"}}").into_bytes(),
            leaf: Some([id as u8; 32]),
        }
    }

    #[test]
    fn partition_values_are_escaped_and_absent_ones_are_null() {
        assert_eq!(escape(Some("123456789012")), "123456789012");
        assert_eq!(escape(Some("us-east-1")), "us-east-1");
        assert_eq!(escape(Some("a/b=c d")), "a%2Fb%3Dc%20d");
        assert_eq!(escape(Some("..")), "%2E%2E");
        assert_eq!(escape(None), NULL_PARTITION);
        assert_eq!(escape(Some("")), NULL_PARTITION);
        let p = Partition::of(&event("e", 1_731_024_000_000_000, None));
        assert_eq!(
            p.path(),
            "source=aws/account=__HIVE_DEFAULT_PARTITION__/region=us-east-1/date=2024-11-08"
        );
    }

    #[test]
    fn rows_land_in_their_partitions_files_and_read_back() {
        use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        let day = 86_400_000_000;
        let mut writer = ArchiveWriter::new("events-1-10", "s");
        let mut files = Vec::new();
        for id in 1..=10 {
            let account = if id % 2 == 0 {
                Some("111")
            } else {
                Some("222")
            };
            files.extend(
                writer
                    .push(row(id, 1_731_024_000_000_000 + (id % 3) * day, account))
                    .unwrap(),
            );
        }
        files.extend(writer.finish().unwrap());
        let total: u64 = files.iter().map(|f| f.rows).sum();
        assert_eq!(total, 10);
        // Two accounts by three days.
        assert_eq!(files.len(), 6);
        for f in &files {
            assert!(f.path.ends_with("/events-1-10.parquet"), "{}", f.path);
            assert_eq!(row_count(&f.path, f.bytes.clone()).unwrap(), f.rows);
            let reader =
                ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(f.bytes.clone()))
                    .unwrap()
                    .build()
                    .unwrap();
            let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
            let ids: Vec<i64> = batches
                .iter()
                .flat_map(|b| {
                    b.column(0)
                        .as_any()
                        .downcast_ref::<arrow_array::Int64Array>()
                        .unwrap()
                        .values()
                        .to_vec()
                })
                .collect();
            assert_eq!(ids.len() as u64, f.rows);
            assert!(ids.iter().all(|&id| (f.first_id..=f.last_id).contains(&id)));
            assert_eq!(batches[0].schema().fields().len(), columns().fields().len());
        }
        let a = files
            .iter()
            .find(|f| f.path.contains("account=111"))
            .unwrap();
        assert_eq!(a.sha256().len(), 64);
    }

    #[test]
    fn a_small_budget_finishes_files_early_without_losing_rows() {
        let mut writer = ArchiveWriter::new("run", "s").with_budget(1);
        let mut files = Vec::new();
        for id in 1..=(BATCH_ROWS as i64 * 2 + 5) {
            files.extend(
                writer
                    .push(row(id, 1_731_024_000_000_000, Some("1")))
                    .unwrap(),
            );
        }
        files.extend(writer.finish().unwrap());
        assert!(files.len() >= 2, "{} files", files.len());
        assert_eq!(files[0].path.rsplit('/').next(), Some("run.parquet"));
        assert_eq!(files[1].path.rsplit('/').next(), Some("run-2.parquet"));
        let total: u64 = files.iter().map(|f| f.rows).sum();
        assert_eq!(total, BATCH_ROWS as u64 * 2 + 5);
    }

    #[test]
    fn a_record_that_is_not_text_is_refused_by_id() {
        let mut writer = ArchiveWriter::new("run", "s");
        let mut bad = row(7, 0, None);
        bad.raw = vec![0xff, 0xfe];
        assert!(matches!(
            writer.push(bad),
            Err(ArchiveError::NotText { id: 7 })
        ));
    }

    #[test]
    fn garbage_is_not_a_parquet_file() {
        assert!(matches!(
            row_count("x.parquet", b"PAR1 not really".to_vec()),
            Err(ArchiveError::NotParquet { .. })
        ));
    }
}
