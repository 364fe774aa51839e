"""Built-in reference lists for the sample Shopify store.

Small, hand-written lists (countries, cities, names, streets, products) that the vectorised generator in
``gen.py`` indexes into.  Everything derived here (zip and street pools, flattened name tables) is built once
at import from a fixed ``random.Random`` so it never depends on the store's seed.
"""
from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass

import numpy as np

# --------------------------------------------------------------------------------------------------------------
# Countries
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Country:
    code: str
    name: str
    weight: float
    currency: str
    names: str            # name-pool key
    tax_rate: float
    domains: tuple[str, ...]  # local e-mail domains (added to the global ones)
    mobile: tuple[str, ...]   # E.164 prefixes; a 7-digit subscriber number is appended


COUNTRIES: tuple[Country, ...] = (
    Country("US", "United States", 40, "USD", "en", 0.0725, ("aol.com", "comcast.net"), ()),
    Country("CA", "Canada", 7, "CAD", "en", 0.13, ("shaw.ca", "rogers.com"), ()),
    Country("GB", "United Kingdom", 12, "GBP", "en", 0.20, ("btinternet.com", "yahoo.co.uk"),
            ("+44771", "+44745", "+44751", "+44777", "+44783", "+44797")),
    Country("DE", "Germany", 9, "EUR", "de", 0.19, ("web.de", "gmx.de", "t-online.de"),
            ("+49151", "+49160", "+49170", "+49176", "+49157")),
    Country("FR", "France", 8, "EUR", "fr", 0.20, ("orange.fr", "free.fr", "laposte.net"),
            ("+3361", "+3362", "+3365", "+3366", "+3367", "+3375", "+3376")),
    Country("ES", "Spain", 4, "EUR", "es", 0.21, ("telefonica.net", "yahoo.es"),
            ("+3461", "+3462", "+3465", "+3466", "+3467", "+3468")),
    Country("IT", "Italy", 4, "EUR", "it", 0.22, ("libero.it", "virgilio.it", "alice.it"),
            ("+39320", "+39333", "+39340", "+39347", "+39349")),
    Country("NL", "Netherlands", 3, "EUR", "nl", 0.21, ("ziggo.nl", "kpnmail.nl"),
            ("+3161", "+3162", "+3164", "+3165")),
    Country("AU", "Australia", 6, "AUD", "en", 0.10, ("bigpond.com", "optusnet.com.au"),
            ("+6140", "+6141", "+6142", "+6143", "+6145")),
    Country("JP", "Japan", 4, "JPY", "ja", 0.10, ("yahoo.co.jp", "docomo.ne.jp"),
            ("+81702", "+81803", "+81804", "+81905", "+81908")),
    Country("MX", "Mexico", 3, "MXN", "es", 0.16, ("prodigy.net.mx", "hotmail.com.mx"),
            ("+52551", "+52552", "+52559")),
)
COUNTRY_INDEX = {c.code: i for i, c in enumerate(COUNTRIES)}

GLOBAL_EMAIL_DOMAINS = ("gmail.com", "gmail.com", "gmail.com", "yahoo.com", "outlook.com", "hotmail.com",
                        "icloud.com", "proton.me")

# currency -> (decimals, USD->currency rate)
CURRENCIES: dict[str, tuple[int, float]] = {
    "USD": (2, 1.0), "CAD": (2, 1.36), "GBP": (2, 0.79), "EUR": (2, 0.92), "AUD": (2, 1.52),
    "JPY": (0, 150.0), "MXN": (2, 17.1),
}
CURRENCY_CODES: tuple[str, ...] = tuple(CURRENCIES)

# --------------------------------------------------------------------------------------------------------------
# Cities: (country, city, province_code | None, IANA time zone, locale, weight, zip spec, US/CA area codes)
# --------------------------------------------------------------------------------------------------------------

