-- Admin keys act on their own tenant; an operator key (created only with
-- `npm run create-key -- --role operator`, never over HTTP) may act on every tenant.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check CHECK (role IN ('user', 'admin', 'operator'));
