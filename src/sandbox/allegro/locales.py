"""Per-marketplace reference data: names, places, currencies, carriers and tax-id formats."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class DeliveryMethod:
    id: str
    name: str
    pickup: bool
    cost: tuple[str, str]  # min, max in the marketplace currency
    point_label: str = ""  # pickup-point name prefix, e.g. "Paczkomat"


@dataclass(frozen=True, slots=True)
class City:
    name: str
    postcode_prefix: str  # digits the postcode starts with; the rest is random
    point_code: str  # three-letter prefix of parcel-locker ids, e.g. KRA112M


@dataclass(frozen=True, slots=True)
class Locale:
    marketplace: str
    country: str
    currency: str
    language: str
    phone_prefix: str
    phone_first_digits: str
    postcode_format: str  # `#` = digit
    female: tuple[str, ...]
    male: tuple[str, ...]
    surnames: tuple[tuple[str, str], ...]  # (masculine, feminine)
    cities: tuple[City, ...]
    streets: tuple[str, ...]
    companies: tuple[str, ...]
    company_ids: tuple[str, ...]  # invoice `ids[].type`, first one is the main tax id
    price_factor: Decimal  # offers are priced in PLN and converted
    vat_rate: str
    methods: tuple[DeliveryMethod, ...]
    pickup_descriptions: tuple[str, ...]
    messages: tuple[str, ...]


_PL = Locale(
    marketplace="allegro-pl",
    country="PL",
    currency="PLN",
    language="pl-PL",
    phone_prefix="+48",
    phone_first_digits="5678",
    postcode_format="##-###",
    female=("Aleksandra", "Anna", "Katarzyna", "Magdalena", "Zofia", "Julia", "Agnieszka"),
    male=("Piotr", "Krzysztof", "Tomasz", "Michał", "Paweł", "Jakub", "Łukasz", "Marcin"),
    surnames=(
        ("Nowak", "Nowak"),
        ("Kowalski", "Kowalska"),
        ("Wiśniewski", "Wiśniewska"),
        ("Wójcik", "Wójcik"),
        ("Kamiński", "Kamińska"),
        ("Lewandowski", "Lewandowska"),
        ("Zieliński", "Zielińska"),
        ("Dąbrowski", "Dąbrowska"),
        ("Woźniak", "Woźniak"),
    ),
    cities=(
        City("Kraków", "3", "KRA"),
        City("Warszawa", "0", "WAW"),
        City("Gdańsk", "80", "GDA"),
        City("Wrocław", "5", "WRO"),
        City("Poznań", "6", "POZ"),
        City("Łódź", "9", "LOD"),
        City("Lublin", "20", "LUB"),
        City("Katowice", "40", "KAT"),
    ),
    streets=("Ogrodowa", "Długa", "Mickiewicza", "Słowackiego", "Polna", "Lipowa", "Kościuszki"),
    companies=("Zielony Zakątek Sp. z o.o.", "Kowalski i Synowie s.c.", "TechBud S.A."),
    company_ids=("PL_NIP",),
    price_factor=Decimal("1"),
    vat_rate="23.00",
    methods=(
        DeliveryMethod(
            "2488f7b7-5d1c-4d65-b85c-4cbcf253fd93",
            "Allegro Paczkomaty InPost",
            True,
            ("8.99", "13.99"),
            "Paczkomat",
        ),
        DeliveryMethod(
            "1fa56f79-4b6a-4821-a6f2-ca9c16d5c925", "Allegro Kurier DPD", False, ("12.99", "19.99")
        ),
        DeliveryMethod(
            "b20ef9e1-faa2-4f25-9455-f5fae0fa4b0f",
            "Allegro One Box, DPD",
            True,
            ("6.99", "9.99"),
            "Allegro One Box",
        ),
    ),
    pickup_descriptions=("Przy sklepie spożywczym", "Stacja paliw", "Obok apteki", "Parking"),
    messages=("Proszę o zapakowanie na prezent.", "Proszę o kontakt przed wysyłką."),
)

_CZ = Locale(
    marketplace="allegro-cz",
    country="CZ",
    currency="CZK",
    language="cs-CZ",
    phone_prefix="+420",
    phone_first_digits="67",
    postcode_format="### ##",
    female=("Tereza", "Eliška", "Anna", "Lucie", "Kateřina"),
    male=("Jan", "Petr", "Tomáš", "Jakub", "Martin"),
    surnames=(
        ("Novák", "Nováková"),
        ("Svoboda", "Svobodová"),
        ("Novotný", "Novotná"),
        ("Dvořák", "Dvořáková"),
        ("Černý", "Černá"),
    ),
    cities=(
        City("Praha", "1", "PRA"),
        City("Brno", "6", "BRN"),
        City("Ostrava", "70", "OST"),
        City("Plzeň", "3", "PLZ"),
    ),
    streets=("Vinohradská", "Masarykova", "Husova", "Nádražní", "Palackého"),
    companies=("Novák a syn s.r.o.", "Dvořák Trade a.s."),
    company_ids=("CZ_ICO", "CZ_DIC"),
    price_factor=Decimal("5.8"),
    vat_rate="21.00",
    methods=(
        DeliveryMethod(
            "5fd1a8cd-9b5c-4a5f-8c3e-9d1f6a1e2b70",
            "Allegro Z-BOX Packeta",
            True,
            ("49.00", "69.00"),
            "Z-BOX",
        ),
        DeliveryMethod(
            "7c0e2f6a-3d4b-4e8f-9a1c-2b5d8e7f6a10", "Allegro Kurýr DPD", False, ("89.00", "129.00")
        ),
    ),
    pickup_descriptions=("U supermarketu", "Čerpací stanice"),
    messages=("Prosím zabalit jako dárek.",),
)

_SK = Locale(
    marketplace="allegro-sk",
    country="SK",
    currency="EUR",
    language="sk-SK",
    phone_prefix="+421",
    phone_first_digits="9",
    postcode_format="### ##",
    female=("Zuzana", "Mária", "Jana", "Lucia"),
    male=("Peter", "Martin", "Michal", "Lukáš"),
    surnames=(("Horváth", "Horváthová"), ("Kováč", "Kováčová"), ("Varga", "Vargová")),
    cities=(
        City("Bratislava", "8", "BRA"),
        City("Košice", "04", "KOS"),
        City("Žilina", "010", "ZIL"),
    ),
    streets=("Hlavná", "Obchodná", "Štúrova", "Hviezdoslavova"),
    companies=("Horváth s.r.o.", "Tatra Obchod a.s."),
    company_ids=("SK_ICO", "SK_IC_DPH"),
    price_factor=Decimal("0.23"),
    vat_rate="23.00",
    methods=(
        DeliveryMethod(
            "0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c60",
            "Allegro Z-BOX Packeta SK",
            True,
            ("1.99", "2.99"),
            "Z-BOX",
        ),
        DeliveryMethod(
            "3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7", "Allegro Kuriér DPD", False, ("3.49", "4.99")
        ),
    ),
    pickup_descriptions=("Pri supermarkete", "Čerpacia stanica"),
    messages=("Prosím zabaliť ako darček.",),
)

_HU = Locale(
    marketplace="allegro-hu",
    country="HU",
    currency="HUF",
    language="hu-HU",
    phone_prefix="+36",
    phone_first_digits="237",
    postcode_format="####",
    female=("Anna", "Eszter", "Zsófia", "Katalin"),
    male=("László", "Gábor", "Péter", "Bence"),
    surnames=(("Nagy", "Nagy"), ("Kovács", "Kovács"), ("Tóth", "Tóth"), ("Szabó", "Szabó")),
    cities=(
        City("Budapest", "1", "BUD"),
        City("Debrecen", "40", "DEB"),
        City("Szeged", "67", "SZE"),
        City("Győr", "90", "GYO"),
    ),
    streets=("Kossuth Lajos utca", "Petőfi Sándor utca", "Rákóczi út", "Fő utca"),
    companies=("Nagy és Társa Kft.", "Duna Kereskedelmi Zrt."),
    company_ids=("HU_ADOSZAM",),
    price_factor=Decimal("90"),
    vat_rate="27.00",
    methods=(
        DeliveryMethod(
            "9d8c7b6a-5f4e-4d3c-b2a1-0f9e8d7c6b50",
            "Allegro Foxpost csomagautomata",
            True,
            ("790", "990"),
            "Foxpost",
        ),
        DeliveryMethod(
            "6b5a4f3e-2d1c-4b0a-9f8e-7d6c5b4a3f20", "Allegro GLS futár", False, ("1290", "1890")
        ),
    ),
    pickup_descriptions=("Bevásárlóközpont bejáratánál", "Benzinkút"),
    messages=("Kérem, ajándékba csomagolják.",),
)

LOCALES: dict[str, Locale] = {loc.marketplace: loc for loc in (_PL, _CZ, _SK, _HU)}
