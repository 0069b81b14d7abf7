"""Kafka adapter: the wire contract (messages), the aiokafka publisher and topic setup (the
embedded broker for demos and tests is `sandbox.kafka_broker`)."""

from adapters.kafka.admin import TopicSetupError, ensure_topics
from adapters.kafka.aiokafka_event_publisher import AiokafkaEventPublisher, PublisherNotStarted
from adapters.kafka.config import KafkaConfig
from adapters.kafka.messages import KafkaRecord, encode_dead_letter, encode_event

__all__ = [
    "AiokafkaEventPublisher",
    "KafkaConfig",
    "KafkaRecord",
    "PublisherNotStarted",
    "TopicSetupError",
    "encode_dead_letter",
    "encode_event",
    "ensure_topics",
]
