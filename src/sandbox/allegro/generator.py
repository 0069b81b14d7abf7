"""Seeded, realistic checkout forms in Allegro's JSON, with explicit nulls like the real API."""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TypedDict

from sandbox.allegro.catalog import Catalog
from sandbox.allegro.forms import EMPTY, Json, fulfillment, marketplace_ref, money, shared
from sandbox.allegro.ids import IdFactory
from sandbox.allegro.locales import LOCALES, City, DeliveryMethod, Locale
from sandbox.allegro.timefmt import iso_millis, iso_seconds

_DAY_US = 86_400 * 1_000_000
_HOUR_US = 3_600 * 1_000_000
_LOGIN_WORDS = ("shop", "dom", "ogrod", "kot", "moto", "art", "fan", "tech")
_DISCOUNTS = ("UNIT_PERCENTAGE_DISCOUNT", "BUNDLE", "COUPON", "CAMPAIGN")
POINTS_PER_CITY = 12
_NOT_REQUIRED_INVOICE: Json = {"required": False, "address": None, "dueDate": None}


class LineItemSpec(TypedDict, total=False):
    """Explicit line item for `place_order(line_items=[...])`; omitted keys are generated."""

    offer_id: str
    name: str
    sku: str | None
    quantity: int
    price: str
    original_price: str


@dataclass(frozen=True, slots=True)
class Person:
    first: str
    last: str
    street: str
    city: City
    postcode: str
    phone: str


def ascii_fold(text: str) -> str:
    text = text.replace("ł", "l").replace("Ł", "L")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


