"""Domain errors: raised by pure code when an order cannot be understood."""


class DomainError(Exception):
    """Base of every domain error."""


class InvalidValue(DomainError):
    """A value object was built from data that breaks its invariants."""


class UnmappableOrder(DomainError):
    """The checkout form holds values the status mapping does not know.

    This is a property of the data, not an outage: retrying later will not help unless the
    order changes, so the caller dead-letters it after a few attempts.
    """
