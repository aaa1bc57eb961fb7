-- Database roles for production: one owner for the migrations, one role per service.
--
-- Run as a superuser (or your managed service's admin user), connected to the Sprout database,
-- BEFORE the first `sprout migrate`; safe to run again after every release:
--   psql "postgresql://admin@db.example.internal/sprout" -v ON_ERROR_STOP=1 -f deploy/sql/roles.sql
-- The roles get no password here; set them afterwards, e.g. in psql: \password sprout_courses
-- (or use your platform's IAM authentication), and put each URL in the Secret `sprout-database`.
--
-- sprout_migrator  owns the six schemas and everything in them; `sprout migrate` runs as it.
-- sprout_<service> reads and writes the tables of its own schema and of `events`, and nothing
--                  else: it cannot create or alter objects, nor see another service's schema.
-- Every migration creates its tables as sprout_migrator, so the default privileges below reach
-- the tables of future migrations without running this file again.

-- PostgreSQL 14 and older let every role create objects in `public`; 15 and newer do not.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

DO $roles$
DECLARE
    service text;
    schema_name text;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sprout_migrator') THEN
        CREATE ROLE sprout_migrator LOGIN;
    END IF;
    -- A non-superuser admin (managed PostgreSQL) must be able to SET ROLE sprout_migrator to hand
    -- it the schemas and to set its default privileges; since PostgreSQL 16 the creator of a role
    -- holds only the ADMIN option on it.
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
       AND NOT pg_has_role(current_user, 'sprout_migrator',
                           CASE WHEN current_setting('server_version_num')::int >= 160000
                                THEN 'SET' ELSE 'MEMBER' END) THEN
        EXECUTE format('GRANT sprout_migrator TO %I', current_user);
    END IF;
    -- CREATE SCHEMA IF NOT EXISTS, which every migration tree runs first, needs CREATE on the database.
    EXECUTE format('GRANT CONNECT, CREATE ON DATABASE %I TO sprout_migrator', current_database());

    FOREACH schema_name IN ARRAY ARRAY['events', 'gateway', 'selection', 'mentoring', 'courses', 'tracking'] LOOP
        EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION sprout_migrator', schema_name);
        EXECUTE format('ALTER SCHEMA %I OWNER TO sprout_migrator', schema_name);
    END LOOP;

    FOREACH service IN ARRAY ARRAY['gateway', 'selection', 'mentoring', 'courses', 'tracking'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sprout_' || service) THEN
            EXECUTE format('CREATE ROLE %I LOGIN', 'sprout_' || service);
        END IF;
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), 'sprout_' || service);

        -- Its own schema, then the shared event table.
        FOREACH schema_name IN ARRAY ARRAY[service, 'events'] LOOP
            EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', schema_name, 'sprout_' || service);
            EXECUTE format(
                'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO %I',
                schema_name, 'sprout_' || service);
            EXECUTE format(
                'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO %I', schema_name, 'sprout_' || service);
            EXECUTE format(
                'ALTER DEFAULT PRIVILEGES FOR ROLE sprout_migrator IN SCHEMA %I '
                'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I', schema_name, 'sprout_' || service);
            EXECUTE format(
                'ALTER DEFAULT PRIVILEGES FOR ROLE sprout_migrator IN SCHEMA %I '
                'GRANT USAGE, SELECT ON SEQUENCES TO %I', schema_name, 'sprout_' || service);
        END LOOP;
    END LOOP;

    -- events.revocation ends sign-ins before their tokens expire (shared/revocations.py): every
    -- service reads it, only the gateway writes it, so a compromised service cannot un-revoke a
    -- disabled account. The grants above (and the default privileges, for the migration that
    -- makes the table) give every role write access to `events`; this takes it back.
    IF to_regclass('events.revocation') IS NOT NULL THEN
        FOREACH service IN ARRAY ARRAY['selection', 'mentoring', 'courses', 'tracking'] LOOP
            EXECUTE format('REVOKE INSERT, UPDATE, DELETE ON events.revocation FROM %I', 'sprout_' || service);
        END LOOP;
    END IF;
END
$roles$;
