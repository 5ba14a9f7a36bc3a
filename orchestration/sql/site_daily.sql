-- site_daily: per site and day, humans only (DESIGN 4 and 6).
-- A bounce is a session with exactly one page view and no custom event; a visit's
-- duration is its last minus its first event_time, in seconds.
WITH human AS (
    SELECT dt, site, visitor_id, session_id, event_type, event_ts
    FROM events
    WHERE dt BETWEEN '{{start}}' AND '{{end}}' AND NOT is_bot
),
per_session AS (
    SELECT
        dt,
        site,
        session_id,
        count_if(event_type = 'pageview') AS pageviews,
        count_if(event_type = 'custom') AS custom_events,
        date_diff('millisecond', min(event_ts), max(event_ts)) AS duration_ms
    FROM human
    GROUP BY dt, site, session_id
),
per_site_sessions AS (
    SELECT
        dt,
        site,
        count(*) AS sessions,
        count_if(pageviews = 1 AND custom_events = 0) AS bounces,
        -- an integer sum is exact in any order, so parallel runs give the same double
        CAST(sum(duration_ms) AS double) / count(*) / 1000 AS avg_visit_duration_s
    FROM per_session
    GROUP BY dt, site
),
per_site_events AS (
    SELECT
        dt,
        site,
        count_if(event_type = 'pageview') AS pageviews,
        count(DISTINCT visitor_id) AS visitors
    FROM human
    GROUP BY dt, site
)
SELECT
    v.site,
    v.pageviews,
    v.visitors,
    s.sessions,
    s.bounces,
    CAST(s.bounces AS double) / s.sessions AS bounce_rate,
    s.avg_visit_duration_s,
    CAST(v.pageviews AS double) / s.sessions AS views_per_session,
    v.dt
FROM per_site_events AS v
JOIN per_site_sessions AS s ON s.dt = v.dt AND s.site = v.site
ORDER BY v.dt, v.site
