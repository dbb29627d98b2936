-- 0017: token families that no token refers to any more. Expired tokens have always been purged,
-- but their families were kept (one row per authorization, forever). Since 0017 the purge of a
-- token batch also deletes each family it leaves with no token (storage/sql_purge_repository.cpp);
-- this removes the ones left behind before. A family is written in the same transaction as its
-- first tokens, so a family with none has had them all purged.
DELETE FROM token_families
WHERE NOT EXISTS (SELECT 1 FROM access_tokens a WHERE a.family_id = token_families.id)
  AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family_id = token_families.id);
