-- geo_daily: per site, country, region, city and day, humans only; visitors counts
-- everyone seen there that day (page views and custom events).
SELECT
    site,
    country,
    region,
    city,
    count(DISTINCT visitor_id) AS visitors,
    count_if(event_type = 'pageview') AS pageviews,
    dt
FROM events
WHERE dt BETWEEN '{{start}}' AND '{{end}}' AND NOT is_bot
GROUP BY dt, site, country, region, city
ORDER BY dt, site, country, region, city
