"""A hand-made night for the dbt tests: a few people whose links across feeds are known, loaded by the real
loader. Each person exercises one linkage rule; `TRUTH` maps (feed, record key) -> person."""

from __future__ import annotations

from pathlib import Path

from ipb.ingest import load_file
from tests import feedrows as fr

N = {i: fr.nhs_number(i) for i in range(1, 12)}
OPTED_OUT_NHS = N[4]


def _phbs(amended: bool) -> list[dict[str, str]]:
    return [
        # P1: adult CHC, also council-managed social care (linked by NHS number and the council's person id)
        fr.phb(1, nhs_number=N[1], forename="Margaret", surname="Hale", date_of_birth="1950-02-03", sex="2",
               postcode="ME14 1AA", notional_gbp="52000.00" if amended else "41250.50"),
        # P2: child CYP_CC with a hyphenated surname; SEND knows her by a nickname and one part of it
        fr.phb(2, nhs_number=N[2], forename="Elizabeth", surname="Smith-Jones", date_of_birth="2012-06-15",
               sex="2", postcode="me15 6aa", phb_category="CYP_CC", notional_gbp="12000", care_plan_agreed_date="",
               start_date="2026-08-01"),
        # P3: child whose SEND record swaps day and month of birth
        fr.phb(3, nhs_number=N[3], forename="Tom", surname="Archer", date_of_birth="2010-04-09", sex="1",
               postcode="CT2 7AB", phb_category="LTC", notional_gbp="0", direct_payment_gbp="3000",
               management_option="DIRECT_PAYMENT", care_plan_agreed_date=""),
        # P4: opted out, wheelchair one-off
        fr.phb(4, nhs_number=N[4], forename="Arthur", surname="Dent", date_of_birth="1961-01-01", sex="1",
               postcode="CT1 1AA", phb_category="WHEELCHAIR", notional_gbp="2500", budget_basis="ONE_OFF"),
        # P5: adult with social care rows that carry no NHS number (CLD has no names: date of birth + postcode)
        fr.phb(5, nhs_number=N[5], forename="Joan", surname="Baker", date_of_birth="1940-12-24", sex="2",
               postcode="TN23 1AA", phb_category="END_OF_LIFE", notional_gbp="8000"),
        # P6 and P7: twins (same surname, birth date, postcode; different NHS numbers): never linked together
        fr.phb(6, nhs_number=N[6], forename="Anna", surname="Green", date_of_birth="2011-03-03", sex="2",
               postcode="ME4 4AA", phb_category="CYP_CC", notional_gbp="9000"),
        fr.phb(7, nhs_number=N[7], forename="Anne", surname="Green", date_of_birth="2011-03-03", sex="2",
               postcode="ME4 4AA", phb_category="CYP_CC", notional_gbp="9500"),
    ]


def _social_care() -> list[dict[str, str]]:
    return [
        fr.social_care(1, NHS_Number=N[1], LA_Person_Unique_Identifier="KCC1", Date_of_Birth="1950-02-03",
                       Gender="2", Postcode="ME14 1AA", Unit_Cost="20.00", Cost_Frequency_Unit_Type="Hourly",
                       Planned_units_per_week="10"),
        fr.social_care(2, NHS_Number="", LA_Person_Unique_Identifier="KCC1", Date_of_Birth="1950-02-03",
                       Gender="2", Postcode="ME14 1AA", Unit_Cost="1000.00", Cost_Frequency_Unit_Type="Monthly",
                       Planned_units_per_week="", Delivery_Mechanism="Direct payment",
                       Service_Component="Direct payment"),
        # set aside: a review, and commissioned support (counted, not a personal budget)
        fr.social_care(3, NHS_Number=N[1], LA_Person_Unique_Identifier="KCC1", Date_of_Birth="1950-02-03",
                       Gender="2", Event_Type="Review", Unit_Cost="", Cost_Frequency_Unit_Type="",
                       Planned_units_per_week=""),
        fr.social_care(4, NHS_Number=N[1], LA_Person_Unique_Identifier="KCC1", Date_of_Birth="1950-02-03",
                       Gender="2", Delivery_Mechanism="CASSR commissioned support"),
        # P5's council sends names (CLD First/Last Name): with birth date and postcode they link her; birth date
        # and postcode alone never would (FEEDS.md, Linkage)
        fr.social_care(5, NHS_Number="", LA_Person_Unique_Identifier="KCC5", First_Name="Joan", Last_Name="Baker",
                       Date_of_Birth="1940-12-24",
                       Gender="2", Postcode="TN231AA", Unit_Cost="150", Cost_Frequency_Unit_Type="Weekly",
                       Planned_units_per_week=""),
        fr.social_care(6, NHS_Number="", LA_Person_Unique_Identifier="KCC5", First_Name="Joan", Last_Name="Baker",
                       Date_of_Birth="1940-12-24",
                       Gender="2", Postcode="TN23 1AA", Unit_Cost="400", Cost_Frequency_Unit_Type="One-off",
                       Planned_units_per_week=""),
        # P8: social care only
        fr.social_care(7, NHS_Number=N[8], LA_Person_Unique_Identifier="KCC8", Date_of_Birth="1975-05-05",
                       Gender="1", Postcode="DA1 1AA"),
    ]


