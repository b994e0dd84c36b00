"""Spymaster domain library: events, schemas, config, DBN normalisation, levels, touches, engines,
labels and the market simulator. Imports no Dagster, FastAPI or NATS."""

__version__ = "0.1.0"
