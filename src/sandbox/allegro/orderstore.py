"""Checkout forms with the indexes `GET /order/checkout-forms` needs at 100 000 orders.

Each sort key (latest boughtAt, updatedAt) has one index over all orders and one per
order status, because "status=READY_FOR_PROCESSING, sliced by boughtAt" is the backfill's
query: it is answered from ranks alone. Other filters walk the narrowest index range, or
sort the matching ids when an equality filter is more selective than the range.

`payment.id` and `surcharges.id` name one order each, so they are looked up in a dict;
`fulfillment.provider.id` and `fulfillment.shipmentSummary.lineItemsSent` have two or three
values, so an index would hold every order again for nothing: they are checked on the
candidates instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sandbox.allegro.forms import Json
from sandbox.allegro.sortedindex import Key, SortedIndex

_MAX = 2**62
_ALL = "*"


@dataclass(frozen=True, slots=True)
class OrderKeys:
    """Everything the list endpoint filters or sorts on, kept beside the form."""

    bought_us: int  # latest lineItems[].boughtAt
    updated_us: int
    status: str
    fulfillment: str
    marketplace: str
    login: str
    provider: str = "SELLER"  # fulfillment.provider.id
    sent: str = "NONE"  # fulfillment.shipmentSummary.lineItemsSent
    payment_id: str | None = None
    surcharge_ids: tuple[str, ...] = ()
    method_id: str | None = None  # delivery.method.id


@dataclass(frozen=True, slots=True)
class ListQuery:
    offset: int = 0
    limit: int = 100
    status: str | None = None
    fulfillment: str | None = None
    marketplace: str | None = None
    login: str | None = None
    provider: str | None = None
    sent: str | None = None
    payment_id: str | None = None
    surcharge_id: str | None = None
    method_id: str | None = None
    bought_gte: int | None = None
    bought_lte: int | None = None
    updated_gte: int | None = None
    updated_lte: int | None = None
    sort_by_updated: bool = False
    descending: bool = True

    @property
    def checks_keys(self) -> bool:
        """Filters answered by looking at each candidate's keys rather than an index."""
        return self.provider is not None or self.sent is not None

    @property
    def sort_range(self) -> tuple[int | None, int | None]:
        if self.sort_by_updated:
            return self.updated_gte, self.updated_lte
        return self.bought_gte, self.bought_lte

    @property
    def other_range(self) -> tuple[int | None, int | None]:
        if self.sort_by_updated:
            return self.bought_gte, self.bought_lte
        return self.updated_gte, self.updated_lte


