-- check_volume_anomaly: non-bot page views of each day {{start}}..{{end}} and the median of
-- the same count over the 7 days before it, taken over the days of those 7 that have clean
-- events (history_days).  Every day of the range has a row, also a day without events.
WITH daily AS (
    SELECT dt AS day, count_if(event_type = 'pageview' AND NOT is_bot) AS pageviews
    FROM events
    WHERE dt BETWEEN date_format(date_add('day', -7, date '{{start}}'), '%Y-%m-%d') AND '{{end}}'
    GROUP BY dt
),
days AS (
    SELECT date_format(d, '%Y-%m-%d') AS day
    FROM UNNEST(sequence(date '{{start}}', date '{{end}}', INTERVAL '1' DAY)) AS t (d)
),
history AS (
    SELECT
        s.day,
        h.day AS history_day,
        h.pageviews,
        row_number() OVER (PARTITION BY s.day ORDER BY h.pageviews, h.day) AS position,
        count(*) OVER (PARTITION BY s.day) AS history_days
    FROM days AS s
    JOIN daily AS h
      ON date(h.day) BETWEEN date_add('day', -7, date(s.day)) AND date_add('day', -1, date(s.day))
),
medians AS (
    SELECT
        day,
        max(history_days) AS history_days,
        avg(CASE WHEN position BETWEEN floor((history_days + 1) / 2.0)
                                    AND ceil((history_days + 1) / 2.0)
                 THEN CAST(pageviews AS double) END) AS median_pageviews,
        array_join(array_agg(history_day || '=' || CAST(pageviews AS varchar)
                             ORDER BY history_day), ', ') AS history
    FROM history
    GROUP BY day
)
SELECT
    s.day,
    coalesce(d.pageviews, 0) AS pageviews,
    coalesce(m.history_days, 0) AS history_days,
    m.median_pageviews,
    m.history
FROM days AS s
LEFT JOIN daily AS d ON d.day = s.day
LEFT JOIN medians AS m ON m.day = s.day
ORDER BY s.day
