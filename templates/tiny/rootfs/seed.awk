# /usr/lib/labd/seed.awk: read the cloud-init NoCloud meta-data, user-data
# and network-config that labd writes and print them as records that a
# shell can read safely, one a line, fields separated by US (\037):
#
#   I US instance-id
#   H US hostname                 (user-data's hostname, else local-hostname)
#   U US name US gecos US shell US lock(0|1) US passwd-hash
#   K US name US authorized-key
#   F US path US permissions US encoding US content   (write_files)
#   N US address/prefix US gateway US dns... US mac   (network-config, checked)
#   X US why network-config cannot be used
#
# This is not a YAML parser.  It reads the one shape labd writes: top-level
# "key: value" lines, a "users:" list whose items are "- key: value" maps,
# and "ssh_authorized_keys:" lists inside them, and a "write_files:" list
# of "- key: value" maps (path, permissions, encoding, content; labd writes
# content in base64, so one line holds it).  Scalars may be double quoted
# (only \\ and \" are escapes), single quoted ('' is a quote) or plain.
# Control characters never reach the output, so no field can hold US or a
# newline; the shell still validates every field before it uses it.
#
# network-config (version 2, netplan) is read by indentation instead, as
# people write it in more shapes: any indent, an optional top-level
# "network:", flow lists ("addresses: [10.0.2.20/24]"), "routes:" items
# or "gateway4:".  Of the first interface under "ethernets:" it takes the
# first IPv4 address, the default route's gateway, the IPv4 name servers
# and the MAC of "match: macaddress:"; the shapes are checked here, so that
# an N record holds only digits, dots, slashes, colons and spaces.  The
# guest has one NIC, eth0: an interface matched by neither MAC nor that name
# is refused (X), as cloud-init would find no device for it.
#
#   awk -f seed.awk meta-data user-data network-config

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

function file_set(f, k, v) {
	if (k == "path")
		fpath[f] = unquote(v)
	else if (k == "permissions")
		fperm[f] = unquote(v)
	else if (k == "encoding")
		fenc[f] = unquote(v)
	else if (k == "content")
		fcont[f] = unquote(v)
}

# --- network-config -------------------------------------------------------

# Where the quoted scalar at the start of s ends (its closing quote), 0 if
# it does not start with one or never ends.
function qend(s,    q, i, n, c) {
	q = substr(s, 1, 1)
	if (q != "\"" && q != "'")
		return 0
	n = length(s)
	for (i = 2; i <= n; i++) {
		c = substr(s, i, 1)
		if (q == "\"" && c == "\\")
			i++
		else if (c == q) {
			if (q == "'" && substr(s, i + 1, 1) == "'")
				i++
			else
				return i
		}
	}
	return 0
}

