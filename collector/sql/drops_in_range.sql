SELECT minute, spans + events + refused FROM drops WHERE minute >= ?1 AND minute <= ?2
