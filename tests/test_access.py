"""Who may read what (IG.md zones), proven by trying: real login roles, one per group role, connecting over
TCP with SCRAM passwords to a fresh warehouse database. Also: the pseudonym key is refused when unsafe.

dbt's schemas may not exist in a fresh database, so stand-ins are created the way the pipeline creates
them: raw tables by ipb_loader, restricted/build/published schemas by ipb_transformer, and publication
grants usage and select on marts/reports to ipb_analyst and ipb_ig_lead.

People's logins come from ipb.access (create-login offers the person groups only); the service groups' test
logins are made here with plain SQL, as a deployment would for its own components. Then: create-login never
takes over an existing role (superuser, the pipeline's login, a service login, a person), and drop-login and
reset-password only act on person logins.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import errors, sql
from typer.testing import CliRunner

from ipb import access, config, db

GROUPS = ("ipb_loader", "ipb_transformer", "ipb_validator", "ipb_analyst", "ipb_ig_lead")
PERSON_GROUPS = ("ipb_analyst", "ipb_ig_lead")
SERVICE_GROUPS = ("ipb_loader", "ipb_transformer", "ipb_validator")
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
                if group in PERSON_GROUPS:
                    access.create_login(admin, user, group, password)
                else:
                    _service_login(admin, user, group, password)
            _stand_ins(admin)
        yield Logins(fresh_db, users, password)
    finally:
        with psycopg.connect(fresh_db, autocommit=True) as admin:
            for user in users.values():
                admin.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(user)))


def _service_login(admin: psycopg.Connection, user: str, group: str, password: str, extra: str = "") -> None:
    """A login for a pipeline component (or a privileged one, `extra`), made the way a DBA would, not by ipb.access."""
    admin.execute(sql.SQL("create role {} login " + extra + " password {} in role {}").format(
        sql.Identifier(user), sql.Literal(access.scram_verifier(password)), sql.Identifier(group)))


@pytest.fixture
def scratch(fresh_db: str) -> Iterator[Callable[[str], str]]:
    """Unique names for cluster-wide roles a test makes (or that old code might have made), dropped afterwards."""
    made: list[str] = []

    def name(kind: str) -> str:
        made.append(f"t_{kind}_{uuid.uuid4().hex[:8]}")
        return made[-1]

    yield name
    with psycopg.connect(fresh_db, autocommit=True) as admin:
        for user in reversed(made):
            admin.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(user)))


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


# --- create-login never takes over a role; only person logins are dropped or reset -----------------------

def _state(admin: psycopg.Connection, user: str) -> tuple[object, ...]:
    """Everything create-login could change about a role: attributes, stored password verifier, memberships."""
    row = admin.execute(
        "select rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, rolcanlogin, rolinherit,"
        " rolpassword from pg_authid where rolname = %s", (user,)).fetchone()
    groups = sorted(r[0] for r in admin.execute(
        "select g.rolname from pg_auth_members m join pg_roles g on g.oid = m.roleid"
        " join pg_roles u on u.oid = m.member where u.rolname = %s", (user,)))
    return (row, groups)


def _can_log_in(db_url: str, user: str, password: str) -> bool:
    try:
        with psycopg.connect(access.login_url(db_url, user, password), connect_timeout=10) as conn:
            return conn.execute("select current_user").fetchone()[0] == user
    except psycopg.OperationalError as exc:
        assert "password authentication failed" in str(exc)
        return False


@contextmanager
def _rolled_back(db_url: str) -> Iterator[psycopg.Connection]:
    """A superuser connection inside a transaction that is started now and always rolled back: a create_login that
    wrongly re-points the real superuser runs in a savepoint of it and changes nothing for good. (On an idle
    connection, `conn.transaction()` would commit by itself.)"""
    with psycopg.connect(db_url) as admin:
        admin.execute("select 1")
        assert admin.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        try:
            yield admin
        finally:
            admin.rollback()


def _exists(admin: psycopg.Connection, user: str) -> bool:
    return admin.execute("select 1 from pg_roles where rolname = %s", (user,)).fetchone() is not None


def test_create_login_leaves_the_running_superuser_and_pipeline_login_alone(logins: Logins) -> None:
    """The very login the pipeline and this test connect with (the superuser here). Run inside a transaction that
    is always rolled back, so even code that wrongly re-points it cannot lock the warehouse out."""
    new_password = secrets.token_urlsafe(18)
    with _rolled_back(logins.db_url) as admin:
        me, session = admin.execute("select current_user, session_user").fetchone()
        assert admin.execute("select rolsuper from pg_roles where rolname = %s", (me,)).fetchone()[0]
        before = {name: _state(admin, name) for name in (me, session)}
        for name in (me, session, "postgres"):
            for group in PERSON_GROUPS:
                with pytest.raises(ValueError, match="reserved|already exists"):
                    access.create_login(admin, name, group, new_password)
        assert {name: _state(admin, name) for name in before} == before
    assert _can_log_in(logins.db_url, me, _password_of(logins.db_url))


def _password_of(url: str) -> str:
    from urllib.parse import unquote, urlsplit

    return unquote(urlsplit(url).password or "")


@pytest.mark.parametrize("kind", ["superuser", "pipeline_login", "service_login", "person"])
def test_create_login_refuses_an_existing_role_and_leaves_it_as_it_was(
    logins: Logins, scratch: Callable[[str], str], kind: str
) -> None:
    old_password, new_password = logins.password, secrets.token_urlsafe(18)
    with psycopg.connect(logins.db_url, autocommit=True) as admin:
        if kind == "superuser":
            user = scratch("su")
            _service_login(admin, user, "ipb_transformer", old_password, extra="superuser")
        elif kind == "pipeline_login":  # a non-superuser pipeline login with its service groups and createrole
            user = scratch("pipeline")
            _service_login(admin, user, "ipb_loader", old_password, extra="createrole")
            admin.execute(sql.SQL("grant ipb_transformer, ipb_validator to {}").format(sql.Identifier(user)))
        elif kind == "service_login":
            user = logins.users["ipb_validator"]
        else:
            user = logins.users["ipb_analyst"]
        before = _state(admin, user)
        for group in PERSON_GROUPS:
            with pytest.raises(ValueError, match="already exists"):
                access.create_login(admin, user, group, new_password)
        assert _state(admin, user) == before
    assert _can_log_in(logins.db_url, user, old_password)
    assert not _can_log_in(logins.db_url, user, new_password)


@pytest.mark.parametrize("group", [*SERVICE_GROUPS, "loader", "transformer", "validator"])
def test_create_login_refuses_service_groups(logins: Logins, scratch: Callable[[str], str], group: str) -> None:
    user = scratch("svc")
    with psycopg.connect(logins.db_url, autocommit=True) as admin:
        with pytest.raises(ValueError, match="service group .*never for people"):
            access.create_login(admin, user, group, logins.password)
        assert not _exists(admin, user)


def test_create_login_refuses_reserved_names_unknown_groups_and_short_passwords(
    logins: Logins, scratch: Callable[[str], str]
) -> None:
    """Rolled back at the end, so code that wrongly accepted a reserved name changes nothing for good."""
    user = scratch("ok")
    with _rolled_back(logins.db_url) as admin:
        for name in ("postgres", "public", "none", "current_user", "session_user", "pg_monitor", "pg_alice",
                     "ipb_analyst", "ipb_alice", "Alice", "a", "alice; drop table x"):
            with pytest.raises(ValueError, match="login name"):
                access.create_login(admin, name, "ipb_analyst", logins.password)
        for group in ("postgres", "pg_read_all_data", "superuser", "ipb_admin"):
            with pytest.raises(ValueError, match="unknown group"):
                access.create_login(admin, user, group, logins.password)
        with pytest.raises(ValueError, match="shorter"):
            access.create_login(admin, user, "ipb_analyst", "short")
        assert not _exists(admin, user)
        assert not admin.execute("select rolcanlogin from pg_roles where rolname = 'ipb_analyst'").fetchone()[0]


def _cli(monkeypatch: pytest.MonkeyPatch, args: list[str], password: str | None) -> tuple[int, str, list[str]]:
    """Run `python -m ipb.access ARGS`, answering the password prompts; exit code, all output, prompts asked."""
    asked: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        asked.append(prompt)
        assert password is not None, "no password should be asked for"
        return password

    monkeypatch.setattr(access.getpass, "getpass", fake_getpass)
    result = CliRunner().invoke(access.app, args)
    return result.exit_code, result.output, asked


def test_an_analyst_login_from_the_command_line_reads_marts_not_raw(
    logins: Logins, scratch: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    user, password = scratch("alice"), secrets.token_urlsafe(18)
    code, output, asked = _cli(monkeypatch, ["create-login", user, "analyst"], password)
    assert (code, output.strip()) == (0, f"{user} can now log in as a member of ipb_analyst."), output
    assert len(asked) == 2 and password not in output
    with psycopg.connect(logins.db_url) as admin:
        assert _state(admin, user)[1] == ["ipb_analyst"]
    with psycopg.connect(access.login_url(logins.db_url, user, password), autocommit=True) as conn:
        seen = {rel: access.can_select(conn, rel) for rel in ALL}
    assert {rel for rel, ok in seen.items() if ok} == {"marts.person_budget", "reports.quarterly_return"}


def test_command_line_refusals_are_one_line_and_never_show_the_password(
    logins: Logins, scratch: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    superuser, password = scratch("su"), secrets.token_urlsafe(18)
    with psycopg.connect(logins.db_url, autocommit=True) as admin:
        _service_login(admin, superuser, "ipb_loader", logins.password, extra="superuser")
    cases = [
        (["create-login", superuser, "ig-lead"], "already exists"),
        (["create-login", scratch("bob"), "ipb_transformer"], "service group"),
        (["create-login", "postgres", "no_such_group"], "reserved"),  # the name is refused first
        (["drop-login", superuser], "privileged role"),
        (["drop-login", logins.users["ipb_loader"]], "service group"),
        (["reset-password", superuser], "privileged role"),
        (["reset-password", logins.users["ipb_transformer"]], "service group"),
    ]
    for args, message in cases:
        code, output, asked = _cli(monkeypatch, args, password)
        assert code == 1, (args, output)
        assert len(output.strip().splitlines()) == 1 and output.startswith("error: ") and message in output, output
        assert "Traceback" not in output and password not in output and logins.password not in output
        assert asked == [], (args, asked)  # refused before asking for a password
    assert _can_log_in(logins.db_url, superuser, logins.password)
    code, output, _ = _cli(monkeypatch, ["create-login", scratch("carol"), "analyst"], "too-short")
    assert code == 1 and output.strip() == "error: password shorter than 12 characters"


def test_drop_login_only_drops_person_logins(logins: Logins, scratch: Callable[[str], str]) -> None:
    with psycopg.connect(logins.db_url, autocommit=True) as admin:
        superuser, pipeline = scratch("su"), scratch("pipeline")
        _service_login(admin, superuser, "ipb_analyst", logins.password, extra="superuser")
        _service_login(admin, pipeline, "ipb_transformer", logins.password, extra="createrole")
        refused = {superuser: "privileged", pipeline: "privileged"}
        refused |= {logins.users[g]: "service group" for g in SERVICE_GROUPS}
        for user, message in refused.items():
            before = _state(admin, user)
            with pytest.raises(ValueError, match=message):
                access.drop_login(admin, user)
            assert _state(admin, user) == before
        for name in ("ipb_analyst", "ipb_ig_lead", "ipb_loader", "pg_monitor", "postgres", "public"):
            with pytest.raises(ValueError, match="login name"):
                access.drop_login(admin, name)
            if name != "public":
                assert _exists(admin, name)
        for group in PERSON_GROUPS:
            access.drop_login(admin, logins.users[group])
            assert not _exists(admin, logins.users[group])
        with pytest.raises(ValueError, match="no role named"):
            access.drop_login(admin, logins.users["ipb_analyst"])
        access.drop_login(admin, logins.users["ipb_analyst"], missing_ok=True)
    assert _can_log_in(logins.db_url, superuser, logins.password)


def test_reset_password_only_for_a_person_in_exactly_one_person_group(
    logins: Logins, scratch: Callable[[str], str]
) -> None:
    new_password = secrets.token_urlsafe(18)
    with psycopg.connect(logins.db_url, autocommit=True) as admin:
        superuser, both, team_member, team = scratch("su"), scratch("both"), scratch("member"), scratch("team")
        _service_login(admin, superuser, "ipb_analyst", logins.password, extra="superuser")
        access.create_login(admin, both, "ipb_analyst", logins.password)
        admin.execute(sql.SQL("grant ipb_ig_lead to {}").format(sql.Identifier(both)))
        access.create_login(admin, team_member, "ipb_analyst", logins.password)  # a service group through a team
        admin.execute(sql.SQL("create role {} nologin in role ipb_transformer").format(sql.Identifier(team)))
        admin.execute(sql.SQL("grant {} to {}").format(sql.Identifier(team), sql.Identifier(team_member)))
        refused = {superuser: "privileged", both: "not exactly one person group", team_member: "service group"}
        refused |= {logins.users[g]: "service group" for g in SERVICE_GROUPS}
        for user, message in refused.items():
            before = _state(admin, user)
            with pytest.raises(ValueError, match=message):
                access.reset_password(admin, user, new_password)
            assert _state(admin, user) == before
        for name in ("postgres", "ipb_analyst"):
            with pytest.raises(ValueError, match="login name"):
                access.reset_password(admin, name, new_password)
        person = logins.users["ipb_ig_lead"]
        before = _state(admin, person)
        access.reset_password(admin, person, new_password)
        after = _state(admin, person)
        assert after[1] == before[1] == ["ipb_ig_lead"] and after[0][:-1] == before[0][:-1]  # only the password
    for user in refused:
        assert _can_log_in(logins.db_url, user, logins.password)
    assert _can_log_in(logins.db_url, person, new_password)
    assert not _can_log_in(logins.db_url, person, logins.password)


def test_can_select_does_not_mistake_a_missing_table_for_a_denial(logins: Logins) -> None:
    with logins.connect("ipb_transformer") as conn, pytest.raises(errors.UndefinedTable):
        access.can_select(conn, "marts.no_such_table")


# --- the pseudonym key (ipb.config) --------------------------------------------------------------------

@pytest.mark.fast
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


@pytest.mark.fast
def test_real_key_is_accepted_outside_demo_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    key = secrets.token_hex(32)
    monkeypatch.setenv("IPB_DEMO_MODE", "0")
    monkeypatch.setenv("IPB_PSEUDONYM_KEY", key)
    assert config.load().pseudonym_key() == key
