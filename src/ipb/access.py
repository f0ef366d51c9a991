"""People's own warehouse logins: one login role per person, member of exactly one person group.

Only the two person groups are offered: `ipb_analyst` and `ipb_ig_lead` (roles.sql decides what each may read).
The service groups (`ipb_loader`, `ipb_transformer`, `ipb_validator`) are for pipeline components only and are
refused here. create-login only ever creates a new role: a name that already exists as any role (the
superuser, the pipeline's own login, a service login, another person) is refused, and the creation itself is a
plain CREATE ROLE, which fails if a role of that name appeared meanwhile, so no existing role is ever altered.
drop-login and reset-password act only on person logins. Passwords are sent as SCRAM-SHA-256 verifiers computed
here, so the clear password never reaches the server or its statement log, and no message ever contains one.

    python -m ipb.access create-login alice analyst       # or ig_lead; asks for the password
    python -m ipb.access reset-password alice             # a person login only; asks for the new password
    python -m ipb.access drop-login alice                 # a person login only
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import typer
from psycopg import errors, sql

from ipb import config, db

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,62}$")
MIN_PASSWORD = 12
SCRAM_ITERATIONS = 4096  # PostgreSQL's own default (scram_iterations)

PERSON_GROUPS = ("ipb_analyst", "ipb_ig_lead")
SERVICE_GROUPS = ("ipb_loader", "ipb_transformer", "ipb_validator")
_GROUP_ALIASES = {
    "analyst": "ipb_analyst", "ig_lead": "ipb_ig_lead", "ig-lead": "ipb_ig_lead", "ipb-ig-lead": "ipb_ig_lead",
    "loader": "ipb_loader", "transformer": "ipb_transformer", "validator": "ipb_validator",
}
# Names PostgreSQL reserves or treats specially, and the conventional bootstrap superuser.
RESERVED_NAMES = frozenset({
    "postgres", "public", "none", "current_user", "current_role", "session_user", "system_user", "user", "all",
    "template0", "template1",
})
_RESERVED_PREFIXES = ("ipb_", "pg_")


class AccessError(ValueError):
    """A refused request; the message is one line, safe to show, and never contains a password."""


def scram_verifier(password: str, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5802/7677, as pg_authid keeps it)."""
    if not password.isascii():
        # PostgreSQL applies SASLprep to non-ASCII passwords; we do not reimplement it.
        raise AccessError("use an ASCII password")
    salt = salt or secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def check_name(user: str) -> None:
    """Refuse names a person's login may not have (shape, reserved prefixes, PostgreSQL's reserved names)."""
    if not _NAME.match(user):
        raise AccessError(f"login name {user!r}: use 2-63 lower-case letters, digits and _, starting with a letter")
    if user.startswith(_RESERVED_PREFIXES):
        raise AccessError(f"login name {user!r}: names starting ipb_ or pg_ are reserved for the warehouse's roles")
    if user in RESERVED_NAMES:
        raise AccessError(f"login name {user!r} is reserved by PostgreSQL; choose the person's own name")


def person_group(group: str) -> str:
    """The person group role `group` names (ipb_analyst or ipb_ig_lead; `analyst`, `ig_lead`, `ig-lead` too)."""
    key = group.strip().lower()
    name = _GROUP_ALIASES.get(key, key)
    if name in SERVICE_GROUPS:
        raise AccessError(f"{name} is a service group for the pipeline's own components, never for people; "
                          f"a person gets one of {', '.join(PERSON_GROUPS)}")
    if name not in PERSON_GROUPS:
        raise AccessError(f"unknown group {group!r}; a person gets one of {', '.join(PERSON_GROUPS)}")
    return name


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccessError(f"password shorter than {MIN_PASSWORD} characters")
    if not password.isascii():
        raise AccessError("use an ASCII password")


def _exists(conn: psycopg.Connection, user: str) -> bool:
    return conn.execute("select 1 from pg_roles where rolname = %s", (user,)).fetchone() is not None


