"""Claims that count their attempt up front, claims by due time, dead deliveries that hold their subject, discard.

- `events.claim_deliveries(...)`: the claim, one statement that locks, chooses, counts the
  attempt and schedules the retry, committed before any handler runs (see shared/events/worker.py).
- `claim_id`, `claim_size`: the claim that has a delivery in hand and how many it took, so an
  attempt whose process died is still counted, and charged to the right delivery.
- `ix_delivery_pending_due` replaces `ix_delivery_pending`: the claim reads due rows in
  `available_at` order, so timers not yet due are never read.
- `ix_delivery_dead_subject` replaces `ix_delivery_dead`: "is a dead delivery holding this
  subject?" is asked of every head.
- `discarded`: a dead delivery ops chose to skip; cleaned up like a done one, so the cleanup
  index covers every settled row (`done_at` is set exactly for those).

Every change is additive for the release before it: its publishers and claims keep working.
Change the function only by CREATE OR REPLACE in a later revision, keeping its signature
while a release that calls it still runs.

Revision ID: e0002
Revises: e0001
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "e0002"
down_revision: str | None = "e0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The claim of shared/events/worker.py, as one statement. Its steps:
#
# heads      the first owed delivery of as many subjects as fit, in the order they fell due:
#            pending, due, of a type the caller handles, the first of its subject still owed
#            (due now or already attempted, whatever its type: a subject whose next delivery
#            the caller cannot handle is left whole to the replicas that can), and behind no
#            dead delivery of its subject. Read through (consumer, available_at, id) as a range
#            that stops at `now` or at the limit, so timers not yet due are never read. The
#            per-subject lookups are correlated subqueries with ORDER BY/LIMIT on purpose: the
#            planner cannot turn them into joins, so they stay index probes.
# followers  the deliveries after each head in its subject, short of its next dead one.
# locked     the due followers we can lock; one another transaction settled since our
#            snapshot comes back locked in its new state and is not ours.
# runs/taken each head with its followers up to the first one we do not hold (a prefix of
#            each subject), then the first `limit` of them by id: still a prefix per subject.
# batch      ...except that a delivery whose last attempt was interrupted (`claim_size` still
#            set: its process or connection died with it in hand) is taken alone, or the batch
#            stops short of it: if it is what killed that process it must not take others down
#            again. Its attempt number: an attempt interrupted with others in hand is not
#            charged (nothing tells which one killed it), a lone one is; and a lone one that
#            has used up its attempts dies here instead of running again.
# marked     counts the attempt, schedules the retry as if it were going to fail (`p_delays`,
#            indexed by attempt number), and notes the claim; or dead-letters.
# summary    how much was due (capped) and when the next delivery falls due: what the loop
#            does next.
#
# The planner is told what this query is, a handful of index probes whatever the table
# holds: without sorts, hash or merge joins, or sequential scans, every scan of the
# consumer's pending rows is read in order from the due-time index, the only way left. Left
# to costs it does so only while its statistics are right; for a consumer new since the last
# ANALYZE they say it has nothing pending, and it read all its timers (measured: 20,000 rows
# read for 16). The settings hold for this function only. The claim's commit need not wait
# for its WAL flush: the handling transaction's commit flushes it, and a claim lost with the
# database's crash only leaves uncounted an attempt the crash, not the handler, cut short.
CLAIM_FUNCTION = """
CREATE FUNCTION events.claim_deliveries(
    p_consumer text, p_types text[], p_now timestamptz, p_limit int,
    p_claim_id uuid, p_max_attempts int, p_delays double precision[], p_died text
) RETURNS TABLE (
    due_seen bigint, next_due timestamptz,
    delivery_id bigint, subject text, attempt int, dies boolean,
    attempts_before int, available_at_before timestamptz,
    event_id uuid, type text, version int, source text, payload jsonb,
    occurred_at timestamptz, traceparent text
)
LANGUAGE plpgsql
SET enable_sort = off SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off
AS $claim$
#variable_conflict use_column
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    RETURN QUERY
    WITH heads AS (
        SELECT d.id, d.subject, d.attempts, d.event_id, d.available_at, d.claim_size
        FROM events.delivery d
        WHERE d.consumer = p_consumer AND d.status = 'pending' AND d.available_at <= p_now
          AND (SELECT e.type FROM events.event e WHERE e.id = d.event_id) = ANY(p_types)
          AND d.id = (
              SELECT p.id FROM events.delivery p
              WHERE p.consumer = p_consumer AND p.subject = d.subject AND p.status = 'pending'
                AND (p.available_at <= p_now OR p.attempts > 0)
              ORDER BY p.id LIMIT 1
          )
          AND (
              SELECT x.id FROM events.delivery x
              WHERE x.consumer = p_consumer AND x.subject = d.subject AND x.status = 'dead' AND x.id < d.id
              LIMIT 1
          ) IS NULL
        ORDER BY d.available_at, d.id
        LIMIT p_limit
        FOR UPDATE OF d SKIP LOCKED
    ), followers AS (
        SELECT f.id, f.subject, f.due
        FROM heads h CROSS JOIN LATERAL (
            SELECT d.id, d.subject, d.available_at <= p_now AS due
            FROM events.delivery d
            WHERE d.consumer = p_consumer AND d.subject = h.subject AND d.status = 'pending' AND d.id > h.id
              AND (d.available_at <= p_now OR d.attempts > 0)
              AND d.id < coalesce((
                  SELECT x.id FROM events.delivery x
                  WHERE x.consumer = p_consumer AND x.subject = h.subject AND x.status = 'dead' AND x.id > h.id
                  ORDER BY x.id LIMIT 1
              ), 9223372036854775807)
            ORDER BY d.id
            LIMIT p_limit
        ) f
    ), locked AS (
        SELECT d.id, d.attempts, d.event_id, d.available_at, d.claim_size,
               d.status = 'pending' AND d.available_at <= p_now
               AND (SELECT e.type FROM events.event e WHERE e.id = d.event_id) = ANY(p_types) AS owed
        FROM events.delivery d
        WHERE d.id = ANY(ARRAY(SELECT id FROM followers WHERE due))
        FOR UPDATE OF d SKIP LOCKED
    ), claimed AS (
        SELECT id, subject, true AS mine, attempts, event_id, available_at, claim_size FROM heads
        UNION ALL
        SELECT f.id, f.subject, coalesce(l.owed, false), l.attempts, l.event_id, l.available_at, l.claim_size
        FROM followers f LEFT JOIN locked l ON l.id = f.id
    ), runs AS (
        SELECT c.*, bool_and(c.mine) OVER (PARTITION BY c.subject ORDER BY c.id) AS in_run FROM claimed c
    ), taken AS (
        SELECT r.*, row_number() OVER (ORDER BY r.id) AS n FROM runs r WHERE r.in_run
    ), batch AS (
        SELECT t.id, t.subject, t.attempts, t.event_id, t.available_at,
               CASE WHEN t.claim_size > 1 OR t.claim_size = 1 AND t.attempts >= p_max_attempts
                    THEN t.attempts ELSE t.attempts + 1 END AS attempt,
               coalesce(t.claim_size = 1 AND t.attempts >= p_max_attempts, false) AS dies
        FROM taken t, (SELECT min(n) AS n FROM taken WHERE claim_size IS NOT NULL) i
        WHERE t.n <= p_limit AND (i.n IS NULL OR t.n < i.n OR (i.n = 1 AND t.n = 1))
    ), marked AS (
        UPDATE events.delivery d
        SET attempts = b.attempt,
            available_at = CASE WHEN b.dies THEN d.available_at
                                ELSE p_now + make_interval(secs => p_delays[least(b.attempt, p_max_attempts)]) END,
            status = CASE WHEN b.dies THEN 'dead'::events.delivery_status ELSE d.status END,
            last_error = CASE WHEN b.dies THEN p_died ELSE d.last_error END,
            claim_id = CASE WHEN b.dies THEN NULL ELSE p_claim_id END,
            claim_size = CASE WHEN b.dies THEN NULL ELSE (SELECT count(*) FROM batch)::int END
        FROM batch b
        WHERE d.id = b.id
        RETURNING d.id
    ), summary AS (
        SELECT q.due_seen,
               CASE WHEN q.due_seen > p_limit AND EXISTS (SELECT 1 FROM heads) THEN NULL ELSE (
                   SELECT s.available_at FROM events.delivery s
                   WHERE s.consumer = p_consumer AND s.status = 'pending' AND s.available_at > p_now
                   ORDER BY s.available_at LIMIT 1
               ) END AS next_due
        FROM (
            SELECT count(*) AS due_seen FROM (
                SELECT 1 FROM events.delivery s
                WHERE s.consumer = p_consumer AND s.status = 'pending' AND s.available_at <= p_now
                ORDER BY s.available_at LIMIT p_limit + 1
            ) due
        ) q
    )
    SELECT sm.due_seen, sm.next_due,
           b.id, b.subject::text, b.attempt, b.dies, b.attempts, b.available_at,
           e.event_id, e.type::text, e.version, e.source::text, e.payload, e.occurred_at, e.traceparent::text
    FROM summary sm
    LEFT JOIN (batch b JOIN events.event e ON e.id = b.event_id) ON true
    ORDER BY b.id;
