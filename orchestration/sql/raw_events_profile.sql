-- raw_events_profile: what landing folders {{start}}..{{folder_end}} hold: rows per folder and
-- event day; day is NULL for malformed rows (bad JSON, missing or invalid fields).
-- The events asset turns this into bad-line, late-arrival and duplicate counts.
WITH parsed AS (
    SELECT
        dt AS folder,
        CASE
            WHEN {{valid_event}} AND try(from_iso8601_timestamp(event_time)) IS NOT NULL
            THEN substr(event_time, 1, 10)
        END AS day
    FROM raw_events
    WHERE dt BETWEEN '{{start}}' AND '{{folder_end}}'
)
SELECT folder, day, count(*) AS rows
FROM parsed
GROUP BY folder, day
ORDER BY folder, day
