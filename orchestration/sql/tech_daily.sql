-- tech_daily: per site, device type, browser, operating system and day, humans only.
SELECT
    site,
    device_type,
    browser,
    os,
    count(DISTINCT visitor_id) AS visitors,
    count_if(event_type = 'pageview') AS pageviews,
    dt
FROM events
WHERE dt BETWEEN '{{start}}' AND '{{end}}' AND NOT is_bot
GROUP BY dt, site, device_type, browser, os
ORDER BY dt, site, device_type, browser, os