_CITY_ROWS: tuple[tuple, ...] = (
    ("US", "New York", "NY", "America/New_York", "en", 9, ("us", "100"), ("212", "646", "917")),
    ("US", "Brooklyn", "NY", "America/New_York", "en", 4, ("us", "112"), ("718", "347")),
    ("US", "Los Angeles", "CA", "America/Los_Angeles", "en", 7, ("us", "900"), ("213", "310", "323")),
    ("US", "San Francisco", "CA", "America/Los_Angeles", "en", 4, ("us", "941"), ("415", "628")),
    ("US", "Chicago", "IL", "America/Chicago", "en", 5, ("us", "606"), ("312", "773")),
    ("US", "Houston", "TX", "America/Chicago", "en", 4, ("us", "770"), ("713", "832")),
    ("US", "Austin", "TX", "America/Chicago", "en", 3, ("us", "787"), ("512", "737")),
    ("US", "Phoenix", "AZ", "America/Phoenix", "en", 3, ("us", "850"), ("602", "480")),
    ("US", "Seattle", "WA", "America/Los_Angeles", "en", 3, ("us", "981"), ("206",)),
    ("US", "Denver", "CO", "America/Denver", "en", 3, ("us", "802"), ("303", "720")),
    ("US", "Boston", "MA", "America/New_York", "en", 3, ("us", "021"), ("617", "857")),
    ("US", "Miami", "FL", "America/New_York", "en", 3, ("us", "331"), ("305", "786")),
    ("US", "Atlanta", "GA", "America/New_York", "en", 3, ("us", "303"), ("404", "678")),
    ("US", "Portland", "OR", "America/Los_Angeles", "en", 2, ("us", "972"), ("503", "971")),
    ("US", "Nashville", "TN", "America/Chicago", "en", 2, ("us", "372"), ("615",)),
    ("US", "Anchorage", "AK", "America/Anchorage", "en", 1, ("us", "995"), ("907",)),
    ("US", "Honolulu", "HI", "Pacific/Honolulu", "en", 1, ("us", "968"), ("808",)),
    ("CA", "Toronto", "ON", "America/Toronto", "en", 5, ("ca", "M5V"), ("416", "647")),
    ("CA", "Montréal", "QC", "America/Toronto", "fr", 3, ("ca", "H2X"), ("514", "438")),
    ("CA", "Québec", "QC", "America/Toronto", "fr", 1, ("ca", "G1R"), ("418",)),
    ("CA", "Vancouver", "BC", "America/Vancouver", "en", 3, ("ca", "V6B"), ("604", "778")),
    ("CA", "Calgary", "AB", "America/Edmonton", "en", 2, ("ca", "T2P"), ("403", "587")),
    ("CA", "Halifax", "NS", "America/Halifax", "en", 1, ("ca", "B3H"), ("902",)),
    ("GB", "London", None, "Europe/London", "en", 8, ("gb", "SW1A", "EC1V", "N1", "E2", "SE1"), ()),
    ("GB", "Manchester", None, "Europe/London", "en", 3, ("gb", "M1", "M4", "M20"), ()),
    ("GB", "Edinburgh", None, "Europe/London", "en", 2, ("gb", "EH1", "EH3"), ()),
    ("GB", "Bristol", None, "Europe/London", "en", 2, ("gb", "BS1", "BS8"), ()),
    ("GB", "Belfast", None, "Europe/London", "en", 1, ("gb", "BT1", "BT9"), ()),
    ("DE", "Berlin", None, "Europe/Berlin", "de", 5, ("de", "10", "12", "13"), ()),
    ("DE", "München", None, "Europe/Berlin", "de", 4, ("de", "80", "81"), ()),
    ("DE", "Hamburg", None, "Europe/Berlin", "de", 3, ("de", "20", "22"), ()),
    ("DE", "Köln", None, "Europe/Berlin", "de", 3, ("de", "50", "51"), ()),
    ("DE", "Düsseldorf", None, "Europe/Berlin", "de", 2, ("de", "40"), ()),
    ("FR", "Paris", None, "Europe/Paris", "fr", 7, ("fr", "750"), ()),
    ("FR", "Lyon", None, "Europe/Paris", "fr", 3, ("fr", "690"), ()),
    ("FR", "Marseille", None, "Europe/Paris", "fr", 2, ("fr", "130"), ()),
    ("FR", "Toulouse", None, "Europe/Paris", "fr", 2, ("fr", "310"), ()),
    ("FR", "Nantes", None, "Europe/Paris", "fr", 1, ("fr", "440"), ()),
    ("ES", "Madrid", "M", "Europe/Madrid", "es", 4, ("es", "28"), ()),
    ("ES", "Barcelona", "B", "Europe/Madrid", "es", 4, ("es", "08"), ()),
    ("ES", "Valencia", "V", "Europe/Madrid", "es", 2, ("es", "46"), ()),
    ("ES", "Sevilla", "SE", "Europe/Madrid", "es", 1, ("es", "41"), ()),
    ("IT", "Milano", "MI", "Europe/Rome", "it", 4, ("it", "201"), ()),
    ("IT", "Roma", "RM", "Europe/Rome", "it", 4, ("it", "001"), ()),
    ("IT", "Torino", "TO", "Europe/Rome", "it", 2, ("it", "101"), ()),
    ("IT", "Napoli", "NA", "Europe/Rome", "it", 2, ("it", "801"), ()),
    ("NL", "Amsterdam", None, "Europe/Amsterdam", "nl", 4, ("nl", "101", "105", "107"), ()),
    ("NL", "Rotterdam", None, "Europe/Amsterdam", "nl", 2, ("nl", "301", "303"), ()),
    ("NL", "Utrecht", None, "Europe/Amsterdam", "nl", 2, ("nl", "351", "352"), ()),
    ("AU", "Sydney", "NSW", "Australia/Sydney", "en", 5, ("au", "20"), ()),
    ("AU", "Melbourne", "VIC", "Australia/Melbourne", "en", 4, ("au", "30"), ()),
    ("AU", "Brisbane", "QLD", "Australia/Brisbane", "en", 2, ("au", "40"), ()),
    ("AU", "Perth", "WA", "Australia/Perth", "en", 2, ("au", "60"), ()),
    ("JP", "東京都千代田区", "JP-13", "Asia/Tokyo", "ja", 4, ("jp", "100", "101", "102"), ()),
    ("JP", "大阪市北区", "JP-27", "Asia/Tokyo", "ja", 2, ("jp", "530"), ()),
    ("JP", "横浜市西区", "JP-14", "Asia/Tokyo", "ja", 2, ("jp", "220"), ()),
    ("MX", "Ciudad de México", "CMX", "America/Mexico_City", "es", 4, ("mx", "06", "03", "11"), ()),
    ("MX", "Guadalajara", "JAL", "America/Mexico_City", "es", 2, ("mx", "44"), ()),
    ("MX", "Monterrey", "NL", "America/Monterrey", "es", 2, ("mx", "64"), ()),
)

