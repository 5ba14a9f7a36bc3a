-- check_schema_valid_examples: where the bad lines of landing folders {{start}}..{{end}} are and
-- what is wrong with them: (folder, object name, reason naming the field, lines), at most 10 per
-- folder, most lines first.  Only object names and fixed reason texts: never a line's content.
WITH bad AS (
    SELECT
        dt AS day,
        regexp_extract(object_path, '[^/]+$') AS object,
        {{invalid_reason}} AS reason
    FROM raw_events
    WHERE dt BETWEEN '{{start}}' AND '{{end}}'
),
grouped AS (
    SELECT day, object, reason, count(*) AS lines
    FROM bad
    WHERE reason IS NOT NULL
    GROUP BY day, object, reason
),
ranked AS (
    SELECT *, row_number() OVER (PARTITION BY day ORDER BY lines DESC, object, reason) AS rank
    FROM grouped
)
SELECT day, object, reason, lines
FROM ranked
WHERE rank <= 10
ORDER BY day, rank
