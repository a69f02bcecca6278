-- Team mode: the Purser instance that made each payment (its `instance` name; the host name by default),
-- shown with it and used by each instance to resolve only its own open payments after a restart.
ALTER TABLE payments ADD COLUMN instance TEXT;
