"""Reporting assets: the traffic report built from the summary tables."""
