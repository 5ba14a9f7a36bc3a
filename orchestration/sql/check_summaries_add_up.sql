-- check_summaries_add_up: per (dt, site) of days {{start}}..{{end}}, every breakdown sums to
-- site_daily's totals (page views; sessions and bounces by source; page views by hour,
-- page, geography and technology).  Returns the (dt, site) pairs that disagree; none is a pass.
WITH totals AS (
    SELECT dt, site, pageviews, sessions, bounces FROM site_daily
    WHERE dt BETWEEN '{{start}}' AND '{{end}}'
),
pages AS (
    SELECT dt, site, sum(pageviews) AS pageviews FROM page_daily
    WHERE dt BETWEEN '{{start}}' AND '{{end}}' GROUP BY dt, site
),
sources AS (
    SELECT dt, site, sum(pageviews) AS pageviews, sum(sessions) AS sessions,
           sum(bounces) AS bounces
    FROM source_daily
    WHERE dt BETWEEN '{{start}}' AND '{{end}}' GROUP BY dt, site
),
hours AS (
    SELECT dt, site, sum(pageviews) AS pageviews FROM site_hourly
    WHERE dt BETWEEN '{{start}}' AND '{{end}}' GROUP BY dt, site
),
geo AS (
    SELECT dt, site, sum(pageviews) AS pageviews FROM geo_daily
    WHERE dt BETWEEN '{{start}}' AND '{{end}}' GROUP BY dt, site
),
tech AS (
    SELECT dt, site, sum(pageviews) AS pageviews FROM tech_daily
    WHERE dt BETWEEN '{{start}}' AND '{{end}}' GROUP BY dt, site
)
SELECT
    t.dt,
    t.site,
    t.pageviews,
    p.pageviews AS page_daily_pageviews,
    s.pageviews AS source_daily_pageviews,
    h.pageviews AS site_hourly_pageviews,
    g.pageviews AS geo_daily_pageviews,
    c.pageviews AS tech_daily_pageviews,
    t.sessions,
    s.sessions AS source_daily_sessions
FROM totals AS t
LEFT JOIN pages AS p ON p.dt = t.dt AND p.site = t.site
LEFT JOIN sources AS s ON s.dt = t.dt AND s.site = t.site
LEFT JOIN hours AS h ON h.dt = t.dt AND h.site = t.site
LEFT JOIN geo AS g ON g.dt = t.dt AND g.site = t.site
LEFT JOIN tech AS c ON c.dt = t.dt AND c.site = t.site
WHERE coalesce(p.pageviews, 0) <> t.pageviews
   OR coalesce(s.pageviews, 0) <> t.pageviews
   OR coalesce(h.pageviews, 0) <> t.pageviews
   OR coalesce(g.pageviews, 0) <> t.pageviews
   OR coalesce(c.pageviews, 0) <> t.pageviews
   OR coalesce(s.sessions, 0) <> t.sessions
   OR coalesce(s.bounces, 0) <> t.bounces
ORDER BY t.dt, t.site
