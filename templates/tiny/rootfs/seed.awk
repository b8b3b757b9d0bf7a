# /usr/lib/labd/seed.awk: read the cloud-init NoCloud meta-data and
# user-data that labd writes and print them as records that a shell can read
# safely, one a line, fields separated by US (\037):
#
#   I US instance-id
#   H US hostname                 (user-data's hostname, else local-hostname)
#   U US name US gecos US shell US lock(0|1) US passwd-hash
#   K US name US authorized-key
#
# This is not a YAML parser.  It reads the one shape labd writes: top-level
# "key: value" lines, a "users:" list whose items are "- key: value" maps,
# and "ssh_authorized_keys:" lists inside them.  Scalars may be double quoted
# (only \\ and \" are escapes), single quoted ('' is a quote) or plain.
# Control characters never reach the output, so no field can hold US or a
# newline; the shell still validates every field before it uses it.
#
#   awk -f seed.awk meta-data user-data

function clean(s) {
	gsub(CTRL, " ", s)
	return s
}

function unquote(v,    out, i, n, c) {
	sub(/^[ \t]+/, "", v)
	sub(/[ \t\r]+$/, "", v)
	n = length(v)
	out = ""
	if (substr(v, 1, 1) == "\"") {
		for (i = 2; i <= n; i++) {
			c = substr(v, i, 1)
			if (c == "\\") {
				i++
				c = substr(v, i, 1)
			} else if (c == "\"")
				break
			out = out c
		}
		return clean(out)
	}
	if (substr(v, 1, 1) == "'") {
		for (i = 2; i <= n; i++) {
			c = substr(v, i, 1)
			if (c == "'") {
				if (substr(v, i + 1, 1) != "'")
					break
				i++
			}
			out = out c
		}
		return clean(out)
	}
	sub(/[ \t]+#.*$/, "", v)	# a comment after a plain scalar
	return clean(v)
}

# Split "key: value" into K and V (globals); the key never holds a colon.
function keyval(s) {
	K = s
	sub(/:.*$/, "", K)
	sub(/[ \t]+$/, "", K)
	V = s
	if (!sub(/^[^:]*:/, "", V))
		V = ""
}

function user_set(u, k, v) {
	if (k == "name")
		name[u] = unquote(v)
	else if (k == "gecos")
		gecos[u] = unquote(v)
	else if (k == "shell")
		shell[u] = unquote(v)
	else if (k == "lock_passwd")
		lock[u] = (unquote(v) == "true") ? 1 : 0
	else if (k == "passwd")
		hash[u] = unquote(v)
	else if (k == "ssh_authorized_keys")
		inkeys = 1
}

BEGIN {
	CTRL = "[" sprintf("%c", 1) "-" sprintf("%c", 31) sprintf("%c", 127) "]"
	US = sprintf("%c", 31)
	nu = 0
	u = 0
}

FNR == 1 {
	meta = (FILENAME ~ /meta-data$/)
	top = ""
	u = 0
	inkeys = 0
}

{ sub(/\r$/, "") }
/^[ \t]*(#|$)/ { next }

{
	ind = match($0, /[^ ]/) - 1
	rest = substr($0, ind + 1)
}

ind == 0 {
	keyval(rest)
	top = K
	inkeys = 0
	u = 0
	if (meta && K == "instance-id")
		iid = unquote(V)
	else if (meta && K == "local-hostname")
		lhost = unquote(V)
	else if (!meta && K == "hostname")
		uhost = unquote(V)
	next
}

meta || top != "users" { next }

rest ~ /^-([ \t]|$)/ {
	item = substr(rest, 2)
	sub(/^[ \t]+/, "", item)
	if (inkeys && u > 0 && ind > uind) {
		k = unquote(item)
		if (k != "")
			keys[u, ++nk[u]] = k
		next
	}
	inkeys = 0
	if (item !~ /^[A-Za-z_]+:/) {	# "- default" and the like
		u = 0
		next
	}
	u = ++nu
	uind = ind
	nk[u] = 0
	lock[u] = 0
	keyval(item)
	user_set(u, K, V)
	next
}

u > 0 && ind > uind {
	inkeys = 0
	keyval(rest)
	user_set(u, K, V)
}

END {
	printf "I%s%s\n", US, iid
	printf "H%s%s\n", US, (uhost != "" ? uhost : lhost)
	for (u = 1; u <= nu; u++) {
		if (name[u] == "")
			continue
		printf "U%s%s%s%s%s%s%s%d%s%s\n", US, name[u], US, gecos[u], US,
			shell[u], US, lock[u], US, hash[u]
		for (i = 1; i <= nk[u]; i++)
			printf "K%s%s%s%s\n", US, name[u], US, keys[u, i]
	}
}
