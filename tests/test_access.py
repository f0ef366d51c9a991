"""Who may read what (IG.md zones), proven by trying: real login roles, one per group role, connecting over
TCP with SCRAM passwords to a fresh warehouse database. Also: the pseudonym key is refused when unsafe.

dbt's schemas may not exist in a fresh database, so stand-ins are created the way the pipeline creates
them: raw tables by ipb_loader, restricted/build/published schemas by ipb_transformer, and publication
grants usage and select on marts/reports to ipb_analyst and ipb_ig_lead.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import errors

from ipb import access, config, db

GROUPS = ("ipb_loader", "ipb_transformer", "ipb_validator", "ipb_analyst", "ipb_ig_lead")
# Synthetic identifiers only (a test-range NHS number that passes modulus 11).
NHS_NUMBER = "9434765919"


@dataclass(frozen=True)
class Logins:
    db_url: str
    users: dict[str, str]  # group role -> login role
    password: str

    def url(self, group: str) -> str:
        return access.login_url(self.db_url, self.users[group], self.password)

    def connect(self, group: str) -> psycopg.Connection:
        return psycopg.connect(self.url(group), autocommit=True, connect_timeout=10)


def _stand_ins(admin: psycopg.Connection) -> None:
    """Objects as the loader and dbt would create them, owned by their group roles."""
    admin.execute("set role ipb_loader")  # raw.nhs_phb itself is created, by the loader role, at bootstrap
    batch = admin.execute(
        "insert into audit.batches (feed, sender_code, extract_date, file_name, checksum, status, rows_in_file,"
        " rows_loaded, rows_quarantined, loaded_at) values ('nhs_phb', 'QWE', '2026-11-20',"
        " 'nhs_phb_QWE_20261120.csv', 'abc', 'loaded', 2, 1, 1, now()) returning batch_id"
    ).fetchone()[0]
    admin.execute(
        "insert into raw.nhs_phb (nhs_number, date_of_birth, _batch_id, _row_number, _file_name, _file_checksum,"
        " _sender_code, _extract_date) values (%s, '1950-01-01', %s, 1, 'nhs_phb_QWE_20261120.csv', 'abc', 'QWE',"
        " '2026-11-20')", (NHS_NUMBER, batch))
    admin.execute(
        "insert into quarantine.rows (batch_id, feed, file_name, row_number, reason_code, reason,"
        " all_reason_codes, record) values (%s, 'nhs_phb', 'nhs_phb_QWE_20261120.csv', 2, 'NHS_INVALID',"
        " 'NHS number fails modulus 11', array['NHS_INVALID'], jsonb_build_object('nhs_number', '9434765918'))",
        (batch,),
    )
    admin.execute("set role ipb_transformer")
    for schema in ("restricted", "build_marts", "build_reports", "marts", "reports"):
        admin.execute(f"create schema if not exists {schema}")  # bootstrap already made restricted
    admin.execute("create table restricted.stg_person as select %s::text as nhs_number,"
                  " date '1950-01-01' as birth_date, 'LS1 4AP'::text as postcode", (NHS_NUMBER,))
    for schema in ("build_marts", "marts"):
        admin.execute(f"create table {schema}.person_budget as select 'k1'::text as person_key,"
                      " '75-84'::text as age_band, 'LS1'::text as postcode_district, 1200.00::numeric as amount")
    for schema in ("build_reports", "reports"):
        admin.execute(f"create table {schema}.quarterly_return as select 'E38000225'::text as icb_gss_code,"
                      " '*'::text as people")
    # What publication does after the swap (common interfaces): readers get the published schemas only.
    admin.execute("grant usage on schema marts, reports to ipb_analyst, ipb_ig_lead")
    admin.execute("grant select on all tables in schema marts, reports to ipb_analyst, ipb_ig_lead")
    admin.execute("reset role")


@pytest.fixture
def logins(fresh_db: str) -> Iterator[Logins]:
    db.bootstrap()
    suffix = uuid.uuid4().hex[:8]
    users = {group: f"t_{group.removeprefix('ipb_')}_{suffix}" for group in GROUPS}
    password = secrets.token_urlsafe(18)
    try:  # login roles are cluster-wide: always drop them, even if setting up failed half-way
        with psycopg.connect(fresh_db, autocommit=True) as admin:
            for group, user in users.items():
                access.create_login(admin, user, group, password)
            _stand_ins(admin)
        yield Logins(fresh_db, users, password)
    finally:
        with psycopg.connect(fresh_db, autocommit=True) as admin:
            for user in users.values():
                access.drop_login(admin, user)


def _readable(logins: Logins, group: str, relations: list[str]) -> dict[str, bool]:
    with logins.connect(group) as conn:
        assert conn.execute("select current_user").fetchone()[0] == logins.users[group]
        return {rel: access.can_select(conn, rel) for rel in relations}


ALL = [
    "raw.nhs_phb", "quarantine.rows", "quarantine.reason_counts", "audit.batches", "audit.validation_runs",
    "audit.pipeline_events", "restricted.stg_person", "build_marts.person_budget",
    "build_reports.quarterly_return", "marts.person_budget", "reports.quarterly_return",
]


def test_logins_use_scram_over_tcp_and_wrong_password_is_refused(logins: Logins) -> None:
    with psycopg.connect(logins.db_url) as admin:
        stored = admin.execute(
            "select rolpassword from pg_authid where rolname = %s", (logins.users["ipb_analyst"],)
        ).fetchone()[0]
    assert stored.startswith("SCRAM-SHA-256$4096:") and logins.password not in stored
    with logins.connect("ipb_analyst") as conn:
        # inet_client_addr() is null on a Unix socket: this is a TCP login, where pg_hba asks for SCRAM.
        assert conn.execute("select inet_client_addr()").fetchone()[0] is not None
    wrong = access.login_url(logins.db_url, logins.users["ipb_analyst"], "not-the-password-at-all")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong, connect_timeout=10)


def test_analyst_reads_published_marts_only(logins: Logins) -> None:
    seen = _readable(logins, "ipb_analyst", ALL)
    assert {rel for rel, ok in seen.items() if ok} == {"marts.person_budget", "reports.quarterly_return"}


def test_ig_lead_reads_audit_and_reason_counts_never_quarantined_values(logins: Logins) -> None:
    seen = _readable(logins, "ipb_ig_lead", ALL)
    assert {rel for rel, ok in seen.items() if ok} == {
        "audit.batches", "audit.validation_runs", "audit.pipeline_events", "quarantine.reason_counts",
        "marts.person_budget", "reports.quarterly_return",
    }
    with logins.connect("ipb_ig_lead") as conn:
        cur = conn.execute("select * from quarantine.reason_counts")
        columns = [c.name for c in cur.description]
        rows = cur.fetchall()
    assert "record" not in columns
    assert [row[columns.index("row_count")] for row in rows] == [1]
    assert not any(NHS_NUMBER in str(v) or "9434765918" in str(v) for row in rows for v in row)


def test_loader_cannot_read_marts_or_restricted(logins: Logins) -> None:
    seen = _readable(logins, "ipb_loader", ALL)
    for rel in ("marts.person_budget", "reports.quarterly_return", "restricted.stg_person",
                "build_marts.person_budget", "build_reports.quarterly_return"):
        assert seen[rel] is False, rel
    assert seen["raw.nhs_phb"] and seen["quarantine.rows"] and seen["audit.batches"]


def test_only_the_transformer_reads_the_restricted_linkage_layer(logins: Logins) -> None:
    readers = {g for g in GROUPS if _readable(logins, g, ["restricted.stg_person"])["restricted.stg_person"]}
    assert readers == {"ipb_transformer"}
    with logins.connect("ipb_transformer") as conn:
        assert conn.execute("select nhs_number from restricted.stg_person").fetchone() == (NHS_NUMBER,)


def test_people_facing_roles_never_read_direct_identifiers(logins: Logins) -> None:
    """Everywhere identifiers live (raw, quarantined records, restricted), analysts and IG leads are refused."""
    identifier_relations = ["raw.nhs_phb", "quarantine.rows", "restricted.stg_person"]
    for group in ("ipb_analyst", "ipb_ig_lead"):
        assert not any(_readable(logins, group, identifier_relations).values()), group
    # The transformer reads raw tables the loader created (default privileges), needed to build staging.
    assert all(_readable(logins, "ipb_transformer", identifier_relations).values())


def test_people_cannot_write_or_escalate(logins: Logins) -> None:
    with logins.connect("ipb_analyst") as conn:
        for statement in (
            "insert into marts.person_budget values ('k2', '18-25', 'LS2', 1)",
            "create table marts.mine (x int)",
            "create table public.mine (x int)",
            "set role ipb_transformer",
        ):
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(statement)
    with logins.connect("ipb_ig_lead") as conn:
        for statement in ("update audit.batches set status = 'rejected'", "delete from audit.validation_runs"):
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(statement)
    with logins.connect("ipb_loader") as conn, pytest.raises(errors.InsufficientPrivilege):
        # Publication decisions come from the transformer's gate, never from the loader.
        conn.execute("insert into audit.validation_runs (run_id, checkpoint, success, expectations_evaluated,"
                     " expectations_failed, published, decision) values ('r', 'c', true, 0, 0, true, 'publish')")


def test_create_login_moves_a_person_between_groups_and_validates_names(logins: Logins) -> None:
    user = logins.users["ipb_analyst"]
    with psycopg.connect(logins.db_url, autocommit=True) as admin:
        access.create_login(admin, user, "ipb_ig_lead", logins.password)
        groups = {r[0] for r in admin.execute(
            "select g.rolname from pg_auth_members m join pg_roles g on g.oid = m.roleid"
            " join pg_roles u on u.oid = m.member where u.rolname = %s", (user,))}
        assert groups == {"ipb_ig_lead"}
        with pytest.raises(ValueError, match="unknown group role"):
            access.create_login(admin, user, "postgres", logins.password)
        with pytest.raises(ValueError, match="login name"):
            access.create_login(admin, "ipb_analyst", "ipb_analyst", logins.password)
        with pytest.raises(ValueError, match="shorter"):
            access.create_login(admin, user, "ipb_analyst", "short")
    assert _readable(logins, "ipb_analyst", ["audit.batches"])["audit.batches"] is True


def test_can_select_does_not_mistake_a_missing_table_for_a_denial(logins: Logins) -> None:
    with logins.connect("ipb_transformer") as conn, pytest.raises(errors.UndefinedTable):
        access.can_select(conn, "marts.no_such_table")


# --- the pseudonym key (ipb.config) --------------------------------------------------------------------

@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "IPB_PSEUDONYM_KEY is not set"),
        ("", "IPB_PSEUDONYM_KEY is not set"),
        (config.DEMO_PSEUDONYM_KEY, "public demo key"),
        ("short-key-42", "shorter than 16 characters"),
    ],
)
def test_unsafe_pseudonym_key_is_refused_outside_demo_mode(
    monkeypatch: pytest.MonkeyPatch, value: str | None, message: str
) -> None:
    monkeypatch.setenv("IPB_DEMO_MODE", "0")
    if value is None:
        monkeypatch.delenv("IPB_PSEUDONYM_KEY", raising=False)
    else:
        monkeypatch.setenv("IPB_PSEUDONYM_KEY", value)
    with pytest.raises(config.ConfigError, match=message) as caught:
        config.load().pseudonym_key()
    if value:
        assert value not in str(caught.value)  # the message names the problem, never the key


def test_real_key_is_accepted_outside_demo_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    key = secrets.token_hex(32)
    monkeypatch.setenv("IPB_DEMO_MODE", "0")
    monkeypatch.setenv("IPB_PSEUDONYM_KEY", key)
    assert config.load().pseudonym_key() == key
