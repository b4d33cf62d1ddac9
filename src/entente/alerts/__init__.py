"""Alerts: findings of the pipeline aggregated per constituency, classification and day,
with a lifecycle (new, notified, acknowledged, remediated, closed)."""
