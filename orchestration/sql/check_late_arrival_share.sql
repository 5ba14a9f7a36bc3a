-- check_late_arrival_share: per event day {{start}}..{{end}}, valid raw events and how many
-- landed in a later folder than their day (Firehose names folders by arrival: events of D
-- that arrive after midnight sit in D+1; DESIGN 4 reads folders D and D+1).
SELECT
    substr(event_time, 1, 10) AS day,
    count(*) AS events,
    count_if(dt > substr(event_time, 1, 10)) AS late_events
FROM raw_events
WHERE dt BETWEEN '{{start}}' AND '{{folder_end}}' AND {{valid_event}}
  AND try(date_parse(event_time, '%Y-%m-%dT%H:%i:%s.%fZ')) IS NOT NULL
  AND substr(event_time, 1, 10) BETWEEN '{{start}}' AND '{{end}}'
GROUP BY substr(event_time, 1, 10)
ORDER BY day
