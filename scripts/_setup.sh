# Shared set-up of ./scripts/run and ./scripts/test; sourced, not run.
# Installs what is missing, starts the private PostGIS cluster unless GRIDMAP_DATABASE_URL is
# set, and applies the migrations. Safe to re-run: every step checks before it acts.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PGBIN=/usr/lib/postgresql/15/bin
# Everything the private cluster keeps: its data, its pgBackRest configuration, log and lock,
# and (unless GRIDMAP_BACKUP_DIR says otherwise) the backup repository. The tests point these at
# a temporary directory to build clusters of their own with the same functions.
VARDIR="${GRIDMAP_VAR_DIR:-$ROOT/var}"
PGDATA="${GRIDMAP_PG_DATA:-$VARDIR/pg}"
PGPORT="${GRIDMAP_PG_PORT:-54329}"
BACKUP_DIR="${GRIDMAP_BACKUP_DIR:-$VARDIR/backups}"
PGBR_DIR="$VARDIR/pgbackrest"
PGBR_CONF="$PGBR_DIR/pgbackrest.conf"
STANZA=gridmap
# The passwords of the roles gridmap and gridmap_app (libpq's password file, mode 0600), made at
# the first set-up; exported as PGPASSFILE, so no URL, command line or log carries them.
PASSFILE="$VARDIR/pgpass"
# The read replica (GRIDMAP_REPLICA=1 for ./scripts/run): a streaming copy of the private
# cluster in its own directory, on its own port.
REPLICA_DATA="${GRIDMAP_REPLICA_PG_DATA:-$VARDIR/pg-replica}"
REPLICA_PORT="${GRIDMAP_REPLICA_PG_PORT:-$((PGPORT + 1))}"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_postgres() {
  # initdb and pg_ctl refuse to run as root.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cluster_os_user() {
  # The OS user that runs the cluster (as_postgres): the only one that may be its superuser.
  if [ "$(id -u)" = 0 ]; then echo postgres; else id -un; fi
}

admin_psql() {
  # The superuser postgres, over the cluster's socket (peer: only its OS user gets in; postgres
  # has no password, so TCP refuses it). admin_psql DATABASE [psql arguments…]
  local database="$1"; shift
  as_postgres "$PGBIN/psql" -X -qAt -v ON_ERROR_STOP=1 -h "$PGDATA" -p "$PGPORT" -U postgres \
    -d "$database" "$@"
}

