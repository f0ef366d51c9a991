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
