-- tansu 0.6's sqlite storage reads each fetched record's headers by (topition, offset_id)
-- and creates no index for that lookup: every record fetched scans every header row ever
-- stored, so a fetch slows down linearly with the topic's size (at 60,000 records with
-- three headers each, 30 ms per record), and since one task serves every storage request,
-- produce, metadata and consumer-group requests wait behind it until clients time out.
-- Applied to the broker's database after it starts (a no-op once the index exists).
create index if not exists xf_header_record on header (topition, offset_id);