_STREETS: dict[str, tuple[str, tuple[str, ...]]] = {
    # country -> (format, street names); {n} house number, {s} street
    "US": ("{n} {s}", ("Main St", "Oak Ave", "Maple St", "Cedar Ln", "Elm St", "Washington Blvd", "Park Ave",
                       "2nd St", "Lakeview Dr", "Sunset Blvd", "Broadway", "Pine St", "Hillcrest Rd",
                       "Madison Ave", "Jefferson St", "Lincoln Way", "Willow Ct", "River Rd")),
    "CA": ("{n} {s}", ("Queen St W", "King St E", "Yonge St", "rue Sainte-Catherine", "boulevard Saint-Laurent",
                       "Granville St", "Robson St", "17 Ave SW", "Spring Garden Rd", "Bloor St W")),
    "GB": ("{n} {s}", ("High Street", "Station Road", "Church Lane", "Victoria Road", "Baker Street",
                       "Abbey Road", "King's Road", "Mill Lane", "Queen's Gardens", "Park View")),
    "DE": ("{s} {n}", ("Hauptstraße", "Bahnhofstraße", "Schillerstraße", "Goethestraße", "Gartenstraße",
                       "Lindenallee", "Friedrichstraße", "Königsallee", "Mühlenweg", "Schloßstraße")),
    "FR": ("{n} {s}", ("rue de Rivoli", "avenue des Champs-Élysées", "boulevard Saint-Germain",
                       "rue de la République", "place Bellecour", "rue du Faubourg Saint-Honoré",
                       "allée des Tilleuls", "quai de la Fosse", "rue Sainte-Catherine")),
    "ES": ("{s}, {n}", ("Calle Mayor", "Gran Vía", "Calle de Alcalá", "Passeig de Gràcia",
                        "Avenida de la Constitución", "Calle del Sol", "Calle de Núñez de Balboa")),
    "IT": ("{s}, {n}", ("Via Roma", "Via Garibaldi", "Corso Buenos Aires", "Via Montenapoleone", "Via del Corso",
                        "Piazza Navona", "Via Toledo", "Corso Vittorio Emanuele II")),
    "NL": ("{s} {n}", ("Kalverstraat", "Damrak", "Prinsengracht", "Herengracht", "Coolsingel", "Oudegracht",
                       "Lange Voorhout", "Vondelstraat")),
    "AU": ("{n} {s}", ("George St", "Collins St", "Queen St", "Bourke St", "Pitt St", "Flinders Lane",
                       "Hay St", "Chapel St")),
    "JP": ("{s}{a}-{b}-{c}", ("丸の内", "大手町", "梅田", "みなとみらい", "神田", "有楽町")),
    "MX": ("{s} {n}", ("Av. Paseo de la Reforma", "Av. Insurgentes Sur", "Calle Francisco I. Madero",
                       "Av. Chapultepec", "Calle Morelos", "Av. Vallarta")),
}

