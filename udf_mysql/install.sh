#!/bin/sh
# install.sh - `make install-udf`: copy libgearman_mysql_udf.so into the database server's plugin
# directory. Where: $PLUGIN_DIR if set; else @@plugin_dir of the running server (asked with the
# mariadb/mysql client, using your usual client options); else the plugin-dir that mariadbd/mysqld
# would use by default. (mariadb_config --plugindir is the *client* library's plugin dir, not the
# server's, so it is not used.) Then create the functions: mariadb < sql/mysql/udf_install.sql
set -eu
so=${1:?usage: install.sh path/to/libgearman_mysql_udf.so}
dir=${PLUGIN_DIR:-}
if [ -z "$dir" ]; then
    for client in mariadb mysql; do
        command -v "$client" >/dev/null 2>&1 || continue
        dir=$("$client" -N -B -e 'SELECT @@plugin_dir' 2>/dev/null || true)
        [ -n "$dir" ] && break
    done
fi
if [ -z "$dir" ]; then
    for server in mariadbd mysqld /usr/sbin/mariadbd /usr/sbin/mysqld; do
        command -v "$server" >/dev/null 2>&1 || continue
        dir=$("$server" --verbose --help 2>/dev/null | awk '$1 == "plugin-dir" { print $2 }')
        [ -n "$dir" ] && break
    done
fi
if [ -z "$dir" ] || [ ! -d "$dir" ]; then
    echo "install.sh: cannot find the server's plugin directory (${dir:-none found});" \
        "set PLUGIN_DIR=/path/to/plugin/dir" >&2
    exit 1
fi
install -m 0755 "$so" "$dir/libgearman_mysql_udf.so"
echo "installed $dir/libgearman_mysql_udf.so; now run: mariadb < sql/mysql/udf_install.sql"