END
$claim$
"""


def upgrade() -> None:
    # Usable from the next transaction on; nothing below names the new value.
    op.execute("ALTER TYPE events.delivery_status ADD VALUE IF NOT EXISTS 'discarded'")
    op.add_column("delivery", sa.Column("claim_id", postgresql.UUID(as_uuid=True), nullable=True), schema="events")
    op.add_column("delivery", sa.Column("claim_size", sa.Integer(), nullable=True), schema="events")

    op.drop_index("ix_delivery_pending", table_name="delivery", schema="events")
    op.create_index(
        "ix_delivery_pending_due", "delivery", ["consumer", "available_at", "id"], schema="events",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_index("ix_delivery_dead", table_name="delivery", schema="events")
    op.create_index(
        "ix_delivery_dead_subject", "delivery", ["consumer", "subject", "id"], schema="events",
        postgresql_where=sa.text("status = 'dead'"),
    )
    op.drop_index("ix_delivery_done_at", table_name="delivery", schema="events")
    op.create_index(
        "ix_delivery_done_at", "delivery", ["done_at"], schema="events",
        postgresql_where=sa.text("done_at IS NOT NULL"),
    )
    op.execute(CLAIM_FUNCTION)


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION events.claim_deliveries(text, text[], timestamptz, int, uuid, int, double precision[], text)"
    )
    # PostgreSQL cannot drop an enum value. A discarded delivery goes back to what it was
    # before ops skipped it, dead, which the older code knows how to show and replay.
    op.execute("UPDATE events.delivery SET status = 'dead', done_at = NULL WHERE status = 'discarded'")
    op.drop_index("ix_delivery_done_at", table_name="delivery", schema="events")
    op.create_index(
        "ix_delivery_done_at", "delivery", ["done_at"], schema="events",
        postgresql_where=sa.text("status = 'done'"),
    )
    op.drop_index("ix_delivery_dead_subject", table_name="delivery", schema="events")
    op.create_index(
        "ix_delivery_dead", "delivery", ["consumer", "id"], schema="events",
        postgresql_where=sa.text("status = 'dead'"),
    )
    op.drop_index("ix_delivery_pending_due", table_name="delivery", schema="events")
    op.create_index(
        "ix_delivery_pending", "delivery", ["consumer", "id"], schema="events",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_column("delivery", "claim_size", schema="events")
    op.drop_column("delivery", "claim_id", schema="events")
