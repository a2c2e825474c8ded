-- A second change signal, for the tree: bumped by every write to nodes, so that caches of
-- nodes (and of where scoped nodes are) in every process follow, without dropping the
-- caches of users and tokens on every upload.
ALTER TABLE change_counter ADD COLUMN tree INTEGER NOT NULL DEFAULT 0;
