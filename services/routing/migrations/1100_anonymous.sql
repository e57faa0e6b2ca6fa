-- Anonymous items (R3): handled, but no reply is delivered to anyone.
ALTER TABLE cases ADD COLUMN anonymous BOOLEAN NOT NULL DEFAULT FALSE;
