-- site_hourly: per site, UTC hour of event_time (0-23) and day, humans only.
SELECT
    site,
    hour(event_ts) AS hour,
    count_if(event_type = 'pageview') AS pageviews,
    count(DISTINCT visitor_id) AS visitors,
    dt
FROM events
WHERE dt BETWEEN '{{start}}' AND '{{end}}' AND NOT is_bot
GROUP BY dt, site, hour(event_ts)
ORDER BY dt, site, hour
