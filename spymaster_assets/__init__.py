"""Dagster code location of the data platform: Bronze, Silver, Gold and model assets."""