_ADDRESS2 = ("Apt 1", "Apt 4B", "Apt 12", "Suite 200", "Unit 5", "Floor 3", "Bldg C", "#1204", "2. OG",
             "Bâtiment B", "Piso 3", "Interno 7", "3 hoog")

# --------------------------------------------------------------------------------------------------------------
# Names (display form; e-mail local parts use an ASCII fold).  Japanese entries carry their romanisation.
# --------------------------------------------------------------------------------------------------------------

_FIRST: dict[str, tuple[str, ...]] = {
    "en": ("James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
           "William", "Barbara", "Emily", "Olivia", "Liam", "Noah", "Emma", "Ava", "Sophia", "Mia", "Zoë",
           "Chloe", "José", "Aaliyah", "Priya", "Wei", "Mohammed", "Siobhán", "Seán", "Renée", "André", "Jack",
           "Charlotte", "Harry", "Amelia", "Oliver", "Isla", "Ethan", "Grace", "Lucas"),
    "de": ("Lukas", "Leon", "Maximilian", "Jonas", "Felix", "Jürgen", "Günter", "Sophie", "Marie", "Lena",
           "Hannah", "Jörg", "Anna", "Mia", "Björn", "Käthe", "Paul", "Emilia", "Uwe", "Sören"),
    "fr": ("Élodie", "Léa", "Chloé", "Manon", "Camille", "Inès", "Louise", "Gabriel", "Raphaël", "Louis",
           "Hugo", "Jules", "François", "Noémie", "Hélène", "Jérôme", "Zoé", "Anaïs", "Maël", "Gaëlle"),
    "es": ("José", "María", "Lucía", "Sofía", "Martín", "Hugo", "Pablo", "Álvaro", "Daniela", "Valentina",
           "Jesús", "Guadalupe", "Andrés", "Ximena", "Iñaki", "Begoña", "Carmen", "Alejandro"),
    "it": ("Giulia", "Francesca", "Sofia", "Aurora", "Alessandro", "Lorenzo", "Leonardo", "Niccolò", "Mattia",
           "Chiara", "Federico", "Giorgia", "Matteo", "Martina", "Andrea", "Nicolò"),
    "nl": ("Daan", "Sem", "Lucas", "Finn", "Levi", "Emma", "Julia", "Tess", "Sanne", "Anouk", "Bram", "Noor",
           "Fleur", "Thijs", "Maarten", "Eline"),
    "ja": ("陽翔|haruto", "蓮|ren", "湊|minato", "大翔|hiroto", "結菜|yuna", "陽葵|himari", "芽依|mei", "葵|aoi",
           "さくら|sakura", "健太|kenta", "美咲|misaki", "翔太|shota"),
}
_LAST: dict[str, tuple[str, ...]] = {
    "en": ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
           "Martinez", "Hernandez", "Lopez", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson",
           "Martin", "Lee", "Nguyen", "O'Brien", "O'Connor", "Patel", "Kim", "Chen", "Murphy", "MacDonald",
           "Walsh", "Evans", "Singh", "Cohen"),
    "de": ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
           "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
           "Schwarz", "Zimmermann", "Krüger", "Weiß"),
    "fr": ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
           "Simon", "Laurent", "Lefèvre", "Michel", "Garnier", "Faure", "Rousseau", "Fournier", "Girard",
           "Dupré", "Chevalier", "Bonnet"),
    "es": ("García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez", "Gómez",
           "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz", "Álvarez", "Romero", "Núñez",
           "Peña"),
    "it": ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco",
           "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa", "Lombardi", "D'Angelo"),
    "nl": ("de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen", "Visser", "Smit",
           "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters", "Hendriks", "van Leeuwen"),
    "ja": ("佐藤|sato", "鈴木|suzuki", "高橋|takahashi", "田中|tanaka", "伊藤|ito", "渡辺|watanabe",
           "山本|yamamoto", "中村|nakamura", "小林|kobayashi", "加藤|kato"),
}
NAME_LOCALES: tuple[str, ...] = tuple(_FIRST)
# Name pools borrowed by a share of customers in the English-speaking countries (diaspora names).
MIXED_NAME_LOCALES: tuple[str, ...] = ("de", "fr", "es", "it", "nl")

