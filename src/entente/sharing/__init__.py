"""Threat sharing: sharing groups now; events, indicators and sightings to come."""
