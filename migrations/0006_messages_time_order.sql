-- A conversation's messages are read in pages ordered by ("timestamp", order_index)
-- (GET /api/conversations/:id/messages). messages_conv_time_type_idx has the timestamp but not
-- order_index, so a page inside a run of equal timestamps (date-only timestamps, minute-precision
-- chat exports) sorted the whole run: 10,000 messages of one day read 10,000 rows per page. With
-- order_index in the index, the keyset condition is an index condition and a page reads its own rows.
CREATE INDEX messages_conversation_time_idx ON messages (tenant_id, conversation_id, "timestamp", order_index);
