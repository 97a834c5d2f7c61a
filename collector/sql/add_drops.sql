INSERT INTO drops (minute, spans, events, refused) VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (minute) DO UPDATE SET
    spans   = spans + excluded.spans,
    events  = events + excluded.events,
    refused = refused + excluded.refused
