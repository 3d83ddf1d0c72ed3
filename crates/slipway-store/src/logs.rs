//! Stage logs, stored as they are produced in chunks of whole lines, keyed `(stage_id, seq)`.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Func, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::Serialize;

use crate::entities::{log_chunk, stage};
use crate::error::{Context, StoreError, not_found};
use crate::{Store, now};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogChunk {
    pub stage_id: i64,
    /// 0, 1, 2… within the stage; a reader resumes after the last seq it saw.
    pub seq: i64,
    pub written_at: DateTime<Utc>,
    /// Bytes of the log before this chunk: the chunk is `start_byte..start_byte + text.len()`.
    pub start_byte: u64,
    /// One or more whole lines.
    pub text: String,
}

impl From<log_chunk::Model> for LogChunk {
    fn from(m: log_chunk::Model) -> Self {
        let end = u64::try_from(m.end_byte).unwrap_or(0);
        let start_byte = end.saturating_sub(m.text.len() as u64);
        LogChunk { stage_id: m.stage_id, seq: m.seq, written_at: m.written_at, start_byte, text: m.text }
    }
}

/// How big a stage's log is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct LogSize {
    pub bytes: u64,
    pub chunks: u64,
}

impl Store {
    /// Appends a chunk and returns its seq. Writers of one stage are serialised on the stage row, so seqs are
    /// gapless and become visible in order (a reader polling `from_seq` never skips one).
    pub async fn append_log(&self, stage_id: i64, text: &str) -> Result<i64, StoreError> {
        let what = || format!("appending to the log of stage {stage_id}");
        let txn = self.write_txn().await.context(what)?;
        let locked: Option<i64> = stage::Entity::find_by_id(stage_id)
            .select_only()
            .column(stage::Column::Id)
            .lock_exclusive()
            .into_tuple()
            .one(&txn)
            .await
            .context(what)?;
        if locked.is_none() {
            return Err(not_found("stage", &stage_id));
        }
        let last = last_chunk(&txn, stage_id).await.context(what)?;
        let (seq, start) = last.map_or((0, 0), |(seq, end)| (seq + 1, end));
        log_chunk::ActiveModel {
            id: NotSet,
            stage_id: Set(stage_id),
            seq: Set(seq),
            end_byte: Set(start + i64::try_from(text.len()).unwrap_or(i64::MAX)),
            written_at: Set(now()),
            text: Set(text.to_string()),
        }
        .insert(&txn)
        .await
        .context(what)?;
        txn.commit().await.context(what)?;
        Ok(seq)
    }

    /// Up to `limit` chunks from `from_seq` on, in order.
    pub async fn log_chunks(&self, stage_id: i64, from_seq: i64, limit: u64) -> Result<Vec<LogChunk>, StoreError> {
        let rows = log_chunk::Entity::find()
            .filter(log_chunk::Column::StageId.eq(stage_id))
            .filter(log_chunk::Column::Seq.gte(from_seq))
            .order_by_asc(log_chunk::Column::Seq)
            .limit(limit.min(i64::MAX as u64))
            .all(&self.db)
            .await
            .context(|| format!("reading the log of stage {stage_id} from chunk {from_seq}"))?;
        Ok(rows.into_iter().map(LogChunk::from).collect())
    }

    /// The chunks holding byte `from` of the log and after, up to `limit` of them, in order.
    pub async fn log_chunks_from_byte(
        &self,
        stage_id: i64,
        from: u64,
        limit: u64,
    ) -> Result<Vec<LogChunk>, StoreError> {
        let rows = log_chunk::Entity::find()
            .filter(log_chunk::Column::StageId.eq(stage_id))
            .filter(log_chunk::Column::EndByte.gt(i64::try_from(from).unwrap_or(i64::MAX)))
            .order_by_asc(log_chunk::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await
            .context(|| format!("reading the log of stage {stage_id} from byte {from}"))?;
        Ok(rows.into_iter().map(LogChunk::from).collect())
    }

    /// The last `limit` chunks of a stage's log, in order: the end of a log without reading the rest.
    pub async fn log_tail(&self, stage_id: i64, limit: u64) -> Result<Vec<LogChunk>, StoreError> {
        let mut rows = log_chunk::Entity::find()
            .filter(log_chunk::Column::StageId.eq(stage_id))
            .order_by_desc(log_chunk::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await
            .context(|| format!("reading the end of the log of stage {stage_id}"))?;
        rows.reverse();
        Ok(rows.into_iter().map(LogChunk::from).collect())
    }

    /// The size of a stage's log, read from its last chunk.
    pub async fn log_size(&self, stage_id: i64) -> Result<LogSize, StoreError> {
        let last = last_chunk(&self.db, stage_id).await.context(|| format!("measuring the log of stage {stage_id}"))?;
        Ok(last.map_or(LogSize::default(), |(seq, end)| LogSize {
            bytes: u64::try_from(end).unwrap_or(0),
            chunks: u64::try_from(seq + 1).unwrap_or(0),
        }))
    }

    /// The log sizes (bytes) of several stages at once; a stage without a log is absent.
    pub async fn log_sizes(&self, stage_ids: &[i64]) -> Result<std::collections::HashMap<i64, u64>, StoreError> {
        // Each stage's last chunk found from the (stage_id, seq) index alone: reading end_byte from every row
        // would read every row's text too (it comes first in the row), all of a 100 MB log.
        let last = Query::select()
            .expr(Func::max(Expr::col(log_chunk::Column::Id)))
            .from(log_chunk::Entity)
            .and_where(sea_orm::sea_query::ExprTrait::is_in(
                Expr::col(log_chunk::Column::StageId),
                stage_ids.iter().copied(),
            ))
            .group_by_col(log_chunk::Column::StageId)
            .to_owned();
        let rows: Vec<(i64, Option<i64>)> = log_chunk::Entity::find()
            .select_only()
            .column(log_chunk::Column::StageId)
            .column(log_chunk::Column::EndByte)
            .filter(log_chunk::Column::Id.in_subquery(last))
            .into_tuple()
            .all(&self.db)
            .await
            .context(|| format!("measuring the logs of {} stage(s)", stage_ids.len()))?;
        Ok(rows.into_iter().map(|(id, end)| (id, end.and_then(|e| u64::try_from(e).ok()).unwrap_or(0))).collect())
    }

    /// The whole log of a stage (for tests and the CLI; pages stream with [`Store::log_chunks`]).
    pub async fn log_text(&self, stage_id: i64) -> Result<String, StoreError> {
        let chunks: Vec<String> = log_chunk::Entity::find()
            .select_only()
            .column(log_chunk::Column::Text)
            .filter(log_chunk::Column::StageId.eq(stage_id))
            .order_by_asc(log_chunk::Column::Seq)
            .into_tuple()
            .all(&self.db)
            .await
            .context(|| format!("reading the log of stage {stage_id}"))?;
        Ok(chunks.concat())
    }
}

/// The seq and end byte of a stage's last chunk, read from the (stage_id, seq) index and that one row.
async fn last_chunk(db: &impl sea_orm::ConnectionTrait, stage_id: i64) -> Result<Option<(i64, i64)>, sea_orm::DbErr> {
    log_chunk::Entity::find()
        .select_only()
        .column(log_chunk::Column::Seq)
        .column(log_chunk::Column::EndByte)
        .filter(log_chunk::Column::StageId.eq(stage_id))
        .order_by_desc(log_chunk::Column::Seq)
        .limit(1)
        .into_tuple()
        .one(db)
        .await
}