# --------------------------------------------------------------------------------------------------------------
# Products: type -> (code, product type, USD price range, option values)
# --------------------------------------------------------------------------------------------------------------

PRODUCT_TYPES: tuple[tuple[str, str, str, tuple[float, float], tuple[str, ...]], ...] = (
    ("T-Shirt", "TSH", "Apparel", (24, 38), ("S", "M", "L", "XL")),
    ("Hoodie", "HOD", "Apparel", (55, 85), ("S", "M", "L", "XL")),
    ("Sneakers", "SNK", "Footwear", (89, 149), ("US 8", "US 9", "US 10", "US 11")),
    ("Backpack", "BPK", "Bags", (60, 130), ("Black", "Olive", "Navy", "Sand")),
    ("Tote Bag", "TOT", "Bags", (18, 34), ("Natural", "Black", "Terracotta", "Sage")),
    ("Water Bottle", "BTL", "Accessories", (22, 38), ("Black", "White", "Lagoon", "Coral")),
    ("Coffee Mug", "MUG", "Home", (14, 24), ("White", "Charcoal", "Speckled", "Blush")),
    ("Candle", "CDL", "Home", (18, 36), ("Lavender", "Cedar", "Fig", "Sea Salt")),
    ("Sunglasses", "SGL", "Accessories", (45, 160), ("Tortoise", "Black", "Crystal", "Gold")),
    ("Beanie", "BNE", "Apparel", (19, 32), ("Black", "Oatmeal", "Rust", "Forest")),
    ("Socks 3-Pack", "SCK", "Apparel", (14, 22), ("S/M", "L/XL", "Kids", "One Size")),
    ("Notebook", "NTB", "Stationery", (9, 18), ("Dot Grid", "Lined", "Blank", "Squared")),
    ("Phone Case", "PHC", "Accessories", (25, 45), ("iPhone 15", "iPhone 16", "Pixel 9", "Galaxy S24")),
)
PRODUCT_ADJECTIVES: tuple[str, ...] = ("Classic", "Everyday", "Heritage", "Organic", "Trail", "Urban", "Coastal",
                                       "Alpine", "Vintage", "Essential", "Merino", "Recycled")
