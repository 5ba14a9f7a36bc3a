-- source_daily: per site, source, utm_medium, utm_campaign and day, humans only.
-- A session's source, medium and campaign come from its first event (DESIGN 4):
-- lower-case utm_source if present, else referrer_host, else '(direct)'.
WITH human AS (
    SELECT dt, site, visitor_id, session_id, event_type, is_session_start,
           utm_source, utm_medium, utm_campaign, referrer_host
    FROM events
    WHERE dt BETWEEN '{{start}}' AND '{{end}}' AND NOT is_bot
),
session_origin AS (
    SELECT
        dt,
        site,
        session_id,
        visitor_id,
        coalesce(lower(nullif(trim(utm_source), '')), referrer_host, '(direct)') AS source,
        utm_medium,
        utm_campaign
    FROM human
    WHERE is_session_start
),
session_views AS (
    SELECT
        dt,
        site,
        session_id,
        count_if(event_type = 'pageview') AS pageviews,
        count_if(event_type = 'custom') AS custom_events
    FROM human
    GROUP BY dt, site, session_id
)
SELECT
    o.site,
    o.source,
    o.utm_medium,
    o.utm_campaign,
    count(*) AS sessions,
    count(DISTINCT o.visitor_id) AS visitors,
    sum(v.pageviews) AS pageviews,
    count_if(v.pageviews = 1 AND v.custom_events = 0) AS bounces,
    o.dt
FROM session_origin AS o
JOIN session_views AS v ON v.dt = o.dt AND v.site = o.site AND v.session_id = o.session_id
GROUP BY o.dt, o.site, o.source, o.utm_medium, o.utm_campaign
ORDER BY o.dt, o.site, o.source, o.utm_medium, o.utm_campaign
