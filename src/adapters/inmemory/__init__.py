"""In-memory adapters: fakes whose state tests inspect; they pass the ports' contract suites."""

from adapters.inmemory.inmemory_event_publisher import InMemoryEventPublisher

__all__ = ["InMemoryEventPublisher"]
