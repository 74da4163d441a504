# Shared helpers of the benchmark scripts (sourced).

# bench_garage_start DIR: a single-node Garage (replication 1) on free loopback ports under DIR,
# with bucket $BUCKET and a key allowed to use it. Exports AWS_ENDPOINT_URL,
# AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION=garage; sets GARAGE_PID and GARAGE_LOG
# (the server log, one INFO line per S3 request: bench_s3_requests counts them). Garage ignores If-None-Match on PutObject, so
# publishing there needs --unsafe-no-conditional-writes.
bench_free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
bench_garage_start() {
	local dir="$1" bin="${GARAGE_BIN:-${CARGO_HOME:-$HOME/.cargo}/bin/garage}"
	command -v "$bin" >/dev/null 2>&1 || bin=garage
	local s3 rpc
	s3=$(bench_free_port) rpc=$(bench_free_port)
	mkdir -p "$dir/meta" "$dir/data"
	cat >"$dir/garage.toml" <<EOC
metadata_dir = "$dir/meta"
data_dir = "$dir/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpc"
rpc_public_addr = "127.0.0.1:$rpc"
rpc_secret = "$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$s3"
root_domain = ".s3.garage.localhost"
EOC
	GARAGE_LOG="$dir/server.log"
	RUST_LOG=garage_api_common=info "$bin" -c "$dir/garage.toml" server >"$GARAGE_LOG" 2>&1 &
	GARAGE_PID=$!
	local g="$bin -c $dir/garage.toml" id i
	for i in $(seq 150); do $g status >/dev/null 2>&1 && break; sleep 0.2; done
	id=$($g node id -q)
	$g layout assign -z dc1 -c 10G "${id%%@*}" >/dev/null
	$g layout apply --version 1 >/dev/null
	for i in $(seq 50); do $g bucket create "$BUCKET" >/dev/null 2>&1 && break; sleep 0.3; done
	local key
	key=$($g key create bench)
	AWS_ACCESS_KEY_ID=$(echo "$key" | awk '/Key ID:/ {print $NF}')
	AWS_SECRET_ACCESS_KEY=$(echo "$key" | awk '/Secret key:/ {print $NF}')
	$g bucket allow --read --write --owner "$BUCKET" --key bench >/dev/null
	export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION=garage
	export AWS_ENDPOINT_URL="http://127.0.0.1:$s3"
}

# bench_log_mark: the current length of the Garage log (pass it to bench_s3_requests).
bench_log_mark() { wc -l <"$GARAGE_LOG"; }

# bench_s3_requests MARK: the S3 requests Garage logged after MARK, per method ("HEAD 100000").
bench_s3_requests() {
	tail -n +"$(($1 + 1))" "$GARAGE_LOG" | sed 's/\x1b\[[0-9;]*m//g' |
		awk '!/in response to/ && /\(key GK[0-9a-f]+\) [A-Z]+ \// { for (i = 1; i < NF; i++) if ($i ~ /^GK/) { m = $(i + 1); n[m]++ } }
		END { for (m in n) print m, n[m] }' | sort
}
