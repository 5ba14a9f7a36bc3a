-- event_daily: per site, custom event name and day, humans only.
SELECT
    site,
    event_name,
    count(*) AS events,
    count(DISTINCT visitor_id) AS visitors,
    dt
FROM events
WHERE dt BETWEEN '{{start}}' AND '{{end}}' AND NOT is_bot AND event_type = 'custom'
GROUP BY dt, site, event_name
ORDER BY dt, site, event_name
