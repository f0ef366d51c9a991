"""Word lists for synthetic people: names with common nicknames, surnames, postcode areas per council and ICB."""

from __future__ import annotations

# (formal name, nickname or "") - nicknames are the cross-feed variants linkage has to survive.
MALE = (
    ("Robert", "Bob"), ("William", "Bill"), ("James", "Jim"), ("John", "Jack"), ("Richard", "Rich"),
    ("Thomas", "Tom"), ("Michael", "Mike"), ("Christopher", "Chris"), ("Daniel", "Dan"), ("Joseph", "Joe"),
    ("Anthony", "Tony"), ("Alexander", "Alex"), ("Samuel", "Sam"), ("Benjamin", "Ben"), ("Matthew", "Matt"),
    ("Edward", "Ted"), ("Nicholas", "Nick"), ("Stephen", "Steve"), ("Andrew", "Andy"), ("David", "Dave"),
    ("Peter", "Pete"), ("Timothy", "Tim"), ("Frederick", "Fred"), ("Harold", "Harry"), ("Oliver", "Ollie"),
    ("George", ""), ("Mohammed", ""), ("Noah", ""), ("Arthur", ""), ("Leo", ""), ("Jacob", ""), ("Harry", ""),
    ("Oscar", ""), ("Charlie", ""), ("Muhammad", ""), ("Ahmed", ""), ("Kwame", ""), ("Piotr", ""), ("Raj", ""),
    ("Ian", ""), ("Gary", ""), ("Paul", ""), ("Mark", ""), ("Kevin", ""), ("Brian", ""), ("Keith", ""),
    ("Dennis", ""), ("Ronald", "Ron"), ("Kenneth", "Ken"), ("Lucas", ""), ("Ethan", ""), ("Dylan", ""),
    ("José", ""), ("Rhys", ""), ("Callum", ""), ("Declan", ""), ("Yusuf", ""), ("Chen", ""), ("Tomasz", ""),
)
FEMALE = (
    ("Elizabeth", "Liz"), ("Margaret", "Maggie"), ("Jennifer", "Jen"), ("Katherine", "Kate"), ("Susan", "Sue"),
    ("Patricia", "Pat"), ("Jessica", "Jess"), ("Rebecca", "Becky"), ("Victoria", "Vicky"), ("Charlotte", "Lottie"),
    ("Deborah", "Debbie"), ("Jacqueline", "Jackie"), ("Dorothy", "Dot"), ("Isabella", "Bella"), ("Amelia", "Millie"),
    ("Catherine", "Cath"), ("Christine", "Chris"), ("Samantha", "Sam"), ("Alexandra", "Alex"), ("Abigail", "Abbie"),
    ("Olivia", "Liv"), ("Eleanor", "Ellie"), ("Josephine", "Jo"), ("Barbara", "Babs"), ("Kimberley", "Kim"),
    ("Mary", ""), ("Sarah", ""), ("Emma", ""), ("Lucy", ""), ("Sophie", ""), ("Grace", ""), ("Ava", ""),
    ("Lily", ""), ("Mia", ""), ("Aisha", ""), ("Fatima", ""), ("Priya", ""), ("Zainab", ""), ("Agnieszka", ""),
    ("Joan", ""), ("Jean", ""), ("Irene", ""), ("Helen", ""), ("Karen", ""), ("Julie", ""), ("Linda", ""),
    ("Angela", ""), ("Nicola", ""), ("Ruth", ""), ("Freya", ""), ("Evie", ""), ("Poppy", ""), ("Chloé", ""),
    ("Zoë", ""), ("Siân", ""), ("Niamh", ""), ("Ngozi", ""), ("Mei", ""), ("Renée", ""), ("Amara", ""),
)
SURNAMES = (
    "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas", "Johnson",
    "Roberts", "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards", "Hughes", "Green", "Hall",
    "Lewis", "Harris", "Clarke", "Patel", "Jackson", "Wood", "Turner", "Martin", "Cooper", "Hill",
    "Ward", "Morris", "Moore", "Clark", "Lee", "King", "Baker", "Harrison", "Morgan", "Allen",
    "James", "Scott", "Phillips", "Watson", "Davis", "Parker", "Price", "Bennett", "Young", "Griffiths",
    "Mitchell", "Kelly", "Cook", "Carter", "Richardson", "Bailey", "Collins", "Bell", "Shaw", "Murphy",
    "Miller", "Cox", "Richards", "Khan", "Marshall", "Anderson", "Simpson", "Ellis", "Adams", "Singh",
    "Begum", "Wilkinson", "Foster", "Chapman", "Powell", "Webb", "Rogers", "Gray", "Mason", "Ali",
    "Hunt", "Hussain", "Campbell", "Matthews", "Owen", "Palmer", "Holmes", "Mills", "Barnes", "Knight",
    "Lloyd", "Butler", "Russell", "Barker", "Fisher", "Stevens", "Jenkins", "Murray", "Dixon", "Harvey",
    "Ahmed", "Kaur", "Nowak", "Kowalski", "Okafor", "Adeyemi", "Nguyen", "Chen", "Wong", "Mensah",
    "O'Brien", "O'Connor", "McDonald", "MacLeod", "D'Souza", "Da Silva", "Van Dijk", "Fitzgerald", "Gallagher",
    "Doherty", "Quinn", "Byrne", "Rahman", "Uddin", "Mahmood", "Iqbal", "Sharma", "Gill", "Sandhu",
    "Kamara", "Osei", "Boateng", "Popescu", "Novak", "Kaya", "Yilmaz", "Rossi", "Russo", "Fernandes",
)
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # inward-code letters never use C I K M O V