def _sen2_persons() -> list[dict]:
    """The council's SEN2 return: one Person each (the order is the truth's row number)."""
    return [
        # P2: Liz Jones in SEN2 = Elizabeth Smith-Jones in nhs_phb; PB with organised arrangements
        fr.send(2, Surname="Jones", Forename="Liz", PersonBirthDate="2012-06-15", Sex="F", PostCode="ME15 6AA"),
        # P3: day and month of birth swapped; the whole budget a direct payment
        fr.send(3, Surname="ARCHER", Forename="tom", PersonBirthDate="2010-09-04", Sex="M", PostCode="CT27AB",
                plans=[{"StartDate": "2022-09-01", "PB": "1", "OA": "0", "DP": "1", "needs": [("SEMH", "1")]}]),
        # P6: one of the twins; the 2025 need code DS
        fr.send(6, Surname="Green", Forename="Anna", PersonBirthDate="2011-03-03", Sex="F", PostCode="ME4 4AA",
                plans=[{"StartDate": "2022-09-01", "PB": "true", "OA": "true", "DP": "0", "needs": [("DS", "1")]}]),
        # P9: SEND only, a ceased plan without a personal budget, no UPN
        fr.send(9, Surname="Lone", Forename="Kim", PersonBirthDate="2015-01-01", Sex="F", PostCode="ME1 1AA",
                UPN="", UPNunknown="UN1",
                plans=[{"StartDate": "2021-01-04", "PB": "0", "OA": "0", "CeaseDate": "2025-07-31",
                        "CeaseReason": "3", "needs": [("MLD", "1")]}]),
        # P10: SEND only, PB = 1 but no budget row: a personal budget without amounts
        fr.send(10, Surname="Noor", Forename="Ali", PersonBirthDate="2016-02-02", PostCode="ME2 2AA"),
    ]


def _send_budgets() -> list[dict[str, str]]:
    return [
        fr.send_budget(2, Surname="Jones", Forename="Liz", PersonBirthDate="2012-06-15", Sex="F",
                       PostCode="ME15 6AA", EducationElementGBP="6000", SocialCareElementGBP="1500.00",
                       DirectPaymentGBP="0"),
        fr.send_budget(3, Surname="Archer", Forename="Tom", PersonBirthDate="2010-09-04", Sex="M", PostCode="CT2 7AB",
                       EducationElementGBP="6000", SocialCareElementGBP="", DirectPaymentGBP="6000"),
        fr.send_budget(6, Surname="Green", Forename="Anna", PersonBirthDate="2011-03-03", Sex="F",
                       PostCode="ME4 4AA", EducationElementGBP="4000", SocialCareElementGBP="2500",
                       DirectPaymentGBP="1000"),
        # P9: a budget whose plan (this start date) is not in the SEN2 return: a budget without a plan
        fr.send_budget(9, Surname="Lone", Forename="Kim", PersonBirthDate="2015-01-01", Sex="F", PostCode="ME1 1AA",
                       UPN="", PlanStartDate="2024-01-08", EducationElementGBP="3000", SocialCareElementGBP="",
                       DirectPaymentGBP="0", BudgetStartDate="2024-01-08"),
    ]


# (feed, record key) -> true person. SEN2 persons have no key of their own: theirs is "Person <ordinal>".
TRUTH: dict[tuple[str, str], str] = {
    **{("nhs_phb", f"PHB{i:06d}"): f"P{i}" for i in range(1, 8)},
    ("social_care", "EV00000001"): "P1", ("social_care", "EV00000002"): "P1", ("social_care", "EV00000003"): "P1",
    ("social_care", "EV00000004"): "P1", ("social_care", "EV00000005"): "P5", ("social_care", "EV00000006"): "P5",
    ("social_care", "EV00000007"): "P8",
    ("send", "Person 1"): "P2", ("send", "Person 2"): "P3", ("send", "Person 3"): "P6", ("send", "Person 4"): "P9",
    ("send", "Person 5"): "P10",
    ("send_budget", "BUD0000002"): "P2", ("send_budget", "BUD0000003"): "P3", ("send_budget", "BUD0000006"): "P6",
    ("send_budget", "BUD0000009"): "P9",
}
# What send_budget sends, for totals a test computes independently of the warehouse.
EDUCATION_TOTAL_GBP = sum(float(r["EducationElementGBP"] or 0) for r in _send_budgets())
CHILDREN_SOCIAL_CARE_TOTAL_GBP = sum(float(r["SocialCareElementGBP"] or 0) for r in _send_budgets())


def write_night(directory: Path, yyyymmdd: str, amended: bool = False) -> list[tuple[str, Path]]:
    """The night's files (feed, path) in a landing folder."""
    directory.mkdir(parents=True, exist_ok=True)
    files = [
        ("nhs_phb", fr.write(directory, f"nhs_phb_QKS_{yyyymmdd}.csv", fr.csv_text("nhs_phb", _phbs(amended)))),
        ("social_care", fr.write(directory, f"social_care_886_{yyyymmdd}.csv",
                                 fr.csv_text("social_care", _social_care()))),
        ("send", fr.write(directory, f"send_886_{yyyymmdd}.xml", fr.sen2_xml(_sen2_persons()))),
        ("send_budget", fr.write(directory, f"send_budget_886_{yyyymmdd}.csv",
                                 fr.csv_text("send_budget", _send_budgets()))),
        ("national_opt_out", fr.write(directory, f"national_opt_out_{yyyymmdd}.csv",
                                      f"nhs_number\n{OPTED_OUT_NHS}\n")),
    ]
    return files


def load_night(directory: Path, yyyymmdd: str, amended: bool = False) -> None:
    for feed, path in write_night(directory, yyyymmdd, amended):
        result = load_file(feed, path)
        assert result.accepted, (path.name, result.as_dict())
        assert result.rows_quarantined == 0, (path.name, result.as_dict())
