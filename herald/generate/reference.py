"""Reference data the generator draws from: countries, cities, names, products, campaigns.

Every string here is plain ASCII without apostrophes (Spark seeds break on them) and never the word "null"
(dbt's CSV loader reads it as a missing value).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class City:
    """A city with the postal codes, language and time zone its residents get."""

    name: str
    postal_pattern: str  # '#' a digit, '@' a capital letter, anything else literal
    language: str
    time_zone: str


@dataclass(frozen=True, slots=True)
class Country:
    """Everything needed to make a believable resident of one country."""

    code: str
    weight: int
    currency: str
    dial: str
    trunk: str  # national trunk prefix ('0' or '')
    mobile_prefixes: tuple[str, ...]
    nsn_length: int  # national significant number length, mobile prefix included
    national_groups: tuple[int, ...]  # digit groups of trunk + nsn as written nationally
    intl_groups: tuple[int, ...]  # digit groups of the nsn after +CC
    utc_offset: int  # hours, standard time: shifts the daily activity curve
    street_number_first: bool
    streets: tuple[str, ...]
    address_line2: tuple[str, ...]
    domains: tuple[str, ...]
    cities: tuple[City, ...]
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _items(text: str) -> tuple[str, ...]:
    return tuple(text.split("|"))


def _cities(language: str, time_zone: str, spec: str) -> tuple[City, ...]:
    """Cities sharing a language and time zone, from ``"Name=pattern|..."``."""
    pairs = (item.split("=") for item in spec.split("|"))
    return tuple(City(name, pattern, language, time_zone) for name, pattern in pairs)


COUNTRIES: tuple[Country, ...] = (
    Country(
        code="FR",
        weight=18,
        currency="EUR",
        dial="33",
        trunk="0",
        mobile_prefixes=_words("6 7"),
        nsn_length=9,
        national_groups=(2, 2, 2, 2, 2),
        intl_groups=(1, 2, 2, 2, 2),
        utc_offset=1,
        street_number_first=True,
        streets=_items(
            "rue de la Republique|avenue Jean Jaures|rue Victor Hugo|boulevard Voltaire|rue du Moulin|"
            "place de la Mairie|rue des Lilas|avenue de la Gare|rue Pasteur"
        ),
        address_line2=_items("Bat. B|Apt 12|Residence Les Pins|Escalier C|3e etage"),
        domains=_words("orange.fr free.fr laposte.net sfr.fr wanadoo.fr"),
        cities=_cities(
            "fr",
            "Europe/Paris",
            "Paris=750##|Lyon=6900#|Marseille=130##|Toulouse=310##|Nice=060##|Nantes=440##|Bordeaux=330##|"
            "Lille=590##|Strasbourg=670##|Rennes=350##",
        ),
        first_names=_words(
            "Marie Camille Lea Manon Chloe Emma Ines Sarah Julie Claire Thomas Nicolas Julien Antoine Lucas Hugo "
            "Louis Maxime Pierre Mathieu Sophie Pauline Alexandre Quentin"
        ),
        last_names=_words(
            "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent Lefebvre Michel "
            "Garcia David Bertrand Roux Vincent Fournier Morel Girard Andre Mercier Dupont Lambert Bonnet "
            "Fontaine Rousseau Blanc"
        ),
    ),
    Country(
        code="DE",
        weight=16,
        currency="EUR",
        dial="49",
        trunk="0",
        mobile_prefixes=_words("151 160 170 176"),
        nsn_length=10,
        national_groups=(4, 7),
        intl_groups=(3, 7),
        utc_offset=1,
        street_number_first=False,
        streets=_words(
            "Hauptstrasse Schulstrasse Gartenstrasse Bahnhofstrasse Dorfstrasse Bergstrasse Birkenweg "
            "Lindenstrasse Kirchstrasse Waldstrasse"
        ),
        address_line2=_items("2. OG|Hinterhaus|c/o Schmidt|Whg. 5|3. Stock links"),
        domains=_words("web.de gmx.de t-online.de gmx.net freenet.de"),
        cities=_cities(
            "de",
            "Europe/Berlin",
            "Berlin=10###|Hamburg=20###|Muenchen=80###|Koeln=50###|Frankfurt am Main=60###|Stuttgart=70###|"
            "Duesseldorf=40###|Leipzig=04###|Dresden=01###",
        ),
        first_names=_words(
            "Anna Lena Laura Julia Sarah Lisa Katharina Hannah Sophie Leonie Lukas Jonas Felix Maximilian Paul "
            "Leon Tim Jan Tobias Florian Stefan Michael Sabine Petra"
        ),
        last_names=_words(
            "Mueller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schaefer Koch Bauer "
            "Richter Klein Wolf Schroeder Neumann Schwarz Zimmermann Braun Krueger Hofmann Hartmann Lange Schmitt"
        ),
    ),
    Country(
        code="GB",
        weight=14,
        currency="GBP",
        dial="44",
        trunk="0",
        mobile_prefixes=_words("7"),
        nsn_length=10,
        national_groups=(5, 6),
        intl_groups=(4, 6),
        utc_offset=0,
        street_number_first=True,
        streets=_items(
            "High Street|Station Road|Church Lane|Victoria Road|Park Avenue|Mill Lane|Kings Road|Queens Street|"
            "Green Lane|Manor Road"
        ),
        address_line2=_items("Flat 3|Flat 12B|Unit 4|Apartment 7|Rose Cottage"),
        domains=_words("btinternet.com yahoo.co.uk sky.com virginmedia.com hotmail.co.uk"),
        cities=_cities(
            "en",
            "Europe/London",
            "London=E# #@@|Sheffield=S# #@@|Manchester=M# #@@|Birmingham=B# #@@|Leeds=LS# #@@|Glasgow=G# #@@|"
            "Bristol=BS# #@@|Liverpool=L# #@@|Edinburgh=EH# #@@",
        ),
        first_names=_words(
            "Olivia Amelia Isla Ava Emily Jessica Charlotte Grace Sophie Lucy Oliver George Harry Jack Jacob "
            "Charlie Thomas James William Daniel Hannah Rebecca Matthew Samuel"
        ),
        last_names=_words(
            "Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson Thompson "
            "Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson Wood"
        ),
    ),
    Country(
        code="US",
        weight=12,
        currency="USD",
        dial="1",
        trunk="",
        mobile_prefixes=_words("212 312 415 617 713 206 305 512"),
        nsn_length=10,
        national_groups=(3, 3, 4),
        intl_groups=(3, 3, 4),
        utc_offset=-5,
        street_number_first=True,
        streets=_items("Main St|Oak Ave|Maple St|Washington Blvd|Park Ave|Elm St|Cedar Ln|Lake Dr|Pine St|Sunset Blvd"),
        address_line2=_items("Apt 4B|Suite 200|Unit 12|Apt 1021|Floor 3"),
        domains=_words("comcast.net aol.com att.net verizon.net yahoo.com"),
        cities=(
            City("New York", "100##", "en", "America/New_York"),
            City("Boston", "021##", "en", "America/New_York"),
            City("Miami", "331##", "en", "America/New_York"),
            City("Chicago", "606##", "en", "America/Chicago"),
            City("Houston", "770##", "en", "America/Chicago"),
            City("Austin", "787##", "en", "America/Chicago"),
            City("Denver", "802##", "en", "America/Denver"),
            City("Los Angeles", "900##", "en", "America/Los_Angeles"),
            City("San Francisco", "941##", "en", "America/Los_Angeles"),
            City("Seattle", "981##", "en", "America/Los_Angeles"),
        ),
        first_names=_words(
            "Emma Olivia Ava Sophia Isabella Mia Abigail Madison Ashley Jennifer Liam Noah Ethan Mason Michael "
            "Logan Jacob Tyler Christopher Brandon Jessica Emily Daniel Ryan"
        ),
        last_names=_words(
            "Smith Johnson Williams Brown Jones Miller Davis Garcia Rodriguez Wilson Martinez Anderson Taylor "
            "Thomas Hernandez Moore Jackson Martin Lee Thompson White Harris Clark Lewis Robinson Walker"
        ),
    ),
    Country(
        code="ES",
        weight=8,
        currency="EUR",
        dial="34",
        trunk="",
        mobile_prefixes=_words("6 7"),
        nsn_length=9,
        national_groups=(3, 3, 3),
        intl_groups=(3, 3, 3),
        utc_offset=1,
        street_number_first=False,
        streets=_items(
            "Calle Mayor|Calle Real|Avenida de la Constitucion|Calle del Sol|Plaza de Espana|Calle Nueva|"
            "Paseo de Gracia|Calle de Alcala"
        ),
        address_line2=_items("2o B|3o izquierda|Bajo A|Escalera 2|Piso 4"),
        domains=_words("telefonica.net yahoo.es hotmail.es movistar.es"),
        cities=_cities(
            "es",
            "Europe/Madrid",
            "Madrid=280##|Barcelona=080##|Valencia=460##|Sevilla=410##|Zaragoza=500##|Malaga=290##|Bilbao=480##",
        ),
        first_names=_words(
            "Lucia Maria Paula Laura Marta Sara Carmen Ana Elena Claudia Hugo Pablo Alejandro Daniel Javier "
            "David Adrian Alvaro Diego Sergio Carlos Jorge"
        ),
        last_names=_words(
            "Garcia Rodriguez Gonzalez Fernandez Lopez Martinez Sanchez Perez Gomez Martin Jimenez Ruiz "
            "Hernandez Diaz Moreno Alvarez Romero Navarro Torres Dominguez Vazquez Ramos"
        ),
    ),
    Country(
        code="IT",
        weight=8,
        currency="EUR",
        dial="39",
        trunk="",
        mobile_prefixes=_words("32 33 34 35 38"),
        nsn_length=10,
        national_groups=(3, 3, 4),
        intl_groups=(3, 3, 4),
        utc_offset=1,
        street_number_first=False,
        streets=_items(
            "Via Roma|Via Garibaldi|Via Mazzini|Corso Vittorio Emanuele|Via Dante|Via Verdi|Piazza della Liberta|"
            "Via Cavour"
        ),
        address_line2=_items("Scala B|Interno 5|Piano 2|Palazzina C"),
        domains=_words("libero.it virgilio.it alice.it tiscali.it yahoo.it"),
        cities=_cities(
            "it",
            "Europe/Rome",
            "Roma=001##|Milano=201##|Napoli=801##|Torino=101##|Bologna=401##|Firenze=501##|Palermo=901##",
        ),
        first_names=_words(
            "Giulia Sofia Aurora Alice Ginevra Emma Giorgia Chiara Francesca Martina Leonardo Francesco "
            "Alessandro Lorenzo Mattia Andrea Gabriele Riccardo Marco Luca Giuseppe Paolo"
        ),
        last_names=_words(
            "Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo Conti DeLuca "
            "Costa Giordano Mancini Rizzo Lombardi Moretti Barbieri Fontana"
        ),
    ),
    Country(
        code="NL",
        weight=6,
        currency="EUR",
        dial="31",
        trunk="0",
        mobile_prefixes=_words("6"),
        nsn_length=9,
        national_groups=(2, 8),
        intl_groups=(1, 8),
        utc_offset=1,
        street_number_first=False,
        streets=_words(
            "Kerkstraat Dorpsstraat Schoolstraat Molenweg Stationsweg Julianastraat Beatrixlaan Hoofdstraat"
        ),
        address_line2=_items("2 hoog|bis|A|huis"),
        domains=_words("ziggo.nl kpnmail.nl hetnet.nl planet.nl xs4all.nl"),
        cities=_cities(
            "nl",
            "Europe/Amsterdam",
            "Amsterdam=10## @@|Rotterdam=30## @@|Utrecht=35## @@|Den Haag=25## @@|Eindhoven=56## @@|Groningen=97## @@",
        ),
        first_names=_words(
            "Emma Julia Sophie Tess Anna Sara Fleur Lotte Sanne Eva Daan Sem Lucas Levi Finn Milan Bram Thijs "
            "Ruben Jesse Joost Pieter"
        ),
        last_names=_words(
            "DeJong Jansen DeVries VandenBerg VanDijk Bakker Janssen Visser Smit Meijer DeBoer Mulder DeGroot "
            "Bos Vos Peters Hendriks VanLeeuwen Dekker Brouwer"
        ),
    ),
    Country(
        code="BE",
        weight=4,
        currency="EUR",
        dial="32",
        trunk="0",
        mobile_prefixes=_words("47 48 49"),
        nsn_length=9,
        national_groups=(4, 2, 2, 2),
        intl_groups=(3, 2, 2, 2),
        utc_offset=1,
        street_number_first=False,
        streets=_items(
            "Rue Neuve|Chaussee de Wavre|Avenue Louise|Kerkstraat|Stationsstraat|Rue de la Station|Meir|Veldstraat"
        ),
        address_line2=_items("Boite 3|Bus 12|2e etage|Appartement 4"),
        domains=_words("skynet.be telenet.be proximus.be scarlet.be"),
        cities=(
            City("Bruxelles", "10#0", "fr", "Europe/Brussels"),
            City("Leuven", "30#0", "nl", "Europe/Brussels"),
            City("Antwerpen", "20#0", "nl", "Europe/Brussels"),
            City("Gent", "90#0", "nl", "Europe/Brussels"),
            City("Liege", "40#0", "fr", "Europe/Brussels"),
            City("Namur", "50#0", "fr", "Europe/Brussels"),
            City("Brugge", "80#0", "nl", "Europe/Brussels"),
        ),
        first_names=_words(
            "Emma Louise Olivia Elise Marie Lotte Noor Lina Amelie Julie Noah Arthur Louis Jules Lucas Victor "
            "Adam Liam Wout Thomas"
        ),
        last_names=_words(
            "Peeters Janssens Maes Jacobs Mertens Willems Claes Goossens Wouters Dubois Lambert Dupont Martin "
            "Simon Laurent Leclercq Hermans Michiels"
        ),
    ),
    Country(
        code="CH",
        weight=4,
        currency="CHF",
        dial="41",
        trunk="0",
        mobile_prefixes=_words("76 77 78 79"),
        nsn_length=9,
        national_groups=(3, 3, 2, 2),
        intl_groups=(2, 3, 2, 2),
        utc_offset=1,
        street_number_first=False,
        streets=_items(
            "Bahnhofstrasse|Dorfstrasse|Rue du Rhone|Seestrasse|Kirchweg|Avenue de la Gare|Rosenweg|Via Nassa"
        ),
        address_line2=_items("c/o Meier|3. Stock|Appartement 5|Postfach 120"),
        domains=_words("bluewin.ch gmx.ch sunrise.ch hispeed.ch"),
        cities=(
            City("Zuerich", "80##", "de", "Europe/Zurich"),
            City("Basel", "40##", "de", "Europe/Zurich"),
            City("Bern", "30##", "de", "Europe/Zurich"),
            City("Luzern", "60##", "de", "Europe/Zurich"),
            City("Geneve", "12##", "fr", "Europe/Zurich"),
            City("Lausanne", "10##", "fr", "Europe/Zurich"),
            City("Lugano", "69##", "it", "Europe/Zurich"),
        ),
        first_names=_words(
            "Mia Emma Lena Lina Elena Sofia Laura Chiara Anna Nina Noah Luca Leon Liam Matteo Gabriel Nico Jonas "
            "Samuel Elias Reto Urs"
        ),
        last_names=_words(
            "Mueller Meier Schmid Keller Weber Huber Schneider Meyer Steiner Fischer Gerber Brunner Baumann Frei "
            "Zimmermann Moser Favre Rochat Bernasconi Widmer"
        ),
    ),
    Country(
        code="SE",
        weight=4,
        currency="SEK",
        dial="46",
        trunk="0",
        mobile_prefixes=_words("70 72 73 76"),
        nsn_length=9,
        national_groups=(3, 3, 2, 2),
        intl_groups=(2, 3, 2, 2),
        utc_offset=1,
        street_number_first=False,
        streets=_words("Storgatan Drottninggatan Kungsgatan Skolgatan Vasagatan Nygatan Parkvagen Kyrkogatan"),
        address_line2=_items("lgh 1102|3 tr|c/o Andersson|lgh 1201"),
        domains=_words("telia.com bredband.net spray.se live.se"),
        cities=_cities(
            "sv",
            "Europe/Stockholm",
            "Stockholm=11# ##|Goteborg=41# ##|Malmo=21# ##|Uppsala=75# ##|Vasteras=72# ##|Orebro=70# ##",
        ),
        first_names=_words(
            "Alice Maja Elsa Astrid Wilma Ebba Ella Saga Linnea Klara Oscar William Lucas Liam Elias Hugo Axel "
            "Erik Olle Nils Karin Anders"
        ),
        last_names=_words(
            "Andersson Johansson Karlsson Nilsson Eriksson Larsson Olsson Persson Svensson Gustafsson Pettersson "
            "Jonsson Jansson Hansson Bengtsson Lindberg Lindqvist Berg Lundgren Holm"
        ),
    ),
    Country(
        code="PL",
        weight=4,
        currency="PLN",
        dial="48",
        trunk="",
        mobile_prefixes=_words("50 51 53 60 66 69 72 79 88"),
        nsn_length=9,
        national_groups=(3, 3, 3),
        intl_groups=(3, 3, 3),
        utc_offset=1,
        street_number_first=False,
        streets=_items("ul. Dluga|ul. Polna|ul. Lesna|ul. Sloneczna|ul. Krotka|ul. Szkolna|ul. Ogrodowa|ul. Lipowa"),
        address_line2=_items("m. 12|lok. 4|m. 7|kl. B"),
        domains=_words("wp.pl onet.pl interia.pl o2.pl"),
        cities=_cities(
            "pl",
            "Europe/Warsaw",
            "Warszawa=0#-###|Krakow=3#-###|Wroclaw=5#-###|Gdansk=8#-###|Poznan=6#-###|Lodz=9#-###",
        ),
        first_names=_words(
            "Zuzanna Julia Maja Zofia Hanna Lena Alicja Maria Amelia Oliwia Antoni Jan Jakub Aleksander "
            "Franciszek Szymon Filip Mikolaj Piotr Tomasz Katarzyna Pawel"
        ),
        last_names=_words(
            "Nowak Kowalski Wisniewski Wojcik Kowalczyk Kaminski Lewandowski Zielinski Szymanski Wozniak "
            "Dabrowski Kozlowski Jankowski Mazur Kwiatkowski Krawczyk Piotrowski Grabowski"
        ),
    ),
    Country(
        code="IE",
        weight=2,
        currency="EUR",
        dial="353",
        trunk="0",
        mobile_prefixes=_words("83 85 86 87 89"),
        nsn_length=9,
        national_groups=(3, 3, 4),
        intl_groups=(2, 3, 4),
        utc_offset=0,
        street_number_first=True,
        streets=_items(
            "Main Street|Church Road|Grafton Street|Patrick Street|Shop Street|Mill Road|Abbey Street|Castle Street"
        ),
        address_line2=_items("Apartment 3|Flat 2|The Courtyard|Unit 9"),
        domains=_words("eircom.net iol.ie yahoo.ie hotmail.ie"),
        cities=_cities(
            "en", "Europe/Dublin", "Dublin=D0# @###|Cork=T12 @###|Galway=H91 @###|Limerick=V94 @###|Waterford=X91 @###"
        ),
        first_names=_words(
            "Grace Emily Fiadh Sophie Ava Amelia Ellie Aoife Siobhan Niamh Jack James Noah Conor Sean Cian Oisin "
            "Darragh Patrick Liam"
        ),
        last_names=_words(
            "Murphy Kelly Sullivan Walsh Smith Byrne Ryan Connor Neill Reilly Doyle McCarthy Gallagher Doherty "
            "Kennedy Lynch Murray Quinn Moore"
        ),
    ),
)


def reserved_domain(provider: str) -> str:
    """A mailbox provider's domain as a name under example.com, reserved for examples (RFC 2606), so generated
    addresses can never reach a real mailbox while still grouping by provider: ``gmail.com`` becomes
    ``gmail.example.com``, ``yahoo.co.uk`` becomes ``yahoo-co-uk.example.com``."""
    name, _, suffix = provider.partition(".")
    return (
        f"{name}.example.com" if suffix in ("com", "net", "org") else f"{name}-{suffix.replace('.', '-')}.example.com"
    )


# Providers as people write them; addresses use reserved_domain() of these.
GLOBAL_DOMAINS: tuple[str, ...] = (
    "gmail.com",
    "gmail.com",
    "gmail.com",
    "outlook.com",
    "hotmail.com",
    "yahoo.com",
    "icloud.com",
)

# Conversion from the catalogue's EUR prices into the order currency.
FX_FROM_EUR: dict[str, float] = {"EUR": 1.0, "GBP": 0.86, "USD": 1.08, "CHF": 0.95, "SEK": 11.4, "PLN": 4.3}

CATEGORIES: tuple[tuple[str, tuple[str, ...], tuple[float, float]], ...] = (
    # category, product nouns, price range in EUR
    (
        "shoes",
        ("Running Shoe", "Leather Sneaker", "Chelsea Boot", "Trail Shoe", "Canvas Sneaker", "Sandal"),
        (39.0, 149.0),
    ),
    (
        "apparel",
        (
            "Cotton Tee",
            "Hoodie",
            "Denim Jacket",
            "Wool Sweater",
            "Chino Pants",
            "Rain Jacket",
            "Linen Shirt",
            "Puffer Jacket",
        ),
        (14.0, 129.0),
    ),
    ("accessories", ("Backpack", "Leather Belt", "Beanie", "Sunglasses", "Tote Bag", "Wallet", "Scarf"), (9.0, 89.0)),
    ("beauty", ("Face Cream", "Lip Balm", "Shampoo", "Body Lotion", "Eau de Parfum", "Hand Soap"), (4.0, 69.0)),
    (
        "home",
        ("Scented Candle", "Throw Blanket", "Ceramic Mug", "Cushion Cover", "Table Lamp", "Plant Pot"),
        (7.0, 99.0),
    ),
    (
        "electronics",
        ("Wireless Earbuds", "Phone Case", "Power Bank", "Smart Watch", "Bluetooth Speaker", "USB Charger"),
        (12.0, 249.0),
    ),
    ("sports", ("Yoga Mat", "Water Bottle", "Running Shorts", "Sports Bra", "Gym Bag", "Tennis Balls"), (6.0, 79.0)),
    ("kids", ("Kids Raincoat", "Plush Bear", "Kids Sneaker", "Puzzle Set", "Kids Pyjamas"), (8.0, 59.0)),
)
PRODUCT_ADJECTIVES: tuple[str, ...] = ("Classic", "Essential", "Urban", "Premium", "Everyday", "Nordic", "Coastal")

SEARCH_QUERIES: tuple[str, ...] = (
    "running shoes",
    "black hoodie",
    "gift for her",
    "gift for him",
    "sneakers",
    "rain jacket",
    "backpack",
    "face cream",
    "candle",
    "earbuds",
    "yoga mat",
    "sale",
    "black friday",
    "kids shoes",
    "wool sweater",
    "linen shirt",
    "smart watch",
    "tote bag",
    "perfume",
    "new arrivals",
    "boots",
    "sunglasses",
    "power bank",
)

APP_VERSIONS: tuple[str, ...] = ("4.8.2", "4.9.0", "4.9.1", "5.0.0", "5.0.3", "5.1.0", "5.2.0", "5.2.1")

CONSENT_FORMS: tuple[str, ...] = (
    "form-newsletter-footer",
    "form-checkout-optin",
    "form-popup-welcome10",
    "form-account-signup",
    "form-contest-summer",
)

IP_FIRST_OCTETS: tuple[int, ...] = (
    31,
    37,
    46,
    62,
    77,
    78,
    80,
    81,
    82,
    84,
    86,
    88,
    90,
    92,
    94,
    109,
    176,
    178,
    185,
    188,
    212,
    213,
    217,
)


@dataclass(frozen=True, slots=True)
class Campaign:
    """A past campaign: sent on ``days_before_end`` days before the end date to a share of its audience."""

    name: str
    channel: str
    topic: str
    days_before_end: int
    hour_utc: int
    share: float
    landing_path: str

    def send_date(self, end_date: dt.date) -> dt.date:
        return end_date - dt.timedelta(days=self.days_before_end)

    def display_name(self, end_date: dt.date) -> str:
        """Names carry the month they went out in, as marketers name them."""
        return self.name.replace("{month}", self.send_date(end_date).strftime("%B"))


CAMPAIGNS: tuple[Campaign, ...] = (
    Campaign("Winter Sale Kickoff", "email", "promotions", 330, 8, 0.45, "/sale/winter"),
    Campaign("{month} Newsletter", "email", "newsletter", 310, 9, 0.55, "/journal/january"),
    Campaign("Valentines Gift Guide", "email", "promotions", 290, 7, 0.35, "/gifts/valentines"),
    Campaign("Spring Collection Preview", "email", "newsletter", 250, 9, 0.5, "/new/spring"),
    Campaign("Easter Weekend Offers", "sms", "promotions", 235, 10, 0.5, "/sale/easter"),
    Campaign("App 5.0 Is Here", "push", "product_updates", 215, 16, 0.6, "/app"),
    Campaign("{month} Newsletter", "email", "newsletter", 190, 9, 0.55, "/journal/may"),
    Campaign("Summer Essentials", "email", "promotions", 160, 8, 0.4, "/c/summer"),
    Campaign("Flash Sale 24h", "sms", "promotions", 130, 11, 0.45, "/sale/flash"),
    Campaign("Back to School", "email", "promotions", 95, 8, 0.3, "/c/kids"),
    Campaign("{month} Newsletter", "email", "newsletter", 75, 9, 0.55, "/journal/september"),
    Campaign("Double Loyalty Points", "push", "promotions", 50, 17, 0.5, "/loyalty"),
    Campaign("Autumn Collection", "email", "newsletter", 40, 9, 0.5, "/new/autumn"),
    Campaign("Singles Day Deals", "email", "promotions", 16, 7, 0.35, "/sale/singles-day"),
    Campaign("Black Friday Early Access", "email", "promotions", 7, 7, 0.45, "/sale/black-friday"),
    Campaign("Black Friday Starts Now", "sms", "promotions", 0, 6, 0.4, "/sale/black-friday"),
    Campaign("Black Friday Final Hours", "email", "promotions", 0, 15, 0.5, "/sale/black-friday"),
)
