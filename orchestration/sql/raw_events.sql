-- raw_events: the landing zone's lines (the `landing_events` table) as event columns, typed
-- strictly in SQL (design.md, "Backends").  The Athena and Trino backends keep this as the
-- view `raw_events`; the local backend reads the same rows with pyarrow's strict reader.
-- A line that is not a JSON object reads as NULL columns; so does any field whose JSON
-- type is not the column's (a string where a number belongs, a number that does not fit
-- an int, an object where a string belongs): never coerced, never an error that fails
-- the query (a JSON SerDe would do one or the other), so the checks count such lines as
-- malformed and `events` drops them.  Blank lines are not lines.  `object_path` is the
-- object each line came from (the hidden "$path"), `dt` its landing folder.
WITH parsed AS (
    SELECT
        try_cast(try(json_parse(line)) AS map(varchar, json)) AS doc,
        dt,
        "$path" AS object_path
    FROM landing_events
    WHERE line IS NULL OR NOT regexp_like(line, '^\s*$')
)
SELECT {{typed_event_columns}}, dt, object_path
FROM parsed
