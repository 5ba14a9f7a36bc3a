-- events: the clean events of days {{start}}..{{end}} (DESIGN 4).
-- Reads landing folders {{start}}..{{folder_end}} (events of day D may land in folder D+1),
-- drops malformed rows, keeps event_time in the range, keeps one row per (day, event_id)
-- and sessionises per (site, visitor_id, day) in (event_time, event_id) order: a gap of
-- more than 30 minutes (1,800,000 ms) starts a new session.
--
-- Copies of an event_id are rare; the copy kept is the first in column order, so the
-- choice never depends on file order.  `shared_ids` (event_ids with more than one raw
-- row, valid or not: a superset of the ids with copies, found from one column) sends the
-- rows of those ids through the copy rule (`winners`) and every other row straight on;
-- nothing large is materialised (a materialised CTE stays in memory until the end).
-- Sessions are found on a narrow projection (`event_keys`) and joined back to the whole
-- rows at the end: sorting whole events is what costs time and memory, so the join
-- carries only the session number and three flags (session_id is built after it).
-- The whole rows of the other ids (`singles`) skip the validity test: such an id has one
-- raw row in the folders read, so it finds its (day, event_id) in `sessionised` exactly
-- when that row itself passed the test (the join is the filter).
-- The session windows share one order, (visitor_id, site, day) by (event_time, event_id),
-- and they and the final sort lead with visitor_id: a sort that starts with few-valued
-- strings (day, site) compares whole strings on almost every step, twice as slow.  Entry and
-- exit pages come from running page-view counts: a page view is its session's entry
-- when no page view of the session precedes it, its exit when none follows before the
-- next session.  raw_events is read four times (ids, narrow keys, the copies, whole
-- rows); the local backend reads one staged copy, Athena scans the day's objects again
-- (a day is megabytes, so cents per thousand runs).  The final ORDER BY is unique per row
-- (one event_id per day), so the row order is deterministic; a writer must keep it (a
-- plain DuckDB COPY does; a PARTITION_BY COPY of 1M rows interleaves sorted runs).
WITH shared_ids AS (
    SELECT event_id
    FROM raw_events
    WHERE dt BETWEEN '{{start}}' AND '{{folder_end}}'
    GROUP BY event_id
    HAVING count(*) > 1
),
winners AS (
    SELECT {{event_columns}}, event_ts, day
    FROM (
        SELECT
            {{r_event_columns}}, r.event_ts, r.day,
            row_number() OVER (
                PARTITION BY r.day, r.event_id ORDER BY {{r_event_columns}}
            ) AS copy_number
        FROM (
            SELECT
                *,
                try(date_parse(event_time, '%Y-%m-%dT%H:%i:%s.%fZ')) AS event_ts,
                substr(event_time, 1, 10) AS day
            FROM raw_events
            WHERE dt BETWEEN '{{start}}' AND '{{folder_end}}' AND {{valid_event}}
        ) AS r
        JOIN shared_ids AS k ON k.event_id = r.event_id
        WHERE r.day BETWEEN '{{start}}' AND '{{end}}' AND r.event_ts IS NOT NULL
    )
    WHERE copy_number = 1
),
event_keys AS (
    SELECT day, event_id, site, visitor_id, event_type, event_ts
    FROM (
        SELECT
            r.day, r.event_id, r.site, r.visitor_id, r.event_type,
            try(date_parse(r.event_time, '%Y-%m-%dT%H:%i:%s.%fZ')) AS event_ts
        FROM (
            SELECT event_id, site, visitor_id, event_type, event_time,
                substr(event_time, 1, 10) AS day
            FROM raw_events
            WHERE dt BETWEEN '{{start}}' AND '{{folder_end}}' AND {{valid_event}}
        ) AS r
        LEFT JOIN shared_ids AS k ON k.event_id = r.event_id
        WHERE k.event_id IS NULL AND r.day BETWEEN '{{start}}' AND '{{end}}'
    )
    WHERE event_ts IS NOT NULL
    UNION ALL
    SELECT day, event_id, site, visitor_id, event_type, event_ts
    FROM winners
),
gaps AS (
    SELECT
        *,
        lag(event_ts) OVER (
            PARTITION BY visitor_id, site, day ORDER BY event_ts, event_id) AS previous_ts,
        count(CASE WHEN event_type = 'pageview' THEN 1 END) OVER (
            PARTITION BY visitor_id, site, day ORDER BY event_ts, event_id
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS pages_before
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
        count(CASE WHEN is_session_start THEN 1 END) OVER (
            PARTITION BY visitor_id, site, day ORDER BY event_ts, event_id
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS session_number,
        max(CASE WHEN is_session_start THEN pages_before END) OVER (
            PARTITION BY visitor_id, site, day ORDER BY event_ts, event_id
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS pages_before_session,
        min(CASE WHEN is_session_start THEN pages_before END) OVER (
            PARTITION BY visitor_id, site, day ORDER BY event_ts, event_id
            ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS pages_before_next_session,
        count(CASE WHEN event_type = 'pageview' THEN 1 END) OVER (
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
    LEFT JOIN shared_ids AS k ON k.event_id = r.event_id
    WHERE r.dt BETWEEN '{{start}}' AND '{{folder_end}}' AND k.event_id IS NULL
),
clean AS (
    SELECT * FROM singles
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
