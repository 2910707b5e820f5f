-- batchpay: a shared journal on PostgreSQL for a team (README "Team set-up (PostgreSQL)").
--
-- Part 1, as the database superuser, connected to any database of the server:
--
--     psql -v ON_ERROR_STOP=1 -h db.example -U postgres -d postgres -f docs/team-setup.sql
--
-- It creates the database `batchpay`, its owner, the three group roles batchpay's grants are
-- given to, and one login role per person. The example people: ani (HR, prepares batches),
-- budi (finance, approves and sends them), citra (the accountant, reads). Rename them, or
-- add more people with the same two lines (CREATE ROLE … LOGIN IN ROLE …).
--
-- Then: `batchpay journal migrate` as batchpay_owner (creates batchpay's tables), and
-- part 2, docs/team-grants.sql, as batchpay_owner (grants on those tables).
-- tests/test_journal_team.py runs this file verbatim.

\set ON_ERROR_STOP on

-- The database's owner: runs `batchpay journal migrate` and docs/team-grants.sql; nobody
-- pays with it.
CREATE ROLE batchpay_owner LOGIN;

-- The groups: rights go to these, people are put in them.
CREATE ROLE batchpay_maker NOLOGIN;     -- submit a sheet (`batchpay submit`)
CREATE ROLE batchpay_approver NOLOGIN;  -- approve or reject a run, send it
CREATE ROLE batchpay_reader NOLOGIN;    -- read: `batchpay runs`, `report`, `status`

-- One login role per person. batchpay records approvals under this name (current_user):
-- never share a login.
CREATE ROLE ani LOGIN IN ROLE batchpay_maker;
CREATE ROLE budi LOGIN IN ROLE batchpay_approver;
CREATE ROLE citra LOGIN IN ROLE batchpay_reader;

CREATE DATABASE batchpay OWNER batchpay_owner ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE batchpay FROM PUBLIC;
GRANT CONNECT ON DATABASE batchpay TO batchpay_maker, batchpay_approver, batchpay_reader;

\connect batchpay

-- Only the owner creates tables in the journal's schema; the groups may use it.
ALTER SCHEMA public OWNER TO batchpay_owner;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO batchpay_maker, batchpay_approver, batchpay_reader;
