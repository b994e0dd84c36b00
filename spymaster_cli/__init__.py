"""The one CLI, `spymaster` (Typer): the only package that reaches both halves (assets and live)."""
