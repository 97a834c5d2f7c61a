-- Traces by service, newest last within each: a service filter becomes an
-- index range walked in start order, the service list skips from one
-- service to the next, and a service's count in a window reads the index
-- alone. Within a service start times grow, so inserts append to that
-- service's end of the index, as traces_by_run does for runs.
CREATE INDEX traces_by_service ON traces (service, start_ns) WHERE service IS NOT NULL;
