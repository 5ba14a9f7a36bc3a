-- check_bot_share: per day {{start}}..{{end}}, clean events and how many come from bots
-- (crawlers, spiders, headless and monitoring clients: `is_bot`).
SELECT dt AS day, count(*) AS events, count_if(is_bot) AS bot_events
FROM events
WHERE dt BETWEEN '{{start}}' AND '{{end}}'
GROUP BY dt
ORDER BY dt