VENDORS: tuple[str, ...] = ("Northwind Outfitters", "Acme Goods", "Maison Lumière", "Blåbär Design",
                            "Kōgei Works", "Fernweh & Co.", "Söderberg Studio", "Café Atelier")
VARIANTS_PER_PRODUCT = 4

# --------------------------------------------------------------------------------------------------------------
# Derived, flattened tables (built once at import, deterministic)
# --------------------------------------------------------------------------------------------------------------


def ascii_fold(text: str) -> str:
    """Lower-case ASCII form used in e-mail local parts: 'Zoë' -> 'zoe', "O'Brien" -> 'obrien'."""
    text = text.replace("ß", "ss").replace("ø", "o").replace("Ø", "o").replace("æ", "ae")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if ch.isascii() and ch.isalnum()).lower()


def _split(entry: str) -> tuple[str, str]:
    if "|" in entry:
        display, roman = entry.split("|", 1)
        return display, roman
    return entry, ascii_fold(entry)


def _flatten(pools: dict[str, tuple[str, ...]]):
    display: list[str] = []
    folded: list[str] = []
    offset: dict[str, int] = {}
    size: dict[str, int] = {}
    for key, entries in pools.items():
        offset[key] = len(display)
        size[key] = len(entries)
        for entry in entries:
            d, f = _split(entry)
            display.append(d)
            folded.append(f)
    return display, folded, offset, size


FIRST_NAMES, FIRST_ASCII, _FIRST_OFF, _FIRST_SIZE = _flatten(_FIRST)
LAST_NAMES, LAST_ASCII, _LAST_OFF, _LAST_SIZE = _flatten(_LAST)
FIRST_INITIALS: list[str] = [f[0] for f in FIRST_ASCII]
NAME_LOCALE_FIRST_OFF = np.array([_FIRST_OFF[k] for k in NAME_LOCALES], dtype=np.int64)
NAME_LOCALE_FIRST_SIZE = np.array([_FIRST_SIZE[k] for k in NAME_LOCALES], dtype=np.int64)
NAME_LOCALE_LAST_OFF = np.array([_LAST_OFF[k] for k in NAME_LOCALES], dtype=np.int64)
NAME_LOCALE_LAST_SIZE = np.array([_LAST_SIZE[k] for k in NAME_LOCALES], dtype=np.int64)
COUNTRY_NAME_LOCALE = np.array([NAME_LOCALES.index(c.names) for c in COUNTRIES], dtype=np.int64)
MIXED_NAME_LOCALE_IDX = np.array([NAME_LOCALES.index(k) for k in MIXED_NAME_LOCALES], dtype=np.int64)
COUNTRY_ALLOWS_MIXED = np.array([c.names == "en" for c in COUNTRIES])

COUNTRY_CODES: list[str] = [c.code for c in COUNTRIES]
COUNTRY_NAMES: list[str] = [c.name for c in COUNTRIES]
COUNTRY_CURRENCY = np.array([CURRENCY_CODES.index(c.currency) for c in COUNTRIES], dtype=np.int64)
COUNTRY_TAX = np.array([c.tax_rate for c in COUNTRIES], dtype=np.float64)
CURRENCY_DECIMALS = np.array([CURRENCIES[c][0] for c in CURRENCY_CODES], dtype=np.int64)
CURRENCY_FX = np.array([CURRENCIES[c][1] for c in CURRENCY_CODES], dtype=np.float64)