def _refuse_existing(user: str) -> AccessError:
    return AccessError(f"a role named {user!r} already exists; create-login never changes an existing role "
                       f"(a person's password: reset-password; another group: drop-login, then create-login)")


def check_new_login(conn: psycopg.Connection, user: str) -> None:
    """Refuse `user` early (before asking for a password) if it cannot become a new person login."""
    check_name(user)
    if _exists(conn, user):
        raise _refuse_existing(user)


def create_login(conn: psycopg.Connection, user: str, group: str, password: str) -> None:
    """Create `user` as a new login in exactly one person group, with `password`. Never touches an existing role.

    Needs CREATEROLE (and, for a non-superuser, ADMIN on the group). The existence check gives a clear message;
    CREATE ROLE itself failing on an existing name is what makes it safe against a concurrent creation.
    """
    check_name(user)
    group = person_group(group)
    check_password(password)
    verifier = sql.Literal(scram_verifier(password))
    name = sql.Identifier(user)
    with conn.transaction():
        if _exists(conn, user):
            raise _refuse_existing(user)
        try:  # fails on a name created meanwhile: never ALTER, so never a takeover
            conn.execute(sql.SQL(
                "create role {} with login inherit nosuperuser nocreatedb nocreaterole noreplication nobypassrls"
                " password {}").format(name, verifier))
        except errors.DuplicateObject:
            raise _refuse_existing(user) from None
        conn.execute(sql.SQL("grant {} to {}").format(sql.Identifier(group), name))


def _person_problem(conn: psycopg.Connection, user: str, *, exactly_one: bool) -> str | None:
    """Why `user` is not a person login we may act on, or None. Person login: can log in, no superuser,
    createrole, replication or bypassrls, member of a person group and of no service group (even through
    another role); with `exactly_one`, its only membership is one person group."""
    row = conn.execute(
        "select rolcanlogin, rolsuper, rolcreaterole, rolreplication, rolbypassrls from pg_roles"
        " where rolname = %s", (user,)).fetchone()
    if row is None:
        return f"no role named {user!r}"
    canlogin, superuser, createrole, replication, bypassrls = row
    if superuser or createrole or replication or bypassrls:
        return f"{user!r} is a privileged role (superuser, createrole, replication or bypassrls), not a person login"
    if not canlogin:
        return f"{user!r} is not a login role"
    direct = sorted(r[0] for r in conn.execute(
        "select g.rolname from pg_auth_members m join pg_roles g on g.oid = m.roleid"
        " join pg_roles u on u.oid = m.member where u.rolname = %s", (user,)))
    services = sorted(r[0] for r in conn.execute(  # through other roles too
        "select rolname from pg_roles where rolname = any(%s) and pg_has_role(%s, oid, 'MEMBER')",
        (list(SERVICE_GROUPS), user)))
    if services:
        return f"{user!r} is a member of the service group {services[0]}: a service login, not a person's"
    persons = [g for g in direct if g in PERSON_GROUPS]
    if not persons:
        return f"{user!r} is not a member of a person group ({', '.join(PERSON_GROUPS)})"
    if exactly_one and len(direct) != 1:
        return f"{user!r} is a member of {', '.join(direct)}: not exactly one person group"
    return None


def _act_on_person(conn: psycopg.Connection, user: str, action: sql.Composable, *, exactly_one: bool) -> None:
    """Check `user` is a person login, lock its pg_authid row (ALTER ROLE), check again, then run `action`."""
    check_name(user)
    name = sql.Identifier(user)
    with conn.transaction():
        problem = _person_problem(conn, user, exactly_one=exactly_one)
        if problem:
            raise AccessError(problem)
        # Updating the role's row holds it until commit: a concurrent ALTER ROLE (say, to superuser) now waits
        # or fails, and the second check sees anything committed before.
        conn.execute(sql.SQL("alter role {} nocreaterole").format(name))
        problem = _person_problem(conn, user, exactly_one=exactly_one)
        if problem:
            raise AccessError(problem)
        conn.execute(action)


