-- bot_daily: per site, browser (the crawler's name) and day: every event of a bot,
-- deduplicated like all clean events; the only table that counts bots.
SELECT
    site,
    browser,
    count(*) AS hits,
    dt
FROM events
WHERE dt BETWEEN '{{start}}' AND '{{end}}' AND is_bot
GROUP BY dt, site, browser
ORDER BY dt, site, browser
