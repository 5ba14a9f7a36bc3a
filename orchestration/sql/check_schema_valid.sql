-- check_schema_valid: per landing folder {{start}}..{{end}} (a raw_events partition), its lines
-- and how many are not events: not JSON, not an object, or a required field missing, of the
-- wrong JSON type or invalid.  Bad lines are what `events` skips; no line content is read out.
SELECT
    dt AS day,
    count(*) AS lines,
    count_if({{invalid_reason}} IS NOT NULL) AS bad_lines
FROM raw_events
WHERE dt BETWEEN '{{start}}' AND '{{end}}'
GROUP BY dt
ORDER BY dt
