-- batchpay: a shared journal on PostgreSQL for a team (README "Team set-up (PostgreSQL)").
--
-- Part 2, as batchpay_owner, after `batchpay journal migrate` created batchpay's tables:
--
--     psql -v ON_ERROR_STOP=1 -h db.example -U batchpay_owner -d batchpay -f docs/team-grants.sql
--
-- Each group gets exactly what its commands write; everything else the database refuses
-- (batchpay then says "cannot be written by this role", exit 4). Events, approvals and plans
-- are write-once whoever you are: triggers refuse any UPDATE, DELETE or TRUNCATE.
-- tests/test_journal_team.py runs this file verbatim and tries every grant.

\set ON_ERROR_STOP on

-- Everyone reads everything (the plan an approver sees, the reports an accountant makes,
-- the earlier runs a new sheet's references are checked against).
GRANT SELECT ON batchpay_meta, runs, rows, events, approvals, plans
    TO batchpay_maker, batchpay_approver, batchpay_reader;

-- Makers: `batchpay submit` journals the run, its rows (every one PLANNED, with its
-- Request-Id) and its events, and seals the plan (plans, runs.plan_digest). Submitting a
-- sheet again whose earlier submission is overdue journals that one EXPIRED (runs.status).
-- An expired (or, after `batchpay emulator reset`, forgotten) run's rows give their
-- references back (rows.holds, the live-reference index). A maker still cannot release a
-- run: that takes approvals (approvers only) and sending takes UPDATE on rows' states
-- (approvers only).
GRANT INSERT ON runs, rows, events, plans TO batchpay_maker;
GRANT UPDATE (plan_digest, status) ON runs TO batchpay_maker;
GRANT UPDATE (holds) ON rows TO batchpay_maker;

-- Approvers: `batchpay approve` / `reject` record the decision (approvals), change the run's
-- status and journal an event; `batchpay send` moves each row through its states (UPDATE on
-- rows: an approver who sends needs it), journals every step and marks the run finished.
GRANT INSERT ON approvals, events TO batchpay_approver;
GRANT UPDATE (status, finished_at) ON runs TO batchpay_approver;
GRANT UPDATE ON rows TO batchpay_approver;

-- Readers: SELECT only (above).
