-- Proofs that answer one challenge (MPP, x402) are kept when their paid request was not delivered, to be
-- sent once more with the agent's next identical request instead of paying again. `header` names where the
-- proof goes; `single_use` ones are taken (deleted) when sent.
ALTER TABLE credentials ADD COLUMN header TEXT NOT NULL DEFAULT 'authorization';
ALTER TABLE credentials ADD COLUMN single_use INTEGER NOT NULL DEFAULT 0;
