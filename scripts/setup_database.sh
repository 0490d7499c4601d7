#!/usr/bin/env bash
# Starts the local PostgreSQL cluster if it is down and creates the LandLedger role, database
# and test template with the extensions. Skipped when DATABASE_URL points elsewhere: such a
# database must already have the extensions (postgis, pgrouting, btree_gist).
set -euo pipefail

if [[ -n "${DATABASE_URL:-}" ]]; then
    echo "DATABASE_URL is set: using that database as it is."
    exit 0
fi

db_role=landledger
app_role=landledger_app
db_name=landledger
template_name=landledger_template
version=15

as_postgres() {
    # PostgreSQL refuses to run as root, so the system cluster is driven as its own user.
    if [[ $(id -un) == postgres ]]; then
        "$@"
    elif [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        sudo -u postgres "$@"
    fi
}

if ! pg_lsclusters -h 2>/dev/null | awk -v v="$version" '$1 == v && $2 == "main"' | grep -q .; then
    echo "Creating PostgreSQL $version cluster 'main'"
    as_postgres pg_createcluster "$version" main >/dev/null
fi
if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" && $4 == "online"' | grep -q .; then
    echo "Starting PostgreSQL $version cluster 'main'"
    if [[ $(id -u) -eq 0 ]]; then
        pg_ctlcluster --skip-systemctl-redirect "$version" main start
    else
        sudo pg_ctlcluster --skip-systemctl-redirect "$version" main start
    fi
fi
for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p 5432 && break
    sleep 1
done

psql_admin() {
    as_postgres psql -X -q -v ON_ERROR_STOP=1 -d "${1}" -tAc "${2}"
}

if [[ -z $(psql_admin postgres "SELECT 1 FROM pg_roles WHERE rolname = '$db_role'") ]]; then
    echo "Creating role $db_role"
    # A password so that the role also works where 127.0.0.1 is not trusted (Debian's default).
    psql_admin postgres "CREATE ROLE $db_role LOGIN CREATEDB PASSWORD '$db_role'"
fi
# The role the web application serves as: it reads and writes rows but owns nothing, so it
# can neither disable nor replace the register's guards (triggers, functions, constraints).
if [[ -z $(psql_admin postgres "SELECT 1 FROM pg_roles WHERE rolname = '$app_role'") ]]; then
    echo "Creating role $app_role"
    psql_admin postgres "CREATE ROLE $app_role LOGIN PASSWORD '$app_role'"
fi

create_extensions() {
    # Extensions need a superuser; the application role never does.
    psql_admin "$1" "SET client_min_messages = warning;
        CREATE EXTENSION IF NOT EXISTS postgis;
        CREATE EXTENSION IF NOT EXISTS pgrouting;
        CREATE EXTENSION IF NOT EXISTS btree_gist;
        GRANT ALL ON SCHEMA public TO $db_role;"
}

grant_rows_to_app_role() {
    as_postgres psql -X -q -v ON_ERROR_STOP=1 -d "$1" -v database="$1" -v owner="$db_role" \
        -v app_role="$app_role" -f - < "$(dirname "$0")/app_role_grants.sql"
}

database_exists() {
    [[ -n $(psql_admin postgres "SELECT 1 FROM pg_database WHERE datname = '$1'") ]]
}

if ! database_exists "$db_name"; then
    echo "Creating database $db_name"
    psql_admin postgres "CREATE DATABASE $db_name OWNER $db_role"
fi
create_extensions "$db_name"
grant_rows_to_app_role "$db_name"

# Test databases are cloned from this template, so the test run needs no superuser either.
if ! database_exists "$template_name"; then
    echo "Creating test template $template_name"
    psql_admin postgres "CREATE DATABASE $template_name OWNER $db_role"
    create_extensions "$template_name"
    psql_admin postgres "ALTER DATABASE $template_name WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"
fi
# Every database cloned from the template (the test databases) grants the same; a template
# made before the application role existed gets the grants here.
psql_admin postgres "ALTER DATABASE $template_name WITH ALLOW_CONNECTIONS true"
grant_rows_to_app_role "$template_name"
psql_admin postgres "ALTER DATABASE $template_name WITH ALLOW_CONNECTIONS false"
