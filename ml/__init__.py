"""Models over Gold: XGBoost heads, walk-forward evaluation, MLflow tracking."""
