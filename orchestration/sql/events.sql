-- events: the clean events of days {{start}}..{{end}} (DESIGN 4).
-- Reads landing folders {{start}}..{{folder_end}} (events of day D may land in folder D+1),
-- drops malformed rows, keeps event_time in the range, keeps one row per (day, event_id)
-- and sessionises per (site, visitor_id, day) in (event_time, event_id) order: a gap of
-- more than 30 minutes (1,800,000 ms) starts a new session.
-- Sessionising runs on a narrow projection and is joined back: sorting whole events is
-- what costs time.  `deduplicated` is referenced twice; DuckDB materialises it, Athena
-- may scan the day's landing objects twice (cents per terabyte, so accepted).
WITH in_range AS (
    SELECT
        {{event_columns}},
        CAST(from_iso8601_timestamp(event_time) AS timestamp(3)) AS event_ts,
        substr(event_time, 1, 10) AS day
    FROM raw_events
    WHERE dt BETWEEN '{{start}}' AND '{{folder_end}}'
      AND {{valid_event}}
      AND substr(event_time, 1, 10) BETWEEN '{{start}}' AND '{{end}}'
      AND try(from_iso8601_timestamp(event_time)) IS NOT NULL
),
counted AS (
    SELECT *, count(*) OVER (PARTITION BY day, event_id) AS copies
    FROM in_range
),
deduplicated AS (
    SELECT {{event_columns}}, event_ts, day
    FROM counted
    WHERE copies = 1
    UNION ALL
    SELECT {{event_columns}}, event_ts, day
    FROM (
        SELECT
            *,
            row_number() OVER (
                PARTITION BY day, event_id ORDER BY event_ts, {{event_columns}}
            ) AS copy_number
        FROM counted
        WHERE copies > 1
    )
    WHERE copy_number = 1
),
gaps AS (
    SELECT
        day, site, visitor_id, event_id, event_ts, event_type,
        lag(event_ts) OVER (
            PARTITION BY site, visitor_id, day ORDER BY event_ts, event_id
        ) AS previous_ts
    FROM deduplicated
),
starts AS (
    SELECT
        *,
        (previous_ts IS NULL OR date_diff('millisecond', previous_ts, event_ts) > 1800000)
            AS is_session_start
    FROM gaps
),
numbered AS (
    SELECT
        *,
        sum(CASE WHEN is_session_start THEN 1 ELSE 0 END) OVER (
            PARTITION BY site, visitor_id, day ORDER BY event_ts, event_id
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS session_number
    FROM starts
),
sessionised AS (
    SELECT
        day,
        event_id,
        visitor_id || '-' || replace(day, '-', '') || '-' || CAST(session_number AS varchar)
            AS session_id,
        is_session_start,
        event_type = 'pageview' AND row_number() OVER (
            PARTITION BY site, visitor_id, day, session_number, event_type
            ORDER BY event_ts, event_id
        ) = 1 AS is_entry,
        event_type = 'pageview' AND row_number() OVER (
            PARTITION BY site, visitor_id, day, session_number, event_type
            ORDER BY event_ts DESC, event_id DESC
        ) = 1 AS is_exit
    FROM numbered
)
SELECT
    {{event_columns}},
    event_ts,
    session_id,
    is_session_start,
    is_entry,
    is_exit,
    day AS dt
FROM deduplicated
JOIN sessionised USING (day, event_id)
ORDER BY dt, site, visitor_id, event_ts, event_id