class OrderStore:
    def __init__(self) -> None:
        self._forms: dict[str, Json] = {}
        self._keys: dict[str, OrderKeys] = {}
        self._bought: dict[str, SortedIndex] = {_ALL: SortedIndex()}
        self._updated: dict[str, SortedIndex] = {_ALL: SortedIndex()}
        self._by_fulfillment: dict[str, set[str]] = {}
        self._by_marketplace: dict[str, set[str]] = {}
        # Logins are nearly unique: a set per login would cost ~500 bytes an order.
        self._by_login: dict[str, list[str]] = {}
        self._by_method: dict[str, set[str]] = {}
        # Payment and surcharge ids are unique: each names one order.
        self._by_payment: dict[str, str] = {}
        self._by_surcharge: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._forms)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._forms

    def get(self, order_id: str) -> Json | None:
        return self._forms.get(order_id)

    def keys_of(self, order_id: str) -> OrderKeys:
        return self._keys[order_id]

    def ids(self) -> Iterable[str]:
        return self._forms.keys()

    def put(self, order_id: str, form: Json, keys: OrderKeys) -> None:
        """Insert or re-index; only the indexes whose key changed are touched."""
        old = self._keys.get(order_id)
        self._forms[order_id] = form
        self._keys[order_id] = keys
        if old is None:
            self._index(order_id, keys)
            return
        if (old.bought_us, old.updated_us, old.status) != (
            keys.bought_us,
            keys.updated_us,
            keys.status,
        ):
            self._unindex_sorted(order_id, old)
            self._index_sorted(order_id, keys)
        if old.fulfillment != keys.fulfillment:
            self._by_fulfillment[old.fulfillment].discard(order_id)
            self._by_fulfillment.setdefault(keys.fulfillment, set()).add(order_id)
        if (old.payment_id, old.surcharge_ids, old.method_id) != (
            keys.payment_id,
            keys.surcharge_ids,
            keys.method_id,
        ):
            self._unindex_payments(order_id, old)
            self._index_payments(order_id, keys)

    def delete(self, order_id: str) -> None:
        keys = self._keys.pop(order_id)
        del self._forms[order_id]
        self._unindex_sorted(order_id, keys)
        self._unindex_payments(order_id, keys)
        self._by_fulfillment[keys.fulfillment].discard(order_id)
        self._by_marketplace[keys.marketplace].discard(order_id)
        owners = self._by_login[keys.login]
        owners.remove(order_id)
        if not owners:
            del self._by_login[keys.login]

    def _index(self, order_id: str, keys: OrderKeys) -> None:
        self._index_sorted(order_id, keys)
        self._index_payments(order_id, keys)
        self._by_fulfillment.setdefault(keys.fulfillment, set()).add(order_id)
        self._by_marketplace.setdefault(keys.marketplace, set()).add(order_id)
        self._by_login.setdefault(keys.login, []).append(order_id)

    def _index_payments(self, order_id: str, keys: OrderKeys) -> None:
        """Payment, surcharge and delivery-method ids (the method rarely changes, but may)."""
        if keys.payment_id is not None:
            self._by_payment[keys.payment_id] = order_id
        for surcharge_id in keys.surcharge_ids:
            self._by_surcharge[surcharge_id] = order_id
        if keys.method_id is not None:
            self._by_method.setdefault(keys.method_id, set()).add(order_id)

    def _unindex_payments(self, order_id: str, keys: OrderKeys) -> None:
        if keys.payment_id is not None and self._by_payment.get(keys.payment_id) == order_id:
            del self._by_payment[keys.payment_id]
        for surcharge_id in keys.surcharge_ids:
            if self._by_surcharge.get(surcharge_id) == order_id:
                del self._by_surcharge[surcharge_id]
        if keys.method_id is not None:
            self._by_method[keys.method_id].discard(order_id)

    def _index_sorted(self, order_id: str, keys: OrderKeys) -> None:
        for group in (_ALL, keys.status):
            self._bought.setdefault(group, SortedIndex()).add((keys.bought_us, order_id))
            self._updated.setdefault(group, SortedIndex()).add((keys.updated_us, order_id))

    def _unindex_sorted(self, order_id: str, keys: OrderKeys) -> None:
        for group in (_ALL, keys.status):
            self._bought[group].remove((keys.bought_us, order_id))
            self._updated[group].remove((keys.updated_us, order_id))

    def query(self, q: ListQuery) -> tuple[list[Json], int]:
        """One page of forms and the total number of matches."""
        indexes = self._updated if q.sort_by_updated else self._bought
        index = indexes.get(q.status or _ALL) or SortedIndex()
        lo, hi = q.sort_range
        start = index.rank((lo if lo is not None else -_MAX, ""))
        stop = index.rank((hi if hi is not None else _MAX, "\uffff"), right=True)
        if stop <= start:
            return [], 0
        candidates = self._candidates(q)
        if candidates is None and q.other_range == (None, None) and not q.checks_keys:
            return self._page_by_rank(index, start, stop, q), stop - start
        if candidates is not None and len(candidates) < stop - start:
            matches = self._sorted_candidates(candidates, q)
        else:
            matches = [
                key
                for key in index.iter_range(start, stop, reverse=q.descending)
                if self._matches(key[1], candidates, q)
            ]
        page = matches[q.offset : q.offset + q.limit]
        return [self._forms[oid] for _, oid in page], len(matches)

    def _page_by_rank(self, index: SortedIndex, start: int, stop: int, q: ListQuery) -> list[Json]:
        keys: Iterator[Key]
        if q.descending:
            top = stop - q.offset
            keys = index.iter_range(max(start, top - q.limit), top, reverse=True)
        else:
            bottom = start + q.offset
            keys = index.iter_range(bottom, min(stop, bottom + q.limit))
        return [self._forms[oid] for _, oid in keys]

    def _candidates(self, q: ListQuery) -> set[str] | None:
        """Ids allowed by the equality filters other than status (None: no such filter)."""
        wanted: list[set[str]] = []
        if q.fulfillment is not None:
            wanted.append(self._by_fulfillment.get(q.fulfillment, set()))
        if q.marketplace is not None:
            wanted.append(self._by_marketplace.get(q.marketplace, set()))
        if q.login is not None:
            wanted.append(set(self._by_login.get(q.login, ())))
        if q.method_id is not None:
            wanted.append(self._by_method.get(q.method_id, set()))
        for ids, wanted_id in (
            (self._by_payment, q.payment_id),
            (self._by_surcharge, q.surcharge_id),
        ):
            if wanted_id is not None:
                owner = ids.get(wanted_id)
                wanted.append({owner} if owner is not None else set())
        if not wanted:
            return None
        wanted.sort(key=len)
        return wanted[0].intersection(*wanted[1:])

    def _matches(self, order_id: str, candidates: set[str] | None, q: ListQuery) -> bool:
        if candidates is not None and order_id not in candidates:
            return False
        keys = self._keys[order_id]
        other = keys.bought_us if q.sort_by_updated else keys.updated_us
        return _within(other, *q.other_range) and _keys_match(keys, q)

    def _sorted_candidates(self, candidates: set[str], q: ListQuery) -> list[Key]:
        result = []
        for oid in candidates:
            keys = self._keys[oid]
            if q.status is not None and keys.status != q.status:
                continue
            if not _within(keys.bought_us, q.bought_gte, q.bought_lte):
                continue
            if not _within(keys.updated_us, q.updated_gte, q.updated_lte):
                continue
            if not _keys_match(keys, q):
                continue
            result.append((keys.updated_us if q.sort_by_updated else keys.bought_us, oid))
        result.sort(reverse=q.descending)
        return result


def _within(value: int, low: int | None, high: int | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def _keys_match(keys: OrderKeys, q: ListQuery) -> bool:
    return (q.provider is None or keys.provider == q.provider) and (
        q.sent is None or keys.sent == q.sent
    )
