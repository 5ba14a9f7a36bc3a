-- events: the clean events of days {{start}}..{{end}} (DESIGN 4).
-- Reads landing folders {{start}}..{{folder_end}} (events of day D may land in folder D+1),
-- drops malformed rows, keeps event_time in the range, keeps one row per (day, event_id)
-- and sessionises per (site, visitor_id, day) in (event_time, event_id) order: a gap of
-- more than 30 minutes (1,800,000 ms) starts a new session.
--
-- Sessions are found on a narrow projection (`candidates`) and joined back to the whole
-- rows at the end: sorting whole events is what costs time and memory, so the join
-- carries only the session number and three flags (session_id is built after the join).
-- Every window shares one order, (visitor_id, site, day) by (event_time, event_id), and
-- every sort leads with visitor_id: a sort that starts with few-valued strings (day,
-- site) compares whole strings on almost every step and takes twice as long.  Entry and
-- exit pages come from running page-view counts: a page view is its session's entry
-- when no page view of the session precedes it, its exit when none follows before the
-- next session.  Copies of an event_id are rare; the copy kept is the first in column
-- order, so the choice never depends on file order.  raw_events is read three times
-- (narrow, repeated ids, whole rows); the local backend reads it from one staged copy,
-- Athena scans the day's objects again (a day is megabytes, so cents per thousand runs).
-- The final ORDER BY (unique per row: one event_id per day) makes re-runs write the
-- same rows in the same order.
WITH candidates AS (
    SELECT
        day, event_id, site, visitor_id, event_type, event_time,
        try(date_parse(event_time, '%Y-%m-%dT%H:%i:%s.%fZ')) AS event_ts
    FROM (
        SELECT *, substr(event_time, 1, 10) AS day
        FROM raw_events
        WHERE dt BETWEEN '{{start}}' AND '{{folder_end}}' AND {{valid_event}}
    )
    WHERE day BETWEEN '{{start}}' AND '{{end}}'
),
repeated AS (
    SELECT day, event_id
    FROM candidates
    WHERE event_ts IS NOT NULL
    GROUP BY day, event_id
    HAVING count(*) > 1
),
winners AS (
    SELECT {{event_columns}}, event_ts, day
    FROM (
        SELECT
            {{r_event_columns}},
            try(date_parse(r.event_time, '%Y-%m-%dT%H:%i:%s.%fZ')) AS event_ts,
            k.day,
            row_number() OVER (
                PARTITION BY k.day, r.event_id ORDER BY {{r_event_columns}}
            ) AS copy_number
        FROM raw_events AS r
        JOIN repeated AS k ON k.event_id = r.event_id AND k.day = substr(r.event_time, 1, 10)
        WHERE r.dt BETWEEN '{{start}}' AND '{{folder_end}}' AND {{r_valid_event}}
          AND try(date_parse(r.event_time, '%Y-%m-%dT%H:%i:%s.%fZ')) IS NOT NULL
    )
    WHERE copy_number = 1
),
event_keys AS (
    SELECT c.day, c.event_id, c.site, c.visitor_id, c.event_type, c.event_time, c.event_ts
    FROM candidates AS c
    LEFT JOIN repeated AS k ON k.day = c.day AND k.event_id = c.event_id
    WHERE k.event_id IS NULL AND c.event_ts IS NOT NULL
    UNION ALL
    SELECT day, event_id, site, visitor_id, event_type, event_time, event_ts
    FROM winners
),
gaps AS (
    SELECT
        *,
        lag(event_ts) OVER (
            PARTITION BY visitor_id, site, day ORDER BY event_ts, event_id) AS previous_ts,
        coalesce(sum(CASE WHEN event_type = 'pageview' THEN 1 ELSE 0 END) OVER (
            PARTITION BY visitor_id, site, day ORDER BY event_ts, event_id
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS pages_before
    FROM event_keys
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
            PARTITION BY visitor_id, site, day ORDER BY event_ts, event_id
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS session_number,
        max(CASE WHEN is_session_start THEN pages_before END) OVER (
            PARTITION BY visitor_id, site, day ORDER BY event_ts, event_id
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS pages_before_session,
        min(CASE WHEN is_session_start THEN pages_before END) OVER (
            PARTITION BY visitor_id, site, day ORDER BY event_ts, event_id
            ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS pages_before_next_session,
        sum(CASE WHEN event_type = 'pageview' THEN 1 ELSE 0 END) OVER (
            PARTITION BY visitor_id, site, day) AS pages_in_day
    FROM starts
),
sessionised AS (
    SELECT
        day,
        event_id,
        session_number,
        is_session_start,
        event_type = 'pageview' AND pages_before = pages_before_session AS is_entry,
        event_type = 'pageview'
            AND pages_before + 1 = coalesce(pages_before_next_session, pages_in_day) AS is_exit
    FROM numbered
),
singles AS (
    SELECT
        {{r_event_columns}},
        try(date_parse(r.event_time, '%Y-%m-%dT%H:%i:%s.%fZ')) AS event_ts,
        substr(r.event_time, 1, 10) AS day
    FROM raw_events AS r
    LEFT JOIN repeated AS k ON k.event_id = r.event_id AND k.day = substr(r.event_time, 1, 10)
    WHERE r.dt BETWEEN '{{start}}' AND '{{folder_end}}' AND {{r_valid_event}}
      AND substr(r.event_time, 1, 10) BETWEEN '{{start}}' AND '{{end}}'
      AND k.event_id IS NULL
),
clean AS (
    SELECT * FROM singles WHERE event_ts IS NOT NULL
    UNION ALL
    SELECT * FROM winners
)
SELECT
    {{event_columns}},
    event_ts,
    visitor_id || '-' || replace(day, '-', '') || '-' || CAST(session_number AS varchar)
        AS session_id,
    is_session_start,
    is_entry,
    is_exit,
    day AS dt
FROM clean
JOIN sessionised USING (day, event_id)
ORDER BY visitor_id, site, dt, event_ts, event_id
