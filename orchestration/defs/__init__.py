"""Dagster definitions, one package per domain (dagster-open-platform layout).

`landing` owns the raw_events crawl, `warehouse` the clean events, the eight summary
tables, their checks and the daily schedule.  `orchestration.definitions` merges them.
"""
