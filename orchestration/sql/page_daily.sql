-- page_daily: per site, page path and day, over human page views (DESIGN 4 and 6):
-- entries and exits count sessions whose first and last page view was this path.
SELECT
    site,
    path,
    count(*) AS pageviews,
    count(DISTINCT visitor_id) AS visitors,
    count_if(is_entry) AS entries,
    count_if(is_exit) AS exits,
    dt
FROM events
WHERE dt BETWEEN '{{start}}' AND '{{end}}' AND NOT is_bot AND event_type = 'pageview'
GROUP BY dt, site, path
ORDER BY dt, site, path
