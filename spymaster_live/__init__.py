"""Live service (NATS JetStream, replay, streaming core, gateway). Hosts the `spymaster` CLI."""
