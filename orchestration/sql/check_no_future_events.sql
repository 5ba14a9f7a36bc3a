-- check_no_future_events: per landing folder {{start}}..{{end}}, events whose event_time is later
-- than their object could have arrived, plus 5 minutes.  Firehose names an object
-- `<stream>-<n>-YYYY-MM-DD-HH-MM-SS-<uuid>` after the arrival of its oldest record and buffers
-- at most 900 s, so every record arrived by that time + 900 s: an event more than
-- 900 + 300 = 1200 s after it is from the future (a clock or time zone bug upstream).
-- Objects without such a name have no known arrival; they are counted, never judged.
WITH timed AS (
    SELECT
        dt AS day,
        regexp_extract(object_path, '[^/]+$') AS object,
        try(date_parse(event_time, '%Y-%m-%dT%H:%i:%s.%fZ')) AS event_ts,
        try(date_parse(regexp_extract(
            object_path, '([0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9]{2}-[0-9]{2}-[0-9]{2})-[^/]*$', 1),
            '%Y-%m-%d-%H-%i-%s')) AS named_ts
    FROM raw_events
    WHERE dt BETWEEN '{{start}}' AND '{{end}}' AND {{valid_event}}
),
judged AS (
    SELECT
        day,
        object,
        named_ts IS NULL AS unknown_arrival,
        event_ts > named_ts + INTERVAL '1200' SECOND AS is_future,
        date_diff('second', named_ts, event_ts) AS seconds_after_name
    FROM timed
    WHERE event_ts IS NOT NULL
)
SELECT
    day,
    count(*) AS events,
    count_if(is_future) AS future_events,
    count_if(unknown_arrival) AS unknown_arrival_events,
    count(DISTINCT CASE WHEN is_future THEN object END) AS future_objects,
    min(CASE WHEN is_future THEN object END) AS example_object,
    max(seconds_after_name) AS max_seconds_after_name
FROM judged
GROUP BY day
ORDER BY day
