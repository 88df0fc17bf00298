-- An incident nobody is on the way for, after a dispatch failed (no station accepted, emergency services did not
-- send anyone), goes back to the top of the operators' queue until someone is sent or it is closed.
ALTER TABLE incidents ADD COLUMN attention text CHECK (attention IN ('dispatch_failed'));
COMMENT ON COLUMN incidents.attention IS 'What is left to do that the platform could not: dispatch_failed (nobody is on the way after a dispatch); NULL when nothing.';
