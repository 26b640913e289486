#!/usr/bin/env bash
# Make a PostgreSQL server available for the centre's tests, on a bare Debian 12 machine (as root).
#
#   source .ci/postgres.sh          # exports CENTRE_TEST_PG_URL into the calling shell
#   eval "$(.ci/postgres.sh)"       # same, when run as a program (it prints an export line)
#
# Idempotent: installs Debian's `postgresql` only when missing, creates a cluster only when there
# is none, starts it only when it is down, and (re)sets the test role's password every time.
# The role can create databases; each test creates and drops its own.
# The role and its password can be changed with CENTRE_TEST_PG_ROLE and CENTRE_TEST_PG_PASSWORD.

_centre_pg_setup() (
    # A subshell: strict mode here must not leak into a shell that sources this file.
    set -euo pipefail
    role=${CENTRE_TEST_PG_ROLE:-centre_test}
    password=${CENTRE_TEST_PG_PASSWORD:-centre_test}
    log() { echo "postgres.sh: $*" >&2; }

    if ! command -v pg_lsclusters >/dev/null 2>&1 || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
        log "installing postgresql"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq --no-install-recommends postgresql >&2
    fi

    cluster=$(pg_lsclusters --no-header | awk 'NR == 1 {print $1, $2}')
    if [ -z "$cluster" ]; then
        version=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)
        log "creating cluster $version/main"
        pg_createcluster "$version" main >&2
        cluster="$version main"
    fi
    read -r version name <<<"$cluster"
    port=$(pg_lsclusters --no-header "$version" "$name" | awk '{print $3}')

    if ! pg_lsclusters --no-header "$version" "$name" | grep -q online; then
        log "starting cluster $version/$name on port $port"
        # The socket directory lives on a tmpfs on many machines and may be gone after a reboot.
        install -d -m 2775 -o postgres -g postgres /var/run/postgresql
        pg_ctlcluster "$version" "$name" start >&2
    fi

    for _ in $(seq 1 60); do
        pg_isready -q -h 127.0.0.1 -p "$port" && break
        sleep 0.5
    done
    pg_isready -q -h 127.0.0.1 -p "$port" || { log "the server on port $port does not answer"; exit 1; }

    # psql variables (:'role', :'password') quote the values, so odd passwords cannot break the SQL.
    runuser -u postgres -- psql -X -q -p "$port" -d postgres -v ON_ERROR_STOP=1 \
        -v role="$role" -v password="$password" >&2 <<'SQL'
SELECT format('CREATE ROLE %I', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN CREATEDB PASSWORD %L', :'role', :'password') \gexec
SELECT format('GRANT pg_signal_backend TO %I', :'role') \gexec
SQL

    # psycopg takes the password percent-encoded in a URL.
    encoded=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$password")
    echo "postgresql+psycopg://$role:$encoded@127.0.0.1:$port/postgres"
)

if CENTRE_TEST_PG_URL=$(_centre_pg_setup); then
    export CENTRE_TEST_PG_URL
    if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
        echo "export CENTRE_TEST_PG_URL='$CENTRE_TEST_PG_URL'"
    else
        echo "postgres.sh: CENTRE_TEST_PG_URL=$CENTRE_TEST_PG_URL" >&2
    fi
else
    echo "postgres.sh: could not set up PostgreSQL" >&2
    # `return` when sourced, `exit` when run.
    # shellcheck disable=SC2317  # reached when run as a program rather than sourced
    return 1 2>/dev/null || exit 1
fi
