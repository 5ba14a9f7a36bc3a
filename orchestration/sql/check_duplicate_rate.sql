-- check_duplicate_rate: per event day {{start}}..{{end}} (read from landing folders
-- {{start}}..{{folder_end}}, as `events` reads them), valid raw events and how many are extra
-- copies of an event_id already seen that day (DESIGN 4: they count once).
WITH ids AS (
    SELECT substr(event_time, 1, 10) AS day, event_id, count(*) AS copies
    FROM raw_events
    WHERE dt BETWEEN '{{start}}' AND '{{folder_end}}' AND {{valid_event}}
      AND try(date_parse(event_time, '%Y-%m-%dT%H:%i:%s.%fZ')) IS NOT NULL
      AND substr(event_time, 1, 10) BETWEEN '{{start}}' AND '{{end}}'
    GROUP BY substr(event_time, 1, 10), event_id
)
SELECT
    day,
    sum(copies) AS events,
    count(*) AS distinct_event_ids,
    count_if(copies > 1) AS repeated_event_ids,
    max(copies) AS max_copies,
    min(CASE WHEN copies > 1 THEN event_id END) AS example_event_id
FROM ids
GROUP BY day
ORDER BY day