install_debian_packages() {
  local missing=()
  [ -x "$PGBIN/initdb" ] || missing+=(postgresql-15)
  [ -f /usr/share/postgresql/15/extension/postgis.control ] || missing+=(postgresql-15-postgis-3)
  command -v chromium >/dev/null || missing+=(chromium)
  # grep -c reads all of fc-list's output: grep -q would close the pipe early, and under
  # pipefail fc-list's SIGPIPE would count as a missing font.
  [ "$(fc-list 2>/dev/null | grep -ci 'Noto Sans CJK')" -gt 0 ] || missing+=(fonts-noto-cjk)
  # ESLint for the browser modules (./scripts/test); any nodejs that ESLint 9 supports (>= 18.18).
  # The front server of ./scripts/run and of the slow-client drill.
  [ -x /usr/sbin/nginx ] || missing+=(nginx)
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
  # Backups and point-in-time recovery of the private cluster (./scripts/backup, restore).
  command -v pgbackrest >/dev/null || missing+=(pgbackrest)
  # GDAL's command-line tools: the tests read the OGC API, the TileJSON and the GIS exports
  # with its OAPIF, MVT, GPKG and GeoJSON drivers, as QGIS does.
  command -v ogrinfo >/dev/null || missing+=(gdal-bin)
  # The walking network of the service map: pgRouting's topology and driving distance, and
  # osmium to read OpenStreetMap extracts (.osm.pbf) into line features.
  [ -f /usr/share/postgresql/15/extension/pgrouting.control ] || missing+=(postgresql-15-pgrouting)
  command -v osmium >/dev/null || missing+=(osmium-tool)
  # wrk drives the API benchmark (./scripts/bench locate) as the issue's figures were measured.
  command -v wrk >/dev/null || missing+=(wrk)
  # The rate limits' shared store: a private redis-server under var/ (start_private_redis).
  command -v redis-server >/dev/null || missing+=(redis-server)
  # libfaketime: the sweep workers' test runs worker processes a month ahead, and
  # ./scripts/test-year-ahead the whole suite a year ahead.
  command -v faketime >/dev/null || missing+=(faketime)
  [ ${#missing[@]} -eq 0 ] && return
  log "Installing Debian packages: ${missing[*]}"
  local sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_python_packages() {
  [ -x "$VENV/bin/python" ] || { log "Creating virtualenv"; python3 -m venv "$VENV"; }
  local stamp="$VENV/.requirements.sha"
  local want; want=$(cat "$ROOT/requirements.txt" "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "Installing Python packages from requirements.txt"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$ROOT/requirements.txt" \
      2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
    # The package itself, editable: scripts and tools import gridmap from this checkout.
    "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps --no-build-isolation -e "$ROOT"
    echo "$want" > "$stamp"
  fi
}

install_node_packages() {
  # Dev tools only (ESLint, and axe-core that the browser tests inject into pages); the browser
  # gets the scripts as they are, no build step.
  local stamp="$ROOT/node_modules/.package-lock.sha"
  local want; want=$(sha256sum "$ROOT/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "Installing node packages from package-lock.json"
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
  fi
}

pgbackrest_as_postgres() {
  # The repository named here wins over the configuration's: a copy elsewhere can be restored.
  as_postgres pgbackrest --config="$PGBR_CONF" --stanza="$STANZA" --repo1-path="$BACKUP_DIR" "$@"
}

write_pgbackrest_conf() {
  # Rewritten on every set-up so that it follows GRIDMAP_PG_PORT and GRIDMAP_BACKUP_DIR.
  mkdir -p "$PGBR_DIR/log" "$PGBR_DIR/lock" "$BACKUP_DIR"
  cat > "$PGBR_CONF" <<CONF
# Written by scripts/_setup.sh: the private cluster's WAL archive and backups.
[global]
repo1-path=$BACKUP_DIR
repo1-retention-full=2
compress-type=zst
start-fast=y
log-path=$PGBR_DIR/log
lock-path=$PGBR_DIR/lock
log-level-console=warn
log-level-file=info

[$STANZA]
pg1-path=$PGDATA
pg1-port=$PGPORT
pg1-socket-path=$PGDATA
pg1-user=postgres
CONF
  chmod 750 "$PGBR_DIR" "$BACKUP_DIR"
  # Not -R: a big repository is pgBackRest's own files already.
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$PGBR_DIR" "$PGBR_DIR"/* "$BACKUP_DIR"
  return 0
}

archive_settings() {
  cat <<CONF
# WAL archiving into the pgBackRest repository (./scripts/backup, ./scripts/restore).
wal_level = replica
archive_mode = on
archive_command = 'pgbackrest --config=$PGBR_CONF --stanza=$STANZA archive-push %p'
archive_timeout = 60
CONF
}

create_private_cluster() {
  log "Creating a private PostgreSQL cluster in $PGDATA"
  mkdir -p "$PGDATA"
  [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$VARDIR" "$PGDATA"
  as_postgres "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth-local=peer \
    --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
  write_client_auth
  cat >> "$PGDATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$PGDATA'
shared_buffers = 1GB
work_mem = 64MB
maintenance_work_mem = 512MB
max_parallel_workers_per_gather = 2
CONF
  archive_settings >> "$PGDATA/postgresql.conf"
}

enable_wal_archiving() {
  # A cluster created before backups existed: add the archive settings once, restart once.
  grep -q '^archive_mode = on' "$PGDATA/postgresql.conf" && return
  log "Enabling WAL archiving to $BACKUP_DIR (the cluster restarts once)"
  archive_settings >> "$PGDATA/postgresql.conf"
  if as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -m fast restart >/dev/null
  fi
}

create_stanza() {
  [ -f "$BACKUP_DIR/backup/$STANZA/backup.info" ] && return
  log "Creating the pgBackRest stanza '$STANZA' in $BACKUP_DIR"
  pgbackrest_as_postgres stanza-create
}

cluster_running() {
  as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1
}

hba_conf() {
  cat <<'CONF'
# Written by scripts/_setup.sh (and scripts/restore): no connection is trusted.
# The superuser postgres: only the OS user that runs the cluster (pg_ident.conf), over the
# socket; the set-up and pgBackRest connect so. It has no password: TCP refuses it.
local   all          postgres                   peer map=cluster
local   replication  postgres                   peer map=cluster
# Every other role (gridmap, gridmap_app): its SCRAM password, kept in var/pgpass.
local   all          all                        scram-sha-256
host    all          all        127.0.0.1/32    scram-sha-256
host    all          all        ::1/128         scram-sha-256
CONF
}

ident_conf() {
  printf '# Written by scripts/_setup.sh: the OS user that may connect as postgres.\n'
  printf 'cluster  %s  postgres\n' "$(cluster_os_user)"
}

client_auth_current() {
  [ "$(cat "$PGDATA/pg_hba.conf")" = "$(hba_conf)" ] \
    && [ "$(cat "$PGDATA/pg_ident.conf")" = "$(ident_conf)" ]
}

write_client_auth() {
  # Existing files are overwritten in place: they keep their owner (postgres) and mode.
  hba_conf > "$PGDATA/pg_hba.conf"
  ident_conf > "$PGDATA/pg_ident.conf"
}

secure_client_auth() {
  # A cluster created before passwords trusted every local connection: rewritten once, and
  # reloaded when it runs.
  client_auth_current && return
  log "Requiring passwords (scram-sha-256) in $PGDATA/pg_hba.conf; postgres only by peer"
  write_client_auth
  if cluster_running; then as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" reload >/dev/null; fi
}

passwords() {
  python3 "$ROOT/scripts/cluster_passwords.py" "$@"
}

secure_roles() {
  # gridmap owns the app database and migrates it: no superuser, no CREATEROLE (in PostgreSQL
  # 15 that could grant itself pg_execute_server_program); CREATEDB for the test databases;
  # pg_signal_backend so that DROP DATABASE … WITH (FORCE) of a test database may end the app
  # role's connections. gridmap_app is made here, so the migrations need not create a role.
  mkdir -p "$(dirname "$PASSFILE")"
  passwords passfile "$PASSFILE"
  local owner
  owner=$(admin_psql postgres -c "SELECT concat_ws(',', rolsuper, rolcreaterole, rolcreatedb,
    rolcanlogin, pg_has_role(oid, 'pg_signal_backend', 'MEMBER'))
    FROM pg_roles WHERE rolname = 'gridmap'")
  if [ -z "$owner" ]; then
    admin_psql postgres -c "CREATE ROLE gridmap LOGIN NOSUPERUSER NOCREATEROLE CREATEDB"
    owner="f,f,t,t,f"
  fi
  if [ "${owner%,*}" != "f,f,t,t" ]; then
    log "Making the owner role gridmap an ordinary one (NOSUPERUSER NOCREATEROLE CREATEDB)"
    admin_psql postgres -c "ALTER ROLE gridmap LOGIN NOSUPERUSER NOCREATEROLE CREATEDB"
  fi
  [ "${owner##*,}" = t ] || admin_psql postgres -c "GRANT pg_signal_backend TO gridmap"
  admin_psql postgres -c "SELECT 1 FROM pg_roles WHERE rolname = 'gridmap_app'" | grep -q 1 \
    || admin_psql postgres -c "CREATE ROLE gridmap_app NOLOGIN"
  # The server is sent SCRAM verifiers made from var/pgpass, only where they differ: a cluster
  # restored from elsewhere gets this machine's passwords.
  local statements
  statements=$(admin_psql postgres -c "SELECT rolname || '|' || coalesce(rolpassword, '')
    FROM pg_authid WHERE rolname IN ('gridmap', 'gridmap_app')" | passwords alter "$PASSFILE")
  [ -z "$statements" ] && return
  log "Setting the passwords of gridmap and gridmap_app (kept in $PASSFILE)"
  admin_psql postgres <<<"$statements"
}

EXTENSIONS="'postgis', 'btree_gist', 'pg_trgm', 'pgrouting'"

create_extensions() {
  # PostGIS is not a trusted extension: only a superuser may create it, and gridmap is none.
  # postgres creates the migrations' extensions in template1 (the test databases and the app
  # database are copies of it) and in the app database, so the migrations' CREATE EXTENSION
  # IF NOT EXISTS finds them there.
  local database="$1" missing
  missing=$(admin_psql "$database" -c "SELECT string_agg(name, ' ') FROM
    unnest(ARRAY[$EXTENSIONS]) AS name WHERE name NOT IN (SELECT extname FROM pg_extension)")
  [ -z "$missing" ] && return
  log "Creating the extensions $missing in $database (as postgres: PostGIS needs a superuser)"
  local name
  for name in $missing; do admin_psql "$database" -c "CREATE EXTENSION IF NOT EXISTS $name"; done
}

secure_cluster() {
  # Each step does nothing when done: a new cluster, one set up before passwords, and one
  # restored from any backup all end the same.
  secure_roles
  create_extensions template1
  admin_psql postgres -c "SELECT 1 FROM pg_database WHERE datname = 'gridmap'" | grep -q 1 \
    || admin_psql postgres -c "CREATE DATABASE gridmap OWNER gridmap"
  create_extensions gridmap
}

start_private_cluster() {
  write_pgbackrest_conf
  if [ ! -f "$PGDATA/PG_VERSION" ]; then create_private_cluster; fi
  enable_wal_archiving
  secure_client_auth
  if ! cluster_running; then
    log "Starting PostgreSQL on port $PGPORT"
    as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w start >/dev/null
  fi
  create_stanza
  secure_cluster
  # The owner migrates; the app connects as gridmap_app, which cannot alter the audit log.
  # Their passwords come from PGPASSFILE (libpq, so psql and pg_dump too).
  export PGPASSFILE="$PASSFILE"
  export GRIDMAP_MIGRATE_DATABASE_URL="postgresql+psycopg://gridmap@127.0.0.1:$PGPORT/gridmap"
  export GRIDMAP_DATABASE_URL="postgresql+psycopg://gridmap_app@127.0.0.1:$PGPORT/gridmap"
}

# The rate limits' shared store (and the kept grid tiles'): a private redis-server whose only
# door is a unix socket in var/redis (no TCP port, so no other host or local user reaches it;
# the directory is 0700). Counters of a minute or an hour, and tiles that are made again on
# demand, need not outlive a restart: nothing is written to disk.
REDIS_DIR="$VARDIR/redis"
REDIS_SOCKET="$REDIS_DIR/redis.sock"

redis_running() {
  [ -S "$REDIS_SOCKET" ] && [ "$(redis-cli -s "$REDIS_SOCKET" ping 2>/dev/null)" = PONG ]
}

write_redis_conf() {
  # Rewritten on every start, so that it follows GRIDMAP_VAR_DIR.
  cat > "$REDIS_DIR/redis.conf" <<CONF
# Written by scripts/_setup.sh: the rate limits' shared counters and the kept grid tiles.
port 0
unixsocket $REDIS_SOCKET
unixsocketperm 700
dir $REDIS_DIR
save ""
appendonly no
# Every counter expires with its window, every kept grid tile after a day; when full, the
# least recently used go first: tiles nobody asks for, not the counters of the clients being
# counted (volatile-ttl would drop the counters first, their windows being the shortest).
maxmemory 256mb
maxmemory-policy volatile-lru
daemonize yes
pidfile $REDIS_DIR/redis.pid
logfile $REDIS_DIR/redis.log
CONF
}

start_private_redis() {
  # A socket path is at most 107 bytes (sun_path): a deeper checkout needs GRIDMAP_VAR_DIR.
  if [ "${#REDIS_SOCKET}" -gt 107 ]; then
    log "The Redis socket path $REDIS_SOCKET is too long; set GRIDMAP_VAR_DIR to a shorter one"
    return 1
  fi
  mkdir -p "$REDIS_DIR"
  chmod 700 "$REDIS_DIR"
  if ! redis_running; then
    log "Starting Redis on $REDIS_SOCKET (the rate limits' counters, shared by the workers)"
    write_redis_conf
    redis-server "$REDIS_DIR/redis.conf"
    local tries=0
    until redis_running; do
      tries=$((tries + 1))
      if [ "$tries" -gt 100 ]; then
        log "Redis did not answer on $REDIS_SOCKET within 10 s; see $REDIS_DIR/redis.log"
        return 1
      fi
      sleep 0.1
    done
  fi
  export GRIDMAP_RATELIMIT_STORAGE_URI="redis+unix://$REDIS_SOCKET"
}

replica_settings() {
  cat <<CONF
# Written by scripts/_setup.sh (start_replica): a hot standby of the cluster on port $PGPORT.
port = $REPLICA_PORT
unix_socket_directories = '$REPLICA_DATA'
hot_standby = on
# Long review queries are not cancelled by the primary's vacuum of rows they still read.
hot_standby_feedback = on
CONF
}

start_replica() {
  # A streaming replica of the running private cluster: copied once with pg_basebackup -R
  # (standby.signal, and primary_conninfo over the primary's socket as postgres, by peer:
  # the replication line of hba_conf), then started on REPLICA_PORT. The roles, their
  # passwords and the data come with the copy; it accepts reads only. wal_level = replica
  # and max_wal_senders (10 by default) on the primary already allow it.
  cluster_running || { log "The private cluster in $PGDATA is not running: no replica"; return 1; }
  if [ ! -f "$REPLICA_DATA/PG_VERSION" ]; then
    log "Copying the cluster on port $PGPORT into the replica $REPLICA_DATA (pg_basebackup)"
    mkdir -p "$REPLICA_DATA"
    chmod 700 "$REPLICA_DATA"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$REPLICA_DATA"
    # The primary's socket lives in its data directory: pg_basebackup skips it, saying so.
    as_postgres "$PGBIN/pg_basebackup" -h "$PGDATA" -p "$PGPORT" -U postgres \
      -D "$REPLICA_DATA" -R -X stream -c fast 2> >(grep -v 'skipping special file' >&2)
    replica_settings >> "$REPLICA_DATA/postgresql.conf"
    rm -f "$REPLICA_DATA/server.log"
  fi
  if ! as_postgres "$PGBIN/pg_ctl" -D "$REPLICA_DATA" status >/dev/null 2>&1; then
    log "Starting the read replica on port $REPLICA_PORT"
    as_postgres "$PGBIN/pg_ctl" -D "$REPLICA_DATA" -l "$REPLICA_DATA/server.log" -w start \
      >/dev/null
  fi
  export GRIDMAP_REPLICA_DATABASE_URL="postgresql+psycopg://gridmap_app@127.0.0.1:$REPLICA_PORT/gridmap"
}

app_can_login() {
  admin_psql postgres -c "SELECT 1 FROM pg_roles WHERE rolname='gridmap_app' AND rolcanlogin" \
    | grep -c 1 >/dev/null
}

allow_app_login() {
  admin_psql postgres -c "ALTER ROLE gridmap_app LOGIN"
}

use_secret_key() {
  # ./scripts/run's Flask secret when GRIDMAP_SECRET_KEY is not given: made once, kept in
  # var/secret_key (mode 0600), so that even a development start never signs with the public
  # development key and sessions outlive a restart. Exported: not on any command line.
  [ -n "${GRIDMAP_SECRET_KEY:-}" ] && return
  local file="$VARDIR/secret_key"
  if [ ! -s "$file" ]; then
    log "Making a secret key in $file"
    mkdir -p "$VARDIR"
    (umask 077 && python3 -c 'import secrets; print(secrets.token_hex(32))' > "$file.new")
    mv "$file.new" "$file"
  fi
  chmod 600 "$file"
  GRIDMAP_SECRET_KEY="$(cat "$file")"
  export GRIDMAP_SECRET_KEY
}

# setup [--if-needed]: with --if-needed (focused test runs) the app database is migrated only
# when the cluster has never been set up: the tests migrate databases of their own.
setup() {
  install_debian_packages
  install_python_packages
  install_node_packages
  local private=""
  if [ -z "${GRIDMAP_DATABASE_URL:-}" ]; then start_private_cluster; private=1; fi
  export PATH="$VENV/bin:$PATH"
  export FLASK_APP=gridmap
  if [ "${1:-}" = --if-needed ] && { [ -z "$private" ] || app_can_login; }; then return; fi
  log "Applying migrations"
  flask gridmap migrate
  if [ -n "$private" ]; then allow_app_login; fi
}
