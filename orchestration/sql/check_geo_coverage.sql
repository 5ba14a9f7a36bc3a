-- check_geo_coverage: per day {{start}}..{{end}}, clean events and how many have no country,
-- and which ingestion doors those came through, most first (a door whose CloudFront requests
-- lack CloudFront-Viewer-Country is the usual cause).
WITH counted AS (
    SELECT dt AS day, ingest, count(*) AS events, count_if(country IS NULL) AS no_country
    FROM events
    WHERE dt BETWEEN '{{start}}' AND '{{end}}'
    GROUP BY dt, ingest
)
SELECT
    day,
    sum(events) AS events,
    sum(no_country) AS events_without_country,
    array_join(array_agg(CASE WHEN no_country > 0
                              THEN ingest || '=' || CAST(no_country AS varchar) END
                         ORDER BY no_country DESC, ingest), ', ') AS doors_without_country
FROM counted
GROUP BY day
ORDER BY day