# cities
CITY_COUNTRY = np.array([COUNTRY_INDEX[r[0]] for r in _CITY_ROWS], dtype=np.int64)
CITY_NAMES: list[str] = [r[1] for r in _CITY_ROWS]
CITY_PROVINCE: list[str | None] = [r[2] for r in _CITY_ROWS]
CITY_TZ: list[str] = [r[3] for r in _CITY_ROWS]
CITY_LOCALE: list[str] = [r[4] for r in _CITY_ROWS]
_city_w = np.array([r[5] for r in _CITY_ROWS], dtype=np.float64)
_country_w = np.array([c.weight for c in COUNTRIES], dtype=np.float64)
_country_city_total = np.bincount(CITY_COUNTRY, weights=_city_w, minlength=len(COUNTRIES))
CITY_WEIGHTS = _city_w / _country_city_total[CITY_COUNTRY] * (_country_w / _country_w.sum())[CITY_COUNTRY]
CITY_CUM = np.cumsum(CITY_WEIGHTS) / CITY_WEIGHTS.sum()
# approximate city-centre coordinates (degrees), the base of the shipping addresses' latitude and longitude
_CITY_COORDS: dict[str, tuple[float, float]] = {
    "New York": (40.7128, -74.0060), "Brooklyn": (40.6782, -73.9442), "Los Angeles": (34.0522, -118.2437),
    "San Francisco": (37.7749, -122.4194), "Chicago": (41.8781, -87.6298), "Houston": (29.7604, -95.3698),
    "Austin": (30.2672, -97.7431), "Phoenix": (33.4484, -112.0740), "Seattle": (47.6062, -122.3321),
    "Denver": (39.7392, -104.9903), "Boston": (42.3601, -71.0589), "Miami": (25.7617, -80.1918),
    "Atlanta": (33.7490, -84.3880), "Portland": (45.5152, -122.6784), "Nashville": (36.1627, -86.7816),
    "Anchorage": (61.2181, -149.9003), "Honolulu": (21.3069, -157.8583), "Toronto": (43.6532, -79.3832),
    "Montréal": (45.5017, -73.5673), "Québec": (46.8139, -71.2080), "Vancouver": (49.2827, -123.1207),
    "Calgary": (51.0447, -114.0719), "Halifax": (44.6488, -63.5752), "London": (51.5074, -0.1278),
    "Manchester": (53.4808, -2.2426), "Edinburgh": (55.9533, -3.1883), "Bristol": (51.4545, -2.5879),
    "Belfast": (54.5973, -5.9301), "Berlin": (52.5200, 13.4050), "München": (48.1351, 11.5820),
    "Hamburg": (53.5511, 9.9937), "Köln": (50.9375, 6.9603), "Düsseldorf": (51.2277, 6.7735),
    "Paris": (48.8566, 2.3522), "Lyon": (45.7640, 4.8357), "Marseille": (43.2965, 5.3698),
    "Toulouse": (43.6047, 1.4442), "Nantes": (47.2184, -1.5536), "Madrid": (40.4168, -3.7038),
    "Barcelona": (41.3874, 2.1686), "Valencia": (39.4699, -0.3763), "Sevilla": (37.3891, -5.9845),
    "Milano": (45.4642, 9.1900), "Roma": (41.9028, 12.4964), "Torino": (45.0703, 7.6869),
    "Napoli": (40.8518, 14.2681), "Amsterdam": (52.3676, 4.9041), "Rotterdam": (51.9244, 4.4777),
    "Utrecht": (52.0907, 5.1214), "Sydney": (-33.8688, 151.2093), "Melbourne": (-37.8136, 144.9631),
    "Brisbane": (-27.4698, 153.0251), "Perth": (-31.9505, 115.8605), "東京都千代田区": (35.6940, 139.7536),
    "大阪市北区": (34.7055, 135.4983), "横浜市西区": (35.4660, 139.6223), "Ciudad de México": (19.4326, -99.1332),
    "Guadalajara": (20.6597, -103.3496), "Monterrey": (25.6866, -100.3161),
}
CITY_LAT = np.array([_CITY_COORDS[r[1]][0] for r in _CITY_ROWS], dtype=np.float64)
CITY_LON = np.array([_CITY_COORDS[r[1]][1] for r in _CITY_ROWS], dtype=np.float64)
# cities of each country (for alternative shipping addresses)
_order = np.argsort(CITY_COUNTRY, kind="stable")
COUNTRY_CITY_LIST = _order.astype(np.int64)
COUNTRY_CITY_OFF = np.searchsorted(CITY_COUNTRY[_order], np.arange(len(COUNTRIES))).astype(np.int64)
COUNTRY_CITY_SIZE = np.bincount(CITY_COUNTRY, minlength=len(COUNTRIES)).astype(np.int64)

