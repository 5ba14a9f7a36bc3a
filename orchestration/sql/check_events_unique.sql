-- check_events_unique: clean events of days {{start}}..{{end}} that share (dt, event_id)
-- with another row (DESIGN 4: duplicates count once); must be 0.
SELECT count(*) - count(DISTINCT dt || '/' || event_id) AS duplicate_rows
FROM events
WHERE dt BETWEEN '{{start}}' AND '{{end}}'
