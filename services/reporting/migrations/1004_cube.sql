-- The figures of the cases registered on each day, per township (or the county itself
-- for county-level matters) and category: kept by the consumer as each case's facts
-- change, so statistics over a year of a large county read thousands of rows, not
-- millions. `f` holds the figures in the order of the statistics API (the mean's
-- place holds the sum of satisfaction scores).
CREATE TABLE stats_cube (
    day       DATE NOT NULL,
    township  TEXT NOT NULL,
    category  TEXT NOT NULL,
    f         INTEGER[] NOT NULL,
    PRIMARY KEY (day, township, category)
);
CREATE INDEX stats_cube_township ON stats_cube (township text_pattern_ops, day);

-- The same by registration month (`day` is the month's first day), for month, quarter
-- and year periods over whole months: a year of a county is a few thousand rows.
CREATE TABLE stats_cube_month (LIKE stats_cube INCLUDING ALL);
