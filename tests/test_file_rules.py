"""The loader's file-level rules as pure functions, without a warehouse: header names normalised
(`ipb.contract.normalise`), file names parsed (`parse_name`), names shown or withheld (`display_name`), and a
header matched against the contract, here the CLD Release 2 field list (`_check_header`)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from ipb import feeds
from ipb.contract import cld_fields, normalise
from ipb.ingest.filecheck import FUTURE_TOLERANCE, FileName, FileRejected, _check_header, parse_name
from ipb.ingest.landing import display_name

pytestmark = pytest.mark.fast

TODAY = date(2026, 11, 22)
CLD = feeds.SOCIAL_CARE


# --- header names -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("header", "column"), [
    ("Cost Frequency (Unit Type)", "cost_frequency_unit_type"),
    ("COST FREQUENCY (UNIT TYPE)", "cost_frequency_unit_type"),
    ("cost_frequency_unit_type", "cost_frequency_unit_type"),
    ("  LA Code\t", "la_code"),
    ("__Event--Reference__", "event_reference"),
    ("Planned units per week 2", "planned_units_per_week_2"),
    ("NHSNumber", "nhsnumber"),
    ("Dáte", "d_te"),  # only ASCII letters and digits survive: anything else separates
    ("", ""),
    ("()", ""),
])
def test_normalise_trims_lowers_and_joins_runs_with_one_underscore(header: str, column: str) -> None:
    assert normalise(header) == column


def test_the_cld_field_list_is_stored_under_its_normalised_names() -> None:
    fields = cld_fields("R2")
    assert fields and all(normalise(f.name) == f.column for f in fields)
    assert [f.position for f in fields] == sorted(f.position for f in fields)
    assert CLD.raw_columns == tuple(f.column for f in fields if f.kept)


# --- file names -------------------------------------------------------------------------------------------------

def _refused(feed: feeds.Feed, name: str, today: date = TODAY) -> FileRejected:
    with pytest.raises(FileRejected) as refused:
        parse_name(feed, name, today=today)
    return refused.value


def test_contract_file_names_parse() -> None:
    assert parse_name(feeds.NHS_PHB, "nhs_phb_QKS_20261122.csv", today=TODAY) == FileName(
        "nhs_phb", "QKS", date(2026, 11, 22))
    assert parse_name(CLD, "social_care_886_20261121.csv", today=TODAY) == FileName(
        "social_care", "886", date(2026, 11, 21))
    assert parse_name(feeds.OPT_OUT, "national_opt_out_20261122.csv", today=TODAY) == FileName(
        "national_opt_out", None, date(2026, 11, 22))


@pytest.mark.parametrize("name", [
    "nhs_phb_QKS_２０２６１１２２.csv",  # full-width digits: \d matches them, the contract does not
    "nhs_phb_QKS_٢٠٢٦١١٢٢.csv",  # Arabic-Indic digits
    "nhs_phb_QKS_20261122.csv\n",  # a trailing newline ($ alone would match before it)
    "nhs_phb_QKS_20261122.csv ",
    "nhs_phb_QKS_20261122.CSV",
    "nhs_phb_QK_20261122.csv",  # sender codes are 3-5 characters
    "nhs_phb_QKSXYZ_20261122.csv",
    "nhs_phb_Q-S_20261122.csv",
    "nhs_phb_QKS_2026112.csv",
    "send_QKS_20261122.csv",  # another feed's name
    "../nhs_phb_QKS_20261122.csv",
    "nhs_phb_QKS_20261122.csv.csv",
])
def test_names_outside_the_pattern_are_refused_without_being_quoted(name: str) -> None:
    refused = _refused(feeds.NHS_PHB, name)
    assert refused.code == "bad_file_name"
    assert name.strip() not in str(refused) and "QKS" not in str(refused)


@pytest.mark.parametrize("yyyymmdd", ["20260230", "20261301", "20261100", "00000101"])
def test_an_extract_date_that_is_no_real_date_is_refused(yyyymmdd: str) -> None:
    refused = _refused(feeds.NHS_PHB, f"nhs_phb_QKS_{yyyymmdd}.csv")
    assert refused.code == "bad_file_name" and "not a real date" in str(refused)


def test_an_extract_date_in_the_future_is_refused_beyond_the_tolerance() -> None:
    assert FUTURE_TOLERANCE == timedelta(days=1)
    tomorrow = TODAY + FUTURE_TOLERANCE  # a sender a time zone ahead
    assert parse_name(feeds.NHS_PHB, f"nhs_phb_QKS_{tomorrow:%Y%m%d}.csv", today=TODAY).extract_date == tomorrow
    later = tomorrow + timedelta(days=1)
    refused = _refused(feeds.NHS_PHB, f"nhs_phb_QKS_{later:%Y%m%d}.csv")
    assert refused.code == "extract_date_in_future"
    refused = _refused(feeds.OPT_OUT, "national_opt_out_29991231.csv")
    assert refused.code == "extract_date_in_future"
    old = date(2001, 1, 1)
    assert parse_name(feeds.NHS_PHB, f"nhs_phb_QKS_{old:%Y%m%d}.csv", today=TODAY).extract_date == old


# --- names shown or withheld ------------------------------------------------------------------------------------

def test_display_name_shows_contract_names_of_every_loadable_feed() -> None:
    for feed in feeds.LOADABLE.values():
        name = feed.file_name("QKS", "20261122")
        assert display_name(name) == name


@pytest.mark.parametrize("name", [
    "Jane Smith 9434765919.csv",
    "9434765919.csv",
    "nhs_phb_QKS_20261122.csv\n",
    "nhs_phb_QKS_٢٠٢٦١١٢٢.csv",
    "nhs_phb_Smith_Jane_20261122.csv",
    "nhs_phb_QKS_20261122.csv\udcff",  # an undecodable byte from the file system (surrogate escape)
])
def test_display_name_withholds_every_other_name_behind_a_stable_hash(name: str) -> None:
    shown = display_name(name)
    assert shown.startswith("#withheld-") and len(shown) == len("#withheld-") + 16
    assert int(shown.removeprefix("#withheld-"), 16) >= 0
    assert display_name(name) == shown  # the same file is the same reference in every log line
    assert display_name(name + "x") != shown
    for part in ("Smith", "Jane", "9434765919"):
        assert part not in shown


# --- header matching (CLD Release 2) ----------------------------------------------------------------------------

def _header_refused(header: list[str]) -> FileRejected:
    with pytest.raises(FileRejected) as refused:
        _check_header(CLD, header)
    return refused.value


def test_the_specification_header_maps_each_position_to_its_raw_column() -> None:
    assert _check_header(CLD, list(CLD.columns)) == CLD.raw_columns


def test_header_matches_by_normalised_name_in_any_order() -> None:
    spelled = [c.upper().replace(" ", "_") for c in reversed(CLD.columns)]
    assert _check_header(CLD, spelled) == tuple(reversed(CLD.raw_columns))


def test_known_columns_the_warehouse_does_not_need_are_dropped_at_the_door() -> None:
    assert CLD.dropped
    header = [*CLD.columns[:3], CLD.dropped[0], *CLD.columns[3:], *CLD.dropped[1:]]
    mapped = _check_header(CLD, header)
    assert mapped[3] is None and all(m is None for m in mapped[len(CLD.columns) + 1:])
    assert [m for m in mapped if m is not None] == list(CLD.raw_columns)


def test_optional_columns_may_be_absent_required_ones_may_not() -> None:
    optional = [c for c in CLD.columns if c not in CLD.required]
    assert optional, "the CLD field list has optional columns"
    required_only = [c for c in CLD.columns if c in CLD.required]
    assert _check_header(CLD, required_only) == tuple(normalise(c) for c in required_only)
    refused = _header_refused([c for c in CLD.columns if c != "LA Code"])
    assert refused.code == "missing_columns" and "['LA Code']" in str(refused)  # the contract's spelling


def test_an_unknown_column_is_schema_drift_named_only_when_it_looks_like_a_name() -> None:
    refused = _header_refused([*CLD.columns, "Favourite Colour"])
    assert refused.code == "extra_columns" and "'Favourite Colour'" in str(refused)
    refused = _header_refused([*CLD.columns, "9434765919"])
    assert refused.code == "extra_columns" and "9434765919" not in str(refused)
    assert f"column {len(CLD.columns) + 1}" in str(refused)


def test_a_repeated_column_is_refused() -> None:
    refused = _header_refused([*CLD.columns, CLD.columns[5].lower()])
    assert refused.code == "header_mismatch" and normalise(CLD.columns[5]) in str(refused)


def test_a_person_row_in_place_of_the_header_is_refused_without_quoting_it() -> None:
    row = ["886", "2026-07-01", "2026-09-30", "9434765919", "LA-0001", "Smith", "1950-01-01", "M", "SW1A 1AA"]
    refused = _header_refused(row)
    assert refused.code == "header_mismatch" and "first line is not this feed's header" in str(refused)
    for value in row:
        assert value not in str(refused)