# Postcode areas per council (la_gss_code) and per ICB (for people living outside the sample councils).
COUNCIL_AREAS: dict[str, tuple[str, ...]] = {
    "E10000016": ("ME", "CT", "TN", "DA"), "E10000014": ("SO", "PO", "GU", "RG"),
    "E10000017": ("PR", "BB", "LA", "FY"), "E10000030": ("GU", "KT", "RH", "CR"), "E08000025": ("B",),
    "E10000020": ("NR", "IP", "PE"), "E10000024": ("NG",), "E08000035": ("LS", "WF"), "E10000008": ("EX", "PL", "TQ"),
    "E10000019": ("LN", "PE", "NG"), "E08000003": ("M",), "E08000019": ("S",), "E06000047": ("DH", "DL"),
    "E08000012": ("L",), "E06000023": ("BS",), "E06000002": ("TS",),
}
ICB_AREAS: dict[str, tuple[str, ...]] = {
    "QHM": ("NE", "SR", "DH", "TS", "CA"), "QYG": ("L", "CH", "WA", "CW"), "QOP": ("M", "OL", "BL", "SK", "WN"),
    "QWO": ("LS", "BD", "HX", "HD", "WF"), "QE1": ("PR", "BB", "LA", "FY"), "QOQ": ("HU", "YO", "DN", "HG"),
    "QF7": ("S", "DN"), "QKS": ("ME", "CT", "TN", "DA"), "QRL": ("SO", "PO", "BH"), "QNX": ("BN", "RH", "TN"),
    "QXU": ("GU", "KT", "RH"), "QHL": ("B",), "QUA": ("WV", "DY", "WS", "B"), "QRV": ("HA", "UB", "W", "NW"),
    "QMF": ("E", "IG", "RM"), "QU9": ("OX", "RG", "HP", "SL", "MK"), "QJK": ("EX", "PL", "TQ"),
    "QMM": ("NR", "IP"), "QT1": ("NG",), "QUY": ("BS",), "QJM": ("LN", "PE", "NG"),
}

# CLD free-text columns (not code lists the warehouse checks): plausible, non-identifying values. Most are dropped
# at the door by the loader; Event Outcome, Request: Route of Access, GP Practice Code and the CQC location id
# are kept.
ETHNICITY = (  # (value, weight)
    ("White: English, Welsh, Scottish, Northern Irish or British", 0.74), ("White: Irish", 0.01),
    ("White: Any other White background", 0.05), ("Asian or Asian British: Indian", 0.03),
    ("Asian or Asian British: Pakistani", 0.025), ("Asian or Asian British: Bangladeshi", 0.01),
    ("Black, Black British, Caribbean or African: Caribbean", 0.015),
    ("Black, Black British, Caribbean or African: African", 0.02), ("Mixed or Multiple ethnic groups", 0.015),
    ("Other ethnic group", 0.01), ("Not stated", 0.05),
)
ACCOMMODATION = (
    ("Owner occupier or shared ownership scheme", 0.35), ("Tenant", 0.25), ("Settled mainstream housing with "
    "family / friends", 0.12), ("Registered care home", 0.12), ("Registered nursing home", 0.08),
    ("Supported accommodation / supported lodgings / supported group home", 0.05), ("Shared Lives scheme", 0.01),
    ("Unknown", 0.02),
)
EMPLOYMENT = (("Retired", 0.55), ("Not in paid employment (not actively seeking work)", 0.25),
              ("In paid employment", 0.05), ("Not in paid employment (seeking work)", 0.02),
              ("Voluntary work only", 0.02), ("Unknown", 0.11))
YES_NO_UNKNOWN = (("No", 0.78), ("Yes", 0.16), ("Unknown", 0.06))
ROUTE_OF_ACCESS = ("Community / other route", "Discharge from hospital", "Diversion from hospital services",
                   "Self-funder with depleted funds", "Planned entry (transition)")
REQUEST_OUTCOMES = ("Progress to assessment", "Universal services / signposted to other services",
                    "No services provided: needs identified but self-funding", "Short term support (ST-Max)",
                    "No services provided: no identified needs")
ASSESSMENT_TYPES = ("Long term support assessment", "Short term support assessment", "Unpaid carer assessment",
                    "Joint assessment")
ASSESSMENT_OUTCOMES = ("Long term support", "Short term support", "Universal services / signposted to other "
                       "services", "No services provided: no eligible needs")
ASSESSMENT_METHODS = ("Face to face", "Telephone", "Video call", "Online self-assessment")
REVIEW_REASONS = ("Planned", "Unplanned", "Hospital discharge", "Change in circumstances")
REVIEW_OUTCOMES = ("No change in long term support", "Change in long term support", "Long term support ended",
                   "Move to residential or nursing care")
REVIEW_ACHIEVED = ("Yes", "Partially", "No")
SERVICE_OUTCOMES = ("", "Service continuing", "Service ended as planned", "Service ended: moved to another service")
EVENT_DESCRIPTIONS = {"Request": "Request for support", "Assessment": "Needs assessment",
                      "Service": "Service provision", "Review": "Review of support"}
PROVIDER_WORDS = ("Oak", "Willow", "Meadow", "Riverside", "Beacon", "Harbour", "Greenfields", "Orchard", "Highview",
                  "Abbey", "Cedar", "Primrose", "Bluebell", "Castle", "Heathside", "Kingsway", "Lakeside", "Millbrook")
PROVIDER_KINDS = ("Care Home", "Nursing Home", "Home Care Services", "Supported Living", "Day Centre",
                  "Care Ltd", "Community Care")
GP_KINDS = ("Surgery", "Medical Centre", "Health Centre", "Medical Practice", "Family Practice")
