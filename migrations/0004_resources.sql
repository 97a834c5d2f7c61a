-- Resources (the OpenTelemetry resource of a span: service.name,
-- service.version, host.name, …) are interned: one row per distinct resource,
-- written once, and a span's body carries only the row's id as a varint, so a
-- resource costs a byte or two per span however many attributes it has.
-- Rows are written rarely (once per new resource), so the index on the hash
-- is off the hot path; the writer keeps recent resources in memory and asks
-- the index only after a restart or for a resource it has forgotten. Rows are
-- never deleted while spans may point at them, so an id always means the same
-- resource and readers may cache it.
CREATE TABLE resources (
    id    INTEGER PRIMARY KEY,
    hash  INTEGER NOT NULL, -- FNV-1a 64 of attrs, to find an existing row
    attrs BLOB    NOT NULL  -- the attributes, in the collector's attribute encoding
);

CREATE INDEX resources_by_hash ON resources (hash);