ZIPS_PER_CITY = 16
ADDRESSES_PER_COUNTRY = 512
_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"


def _zip(rng: random.Random, spec: tuple) -> str:
    kind, *prefixes = spec
    p = rng.choice(prefixes)
    d = lambda k: "".join(str(rng.randrange(10)) for _ in range(k))
    if kind == "us":
        return p + d(2)
    if kind == "ca":
        return f"{p} {rng.randrange(10)}{rng.choice(_LETTERS)}{rng.randrange(10)}"
    if kind == "gb":
        return f"{p} {rng.randrange(10)}{rng.choice(_LETTERS)}{rng.choice(_LETTERS)}"
    if kind == "de":
        return p + d(3)
    if kind == "fr":
        return p + f"{rng.randrange(1, 21):02d}" if p == "750" else p + d(2)
    if kind in ("es", "mx"):
        return p + d(3)
    if kind == "it":
        return p + d(2)
    if kind == "nl":
        return f"{p}{rng.randrange(10)} {rng.choice(_LETTERS)}{rng.choice(_LETTERS)}"
    if kind == "au":
        return p + d(2)
    if kind == "jp":
        return f"{p}-{d(4)}"
    raise ValueError(kind)


def _street(rng: random.Random, country: str) -> str:
    fmt, streets = _STREETS[country]
    s = rng.choice(streets)
    if country in ("US", "CA", "AU"):
        n = rng.choice([rng.randrange(1, 100), rng.randrange(100, 1000), rng.randrange(1000, 9999)])
    else:
        n = rng.randrange(1, 180)
    return fmt.format(n=n, s=s, a=rng.randrange(1, 9), b=rng.randrange(1, 30), c=rng.randrange(1, 20))


def _build_pools():
    rng = random.Random(20260101)
    zips = [_zip(rng, r[6]) for r in _CITY_ROWS for _ in range(ZIPS_PER_CITY)]
    streets = [_street(rng, c.code) for c in COUNTRIES for _ in range(ADDRESSES_PER_COUNTRY)]
    phones: list[str] = []
    city_phone_off: list[int] = []
    city_phone_size: list[int] = []
    for r in _CITY_ROWS:
        country = COUNTRIES[COUNTRY_INDEX[r[0]]]
        prefixes = [f"+1{a}" for a in r[7]] if r[7] else list(country.mobile)
        city_phone_off.append(len(phones))
        city_phone_size.append(len(prefixes))
        phones.extend(prefixes)
    return (zips, streets, phones, np.array(city_phone_off, dtype=np.int64),
            np.array(city_phone_size, dtype=np.int64))


ZIP_POOL, STREET_POOL, PHONE_PREFIXES, CITY_PHONE_OFF, CITY_PHONE_SIZE = _build_pools()
ADDRESS2_POOL: list[str] = list(_ADDRESS2)

_domains: list[str] = []
_dom_off: list[int] = []
_dom_size: list[int] = []
for _c in COUNTRIES:
    _dom_off.append(len(_domains))
    _pool = list(GLOBAL_EMAIL_DOMAINS) + list(_c.domains)
    _dom_size.append(len(_pool))
    _domains.extend(_pool)
EMAIL_DOMAINS: list[str] = _domains
COUNTRY_DOMAIN_OFF = np.array(_dom_off, dtype=np.int64)
COUNTRY_DOMAIN_SIZE = np.array(_dom_size, dtype=np.int64)