# Is s "key: value" (a colon then a blank or the end)?  Sets K and V.  A
# quoted scalar with ": " inside ("- \"a: b\"") is a value, not a key.
function netkey(s,    e, r) {
	e = qend(s)
	r = substr(s, e + 1)
	if (!match(r, /:([ \t]|$)/))
		return 0
	if (e > 0 && RSTART != 1)
		return 0
	K = e > 0 ? unquote(substr(s, 1, e)) : substr(r, 1, RSTART - 1)
	sub(/[ \t]+$/, "", K)
	V = substr(r, RSTART + 1)
	sub(/^[ \t]+/, "", V)
	if (V ~ /^#/)
		V = ""
	return K != ""
}

# One line of network-config at indent ind.  L[1..depth] is the path of
# mapping keys (and "#N" for the Nth item of a list of maps) that holds it,
# LI[] their indents.
function netline(ind, s,    p, i, n, el, col) {
	while (depth > 0 && ind <= LI[depth])
		depth--
	p = ""
	for (i = 1; i <= depth; i++)
		p = p "/" L[i]
	if (s ~ /^-([ \t]|$)/) {
		col = ind + 1
		s = substr(s, 2)
		while (s ~ /^[ \t]/) {
			s = substr(s, 2)
			col++
		}
		if (!netkey(s)) {
			netval(p, s)
			return
		}
		LI[++depth] = ind
		L[depth] = "#" (++nitem[p])
		p = p "/" L[depth]
		ind = col
	} else if (!netkey(s))
		return
	if (V == "") {
		LI[++depth] = ind
		L[depth] = K
		return
	}
	if (V ~ /^\[/) {
		sub(/^\[/, "", V)
		sub(/\][ \t]*(#.*)?$/, "", V)
		n = split(V, el, ",")
		for (i = 1; i <= n; i++)
			netval(p "/" K, el[i])
		return
	}
	netval(p "/" K, V)
}

# A scalar at path ("/ethernets/eth0/addresses"); v as written.
function netval(path, v,    f, n, sub3) {
	v = unquote(v)
	sub(/^\/network\//, "/", path)
	n = split(path, f, "/")
	if (path == "/version") {
		nver = v
		return
	}
	if (n < 4 || f[2] != "ethernets")
		return
	if (nif == "")
		nif = f[3]
	if (f[3] != nif)
		return
	sub3 = substr(path, length(f[2]) + length(f[3]) + 3)
	if (sub3 == "/match/macaddress")
		nmac = tolower(v)
	else if (sub3 == "/addresses" && naddr == "" && v !~ /:/)
		naddr = v
	else if (sub3 == "/gateway4")
		ngw4 = v
	else if (sub3 == "/dhcp4")
		ndhcp = v
	else if (sub3 == "/nameservers/addresses" && v !~ /:/)
		ndns = ndns (ndns == "" ? "" : " ") v
	else if (f[4] == "routes" && n == 6 && f[6] == "to")
		rto[f[5]] = v
	else if (f[4] == "routes" && n == 6 && f[6] == "via")
		rvia[f[5]] = v
}

function ip4(s,    o, i) {
	if (split(s, o, ".") != 4 || s ~ /\.$/)
		return 0
	for (i = 1; i <= 4; i++)
		if (o[i] !~ /^(0|[1-9][0-9]?[0-9]?)$/ || o[i] + 0 > 255)
			return 0
	return 1
}

function cidr4(s) {
	return s ~ /^[0-9.]+\/(0|[1-9]|[12][0-9]|3[0-2])$/ &&
	    ip4(substr(s, 1, index(s, "/") - 1))
}

# The N record, or X with the reason.
function netrecord(    gw, r, i, n, d) {
	if (nver != "2")
		return "X" US "version \"" nver "\" is not 2"
	if (nif == "")
		return "X" US "no interface under ethernets:"
	if (nmac == "" && nif != "eth0")
		return "X" US "interface " nif " has no match: macaddress and the guest has only eth0"
	if (nmac != "" && nmac !~ /^[0-9a-f][0-9a-f](:[0-9a-f][0-9a-f])(:[0-9a-f][0-9a-f])(:[0-9a-f][0-9a-f])(:[0-9a-f][0-9a-f])(:[0-9a-f][0-9a-f])$/)
		return "X" US "bad MAC \"" nmac "\""
	if (naddr == "")
		return "X" US "no static IPv4 address" (ndhcp ~ /^(true|yes|on)$/ ? " (dhcp4 is not supported)" : "")
	if (!cidr4(naddr))
		return "X" US "address \"" naddr "\" is not IPv4/prefix"
	gw = ""
	for (r in rto)
		if (rto[r] == "0.0.0.0/0" || rto[r] == "default")
			gw = rvia[r]
	if (gw == "")
		gw = ngw4
	if (gw != "" && !ip4(gw))
		return "X" US "gateway \"" gw "\" is not IPv4"
	n = split(ndns, d, " ")
	for (i = 1; i <= n; i++)
		if (!ip4(d[i]))
			return "X" US "name server \"" d[i] "\" is not IPv4"
	return "N" US naddr US gw US ndns US nmac
}

BEGIN {
	CTRL = "[" sprintf("%c", 1) "-" sprintf("%c", 31) sprintf("%c", 127) "]"
	US = sprintf("%c", 31)
	nu = 0
	u = 0
}

FNR == 1 {
	meta = (FILENAME ~ /meta-data$/)
	net = (FILENAME ~ /network-config$/)
	if (net)
		nets = 1
	depth = 0
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

net {
	netline(ind, rest)
	next
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

!meta && top == "write_files" && rest ~ /^-([ \t]|$)/ {
	item = substr(rest, 2)
	sub(/^[ \t]+/, "", item)
	fi = ++nf
	find = ind
	keyval(item)
	file_set(fi, K, V)
	next
}

!meta && top == "write_files" && nf > 0 && ind > find {
	keyval(rest)
	file_set(nf, K, V)
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
	if (nets)
		print netrecord()
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
	for (f = 1; f <= nf; f++)
		if (fpath[f] != "")
			printf "F%s%s%s%s%s%s%s%s\n", US, fpath[f], US, fperm[f],
				US, fenc[f], US, fcont[f]
}