def reset_password(conn: psycopg.Connection, user: str, password: str) -> None:
    """Give an existing person login (member of exactly one person group, nothing privileged) a new password."""
    check_password(password)
    verifier = sql.Literal(scram_verifier(password))
    _act_on_person(conn, user, sql.SQL("alter role {} password {}").format(sql.Identifier(user), verifier),
                   exactly_one=True)


def drop_login(conn: psycopg.Connection, user: str, missing_ok: bool = False) -> None:
    """Remove a person's login (a member of a person group; never a superuser, service or group role)."""
    check_name(user)
    if missing_ok and not _exists(conn, user):
        return
    _act_on_person(conn, user, sql.SQL("drop role {}").format(sql.Identifier(user)), exactly_one=False)


def login_url(base_url: str, user: str, password: str) -> str:
    """`base_url` (host, port, database) with `user`/`password` instead of its credentials."""
    parts = urlsplit(base_url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def can_select(conn: psycopg.Connection, relation: str) -> bool:
    """True if this session may read `relation` (schema.name), False if PostgreSQL refuses it.

    Tries a real select rather than asking has_table_privilege, so schema usage, views and row security
    all count. A missing relation raises: a denial must never be confused with a typo.
    """
    schema, _, name = relation.partition(".")
    query = sql.SQL("select 1 from {}.{} limit 1").format(sql.Identifier(schema), sql.Identifier(name))
    try:
        with conn.transaction():
            conn.execute(query).fetchall()
    except errors.InsufficientPrivilege:
        return False
    return True


# --- the command line: every refusal or failure is one line on stderr and exit status 1 --------------------

app = typer.Typer(add_completion=False, help="People's own logins on the warehouse (analysts and IG leads).")


def _ask_password(user: str) -> str:
    password = getpass.getpass(f"password for {user}: ")
    if password != getpass.getpass("again: "):
        raise AccessError("the passwords differ")
    check_password(password)
    return password


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    return typer.Exit(1)


def _db_message(exc: psycopg.Error) -> str:
    # The primary message only: never the statement, which carries the password's SCRAM verifier.
    primary = getattr(exc.diag, "message_primary", None) if hasattr(exc, "diag") else None
    text = primary or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return f"the warehouse refused: {text}"


def _run(action: Callable[[], None]) -> None:
    try:
        action()
    except (AccessError, config.ConfigError) as exc:
        raise _fail(str(exc)) from None
    except psycopg.Error as exc:
        raise _fail(_db_message(exc)) from None
    except (KeyboardInterrupt, EOFError):
        raise _fail("cancelled") from None


@app.command("create-login")
def create_login_cmd(user: str, group: str) -> None:
    """Create a NEW login USER in GROUP (analyst or ig_lead); asks for the password. Never changes an existing role."""

    def action() -> None:
        check_name(user)
        grp = person_group(group)
        with psycopg.connect(db.url()) as conn:
            check_new_login(conn, user)
            conn.rollback()
            create_login(conn, user, grp, _ask_password(user))
        typer.echo(f"{user} can now log in as a member of {grp}.")

    _run(action)


@app.command("reset-password")
def reset_password_cmd(user: str) -> None:
    """Set a new password for USER, a person's login in exactly one person group; asks for the password."""

    def action() -> None:
        check_name(user)
        with psycopg.connect(db.url()) as conn:
            problem = _person_problem(conn, user, exactly_one=True)
            if problem:
                raise AccessError(problem)
            conn.rollback()
            reset_password(conn, user, _ask_password(user))
        typer.echo(f"{user} has a new password.")

    _run(action)


@app.command("drop-login")
def drop_login_cmd(user: str) -> None:
    """Remove USER, a person's login (never a superuser, service or group role)."""

    def action() -> None:
        with psycopg.connect(db.url()) as conn:
            drop_login(conn, user)
        typer.echo(f"{user} removed.")

    _run(action)


if __name__ == "__main__":  # pragma: no cover - console entry
    app()