class OrderGenerator:
    def __init__(self, rng: random.Random, ids: IdFactory) -> None:
        self._rng = rng
        self._ids = ids
        self.catalog = Catalog(rng, ids)

    @staticmethod
    def locale(marketplace: str) -> Locale:
        try:
            return LOCALES[marketplace]
        except KeyError:
            raise ValueError(f"unknown marketplace {marketplace!r}") from None

    def person(self, loc: Locale) -> Person:
        rng = self._rng
        female = rng.random() < 0.5
        first = rng.choice(loc.female if female else loc.male)
        last = rng.choice(loc.surnames)[1 if female else 0]
        number = f"{rng.randrange(1, 120)}"
        if rng.random() < 0.4:
            number += f"/{rng.randrange(1, 60)}"
        city = rng.choice(loc.cities)
        phone = loc.phone_prefix + rng.choice(loc.phone_first_digits) + self._ids.digits(8)
        return Person(
            first,
            last,
            f"{rng.choice(loc.streets)} {number}",
            city,
            self.postcode(loc, city),
            phone,
        )

    def postcode(self, loc: Locale, city: City) -> str:
        return self.format_postcode(loc, city, self._ids.digits(6))

    @staticmethod
    def format_postcode(loc: Locale, city: City, random_digits: str) -> str:
        digits = city.postcode_prefix + random_digits
        return loc.postcode_format.replace("#", "{}").format(*digits[: len(loc.postcode_format)])

    def login(self, person: Person) -> str:
        first = ascii_fold(person.first).lower()
        last = ascii_fold(person.last).lower()
        pattern = self._rng.randrange(3)
        if pattern == 0:
            return f"{first}_{self._rng.choice(_LOGIN_WORDS)}{self._rng.randrange(1, 99)}"
        if pattern == 1:
            return f"{first[0]}{last}{self._rng.randrange(1970, 2006)}"
        return f"{last}.{first}"

    def buyer(self, loc: Locale, person: Person, guest: bool, company: str | None) -> Json:
        buyer_id = self._ids.user_id()
        return {
            "id": buyer_id,
            "email": self._ids.masked_email(),
            # Allegro does not document a guest's login; `Client:<id>` is an illustration
            # (docs/allegro-api.md, Checkout form).
            "login": f"Client:{buyer_id}" if guest else self.login(person),
            "firstName": person.first,
            "lastName": person.last,
            "companyName": company,
            "guest": guest,
            "personalIdentity": None,
            "phoneNumber": person.phone,
            "preferences": None
            if guest
            else shared(("prefs", loc.language), lambda: {"language": loc.language}),
            "address": {
                "street": person.street,
                "city": person.city.name,
                "postCode": person.postcode,
                "countryCode": loc.country,
            },
        }

    def delivery(self, loc: Locale, person: Person, pickup: bool, now_us: int) -> Json:
        rng = self._rng
        methods = [m for m in loc.methods if m.pickup == pickup] or list(loc.methods)
        method = rng.choice(methods)
        low, high = (Decimal(v) for v in method.cost)
        smart = loc.marketplace == "allegro-pl" and rng.random() < 0.3
        cost = Decimal(0) if smart else low + (high - low) * Decimal(rng.randrange(0, 5)) / 4
        point = None
        if method.pickup:
            point = self.pickup_point(loc, method, person.city, rng.randrange(POINTS_PER_CITY))
        return {
            "address": {
                "firstName": person.first,
                "lastName": person.last,
                "street": person.street,
                "city": person.city.name,
                "zipCode": person.postcode,
                "countryCode": loc.country,
                "companyName": None,
                "phoneNumber": person.phone,
                "modifiedAt": None,
            },
            "method": shared(("method", method.id), lambda: {"id": method.id, "name": method.name}),
            "pickupPoint": point,
            "cost": money(cost, loc.currency),
            "time": self.delivery_time(now_us - now_us % _HOUR_US),
            "smart": smart,
            "cancellation": None,
            "calculatedNumberOfPackages": 1,
        }

    @staticmethod
    def delivery_time(hour_us: int) -> Json:
        """Windows derived from the purchase hour; one shared object per hour."""

        def build() -> Json:
            day = hour_us - hour_us % _DAY_US
            return {
                "from": iso_seconds(day + 2 * _DAY_US + 7 * _HOUR_US),
                "to": iso_seconds(day + 3 * _DAY_US + 20 * _HOUR_US),
                "guaranteed": None,
                "dispatch": {
                    "from": iso_seconds(hour_us),
                    "to": iso_seconds(day + _DAY_US + 23 * _HOUR_US - 1_000_000),
                },
            }

        return shared(("time", hour_us), build)

    @staticmethod
    def pickup_point(loc: Locale, method: DeliveryMethod, city: City, index: int) -> Json:
        """A fixed pool of lockers per city; seeded by name so it never shifts the order RNG."""

        def build() -> Json:
            rng = random.Random(f"{method.id}:{city.name}:{index}")
            code = f"{city.point_code}{rng.randrange(10, 400)}{rng.choice('ABMN')}"
            postcode_digits = f"{rng.randrange(10**6):06d}"
            postcode = OrderGenerator.format_postcode(loc, city, postcode_digits)
            return {
                "id": code,
                "name": f"{method.point_label} {code}",
                "description": rng.choice(loc.pickup_descriptions),
                "address": {
                    "street": f"{rng.choice(loc.streets)} {rng.randrange(1, 90)}",
                    "zipCode": postcode,
                    "city": city.name,
                    "countryCode": loc.country,
                },
            }

        return shared(("point", method.id, city.name, index), build)

    def invoice(self, loc: Locale, person: Person, company: str | None) -> Json:
        if company is None:
            return _NOT_REQUIRED_INVOICE
        ids = [{"type": kind, "value": self.tax_id(kind)} for kind in loc.company_ids]
        return {
            "required": True,
            "address": {
                "street": person.street,
                "city": person.city.name,
                "zipCode": person.postcode,
                "countryCode": loc.country,
                "company": {
                    "name": company,
                    "ids": ids,
                    "vatPayerStatus": "ACTIVE",
                    "taxId": ids[-1]["value"],  # deprecated field, still sent
                },
                "naturalPerson": None,
            },
            "dueDate": None,
            "features": EMPTY,
        }

    def tax_id(self, kind: str) -> str:
        ids = self._ids
        if kind == "PL_NIP":
            return self.nip()
        if kind == "CZ_DIC":
            return "CZ" + ids.digits(8)
        if kind == "SK_IC_DPH":
            return "SK" + ids.digits(10)
        if kind == "HU_ADOSZAM":
            return f"{ids.digits(8)}-{self._rng.randrange(1, 6)}-{ids.digits(2)}"
        return ids.digits(8)

    def nip(self) -> str:
        """A Polish NIP with a valid check digit, so validating clients accept it."""
        weights = (6, 5, 7, 2, 3, 4, 5, 6, 7)
        while True:
            digits = [self._rng.randrange(1, 10)] + [self._rng.randrange(10) for _ in range(8)]
            check = sum(w * d for w, d in zip(weights, digits, strict=True)) % 11
            if check != 10:
                return "".join(map(str, digits)) + str(check)

    def line_items(
        self, loc: Locale, specs: int | Sequence[LineItemSpec] | None, bought_us: int
    ) -> list[Json]:
        if specs is None:
            specs = self._rng.choice((1, 1, 1, 2, 2, 3, 4))
        if isinstance(specs, int):
            if not 1 <= specs <= 50:
                raise ValueError("an order has 1..50 line items")
            specs = [LineItemSpec() for _ in range(specs)]
        if not specs:
            raise ValueError("an order needs at least one line item")
        bought_at = iso_millis(bought_us)  # one string shared by the whole cart
        return [self.line_item(loc, spec, bought_us, bought_at) for spec in specs]

    def line_item(self, loc: Locale, spec: LineItemSpec, bought_us: int, bought_at: str) -> Json:
        rng = self._rng
        offer = self.catalog.pick()
        sku = spec.get("sku", offer.sku)
        price = Decimal(spec.get("price") or self.catalog.local_price(offer.price_pln, loc))
        discounted = "price" not in spec and rng.random() < 0.3
        original = Decimal(spec.get("original_price") or price)
        discounts: tuple[Json, ...] = EMPTY
        if discounted:
            percent = Decimal(rng.randrange(5, 21)) / 100
            price = (original * (1 - percent)).quantize(Decimal("0.01"))
            kind = rng.choice(_DISCOUNTS)
            discounts = shared(("discounts", kind), lambda: ({"type": kind},))
        if price > original:
            raise ValueError("price must not exceed original_price")
        quantity = spec.get("quantity") or rng.choice((1, 1, 1, 2, 3))
        offer_id = spec.get("offer_id") or offer.id
        name = spec.get("name") or offer.name
        return {
            "id": self._ids.uuid1(bought_us),
            "offer": shared(
                ("offer", offer_id, name, sku),
                lambda: {
                    "id": offer_id,
                    "name": name,
                    "external": {"id": sku} if sku else None,
                    "productSet": None,
                },
            ),
            "quantity": quantity,
            "originalPrice": money(original, loc.currency),
            "price": money(price, loc.currency),
            "reconciliation": None,
            "selectedAdditionalServices": EMPTY,
            "vouchers": EMPTY,
            "tax": shared(
                ("tax", loc.vat_rate),
                lambda: {"rate": loc.vat_rate, "subject": "GOODS", "exemption": None},
            ),
            "boughtAt": bought_at,
            "discounts": discounts,
        }

    def checkout_form(
        self,
        order_id: str,
        marketplace: str,
        *,
        guest: bool | None,
        invoice: bool | None,
        pickup_point: bool | None,
        line_items: int | Sequence[LineItemSpec] | None,
        now_us: int,
        revision: str,
    ) -> Json:
        rng = self._rng
        loc = self.locale(marketplace)
        person = self.person(loc)
        if guest is None:
            guest = rng.random() < 0.15
        if invoice is None:
            invoice = rng.random() < 0.2
        if pickup_point is None:
            pickup_point = rng.random() < 0.6
        company = rng.choice(loc.companies) if invoice else None
        message = rng.choice(loc.messages) if rng.random() < 0.1 else None
        return {
            "id": order_id,
            "messageToSeller": message,
            "buyer": self.buyer(loc, person, guest, company),
            "payment": None,
            "status": "BOUGHT",
            "fulfillment": fulfillment("NEW"),
            "delivery": self.delivery(loc, person, pickup_point, now_us),
            "invoice": self.invoice(loc, person, company),
            "lineItems": self.line_items(loc, line_items, now_us),
            "surcharges": EMPTY,
            "note": None,
            "marketplace": marketplace_ref(marketplace),
            "summary": {"totalToPay": money(Decimal(0), loc.currency)},  # caller computes
            "updatedAt": iso_millis(now_us),
            "revision": revision,
        }
