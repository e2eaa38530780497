package secret

import (
	"bytes"
	"encoding/hex"
	"path"
	"regexp"
	"strings"

	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// Format rules: credential stores that have no token prefix to grep for,
// in the file formats of the programs that keep them. Each rule accepts
// only its files (Paths), runs only when one of its keywords occurs in the
// file (the shared prefilter; rules without keywords run on every file
// their Paths accept: small files of fixed names), parses the format and
// reports the field that holds the credential.

const fixConfigSecret = "Keep the credential out of the image: mount the file at run time (orchestrator secret, volume) or read the value from the environment set at deploy time; in the build use `RUN --mount=type=secret`."

// ruleShadowHash is the shadow rule's id: P1 and P2 split its findings
// (imagecfg.ShadowBaseLayers).
const ruleShadowHash = "SS-P1-shadow-hash"

// base returns the file name of p.
func base(p string) string { return path.Base(p) }

func baseIn(names ...string) func(string) bool {
	set := map[string]bool{}
	for _, n := range names {
		set[n] = true
	}
	return func(p string) bool { return set[path.Base(p)] }
}

func anyOf(fs ...func(string) bool) func(string) bool {
	return func(p string) bool {
		for _, f := range fs {
			if f(p) {
				return true
			}
		}
		return false
	}
}

// kvParse parses key/value files (kvPairs) and reports the keys that keep
// accepts (nil: the last key that SecretName accepts).
func kvParse(spaceSep bool, keep func(key string) bool) func(b []byte) []Field {
	if keep == nil {
		keep = func(k string) bool { return SecretName(lastKey(k)) }
	}
	return func(b []byte) []Field {
		var out []Field
		kvPairs(b, spaceSep, func(key string, s, e int) {
			if keep(key) {
				if f, ok := field(b, key, s, e); ok {
					out = append(out, f)
				}
			}
		})
		return out
	}
}

// lastKey strips the section and parents of a kvPairs key.
func lastKey(k string) string {
	if i := strings.LastIndexByte(k, ']'); i >= 0 {
		k = strings.TrimPrefix(k[i+1:], ".")
	}
	return k
}

// jsonParse reports the JSON string values (jsonPairs) whose keys keep
// accepts (nil: SecretName).
func jsonParse(keep func(key string) bool) func(b []byte) []Field {
	if keep == nil {
		keep = SecretName
	}
	return func(b []byte) []Field {
		var out []Field
		jsonPairs(b, func(key string, s, e int) {
			if keep(key) {
				if f, ok := field(b, key, s, e); ok {
					out = append(out, f)
				}
			}
		})
		return out
	}
}

// xmlParse reports the XML values (xmlFields) whose keys keep accepts
// (nil: SecretName); "….file" properties name a file, not a secret.
func xmlParse(keep func(key string) bool) func(b []byte) []Field {
	if keep == nil {
		keep = SecretName
	}
	return func(b []byte) []Field {
		var out []Field
		xmlFields(b, func(key, _ string, s, e int) {
			if keep(key) && !strings.HasSuffix(strings.ToLower(key), ".file") {
				if f, ok := field(b, key, s, e); ok {
					out = append(out, f)
				}
			}
		})
		return out
	}
}

// keyIn accepts the keys named (case-insensitive, last path segment).
func keyIn(names ...string) func(string) bool {
	set := map[string]bool{}
	for _, n := range names {
		set[strings.ToLower(n)] = true
	}
	return func(k string) bool {
		k = lastKey(k)
		if i := strings.LastIndexByte(k, '.'); i >= 0 {
			k = k[i+1:]
		}
		return set[strings.ToLower(k)]
	}
}

// reCryptHash matches crypt(3), apr1 and LDAP-style password hashes,
// which a rule can report with high confidence.
var reCryptHash = regexp.MustCompile(`^(?:\$(?:1|2[abxy]?|5|6|7|y|gy|sha1|md5|apr1|argon2(?:id|i|d)|scrypt|pbkdf2(?:-sha\d+)?)\$\S+|\{(?:SHA|SSHA|SHA256|SSHA256|SHA512|SSHA512|MD5|SMD5|CRYPT)\}\S+|[./0-9A-Za-z]{13})$`)

// colonFile parses passwd-style files (user:hash:…): shadow, htpasswd,
// ProFTPD/Pure-FTPd password files. An empty, locked ("!", "*") or
// shadowed ("x") field is no credential.
func colonFile(plainOK bool) func(b []byte) []Field {
	return func(b []byte) []Field {
		var out []Field
		eachLine(b, func(line []byte, off int) {
			line = bytes.TrimRight(line, "\r")
			if len(line) == 0 || line[0] == '#' {
				return
			}
			user, rest, ok := bytes.Cut(line, []byte(":"))
			if !ok || len(user) == 0 || bytes.ContainsAny(user, " \t") {
				return
			}
			// htpasswd hashes hold no colon; shadow's next field follows one.
			h := rest
			if i := bytes.IndexByte(rest, ':'); i >= 0 {
				h = rest[:i]
			}
			if len(h) == 0 || h[0] == '!' || h[0] == '*' || string(h) == "x" || bytes.ContainsAny(h, " \t") {
				return
			}
			s := off + len(user) + 1
			f := Field{Key: string(user), Start: s, End: s + len(h), Confidence: High}
			if !reCryptHash.Match(h) {
				if !plainOK {
					f.Confidence = Medium
				} else if c, d, ok := judge(string(h)); ok {
					f.Confidence, f.Default = c, d
				} else {
					return
				}
			}
			out = append(out, f)
		})
		return out
	}
}

// isShadow accepts shadow files and their backups: /etc/shadow,
// /etc/shadow-, and files of those names in other etc directories
// (chroots, backups of a root filesystem).
func isShadow(p string) bool {
	return isShadowName(path.Base(p)) && strings.HasSuffix(path.Dir(p), "/etc")
}

// isShadowName reports whether a file name is a shadow file's.
func isShadowName(b string) bool {
	return b == "shadow" || b == "shadow-" || b == "gshadow" || b == "gshadow-"
}

// pgpassParse reads .pgpass lines, hostname:port:database:username:password
// with \: and \\ escapes, and reports the password.
func pgpassParse(b []byte) []Field {
	var out []Field
	eachLine(b, func(line []byte, off int) {
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 || line[0] == '#' {
			return
		}
		var starts []int
		starts = append(starts, 0)
		for i := 0; i < len(line); i++ {
			if line[i] == '\\' {
				i++
				continue
			}
			if line[i] == ':' && len(starts) < 5 {
				starts = append(starts, i+1)
			}
		}
		if len(starts) != 5 {
			return
		}
		fieldAt := func(k int) string {
			e := len(line)
			if k+1 < len(starts) {
				e = starts[k+1] - 1
			}
			return string(line[starts[k]:e])
		}
		key := fieldAt(3) + "@" + fieldAt(0) + ":" + fieldAt(1) + "/" + fieldAt(2)
		if f, ok := field(b, key, off+starts[4], off+len(line)); ok {
			out = append(out, f)
		}
	})
	return out
}

// ppkParse reports a PuTTY private key: the Private-Lines block, encrypted
// unless "Encryption: none".
func ppkParse(b []byte) []Field {
	i := bytes.Index(b, []byte("Private-Lines:"))
	if i < 0 || !bytes.HasPrefix(b, []byte("PuTTY-User-Key-File-")) {
		return nil
	}
	s := i + bytes.IndexByte(b[i:], '\n') + 1
	if s <= i {
		return nil
	}
	e := len(b)
	if j := bytes.Index(b[s:], []byte("Private-MAC:")); j >= 0 {
		e = s + j
	}
	f := Field{Key: "Private-Lines", Start: s, End: e, Confidence: High}
	if !bytes.Contains(b[:i], []byte("Encryption: none")) {
		f.Confidence = Medium
		f.Key = "Private-Lines (encrypted)"
	}
	return []Field{f}
}

// gitCredentialsParse reads one URL per line: scheme://user:password@host,
// where the user may hold '@' (an e-mail address, escaped or not).
func gitCredentialsParse(b []byte) []Field {
	var out []Field
	eachLine(b, func(line []byte, off int) {
		line = bytes.TrimSpace(line)
		i := bytes.Index(line, []byte("://"))
		if i < 0 {
			return
		}
		ui := line[i+3:]
		at := bytes.LastIndexByte(ui, '@')
		if at < 0 {
			return
		}
		user, pass, ok := bytes.Cut(ui[:at], []byte(":"))
		if !ok || len(pass) == 0 {
			return
		}
		host := ui[at+1:]
		if j := bytes.IndexByte(host, '/'); j >= 0 {
			host = host[:j]
		}
		start := bytes.Index(line, ui) + len(user) + 1
		lineStart := off + bytes.Index(b[off:], line)
		if f, ok := field(b, string(user)+"@"+string(host), lineStart+start, lineStart+start+len(pass)); ok {
			out = append(out, f)
		}
	})
	return out
}

// wholeFile reports the file's first line as the credential (Rails
// master.key, Ansible vault password files), when it looks like one.
func wholeFile(key string, minLen int, hexOnly bool) func(b []byte) []Field {
	return func(b []byte) []Field {
		e := bytes.IndexByte(b, '\n')
		if e < 0 {
			e = len(b)
		}
		v := bytes.TrimSpace(b[:e])
		if len(v) < minLen || bytes.IndexByte(v, 0) >= 0 || bytes.HasPrefix(v, []byte("$ANSIBLE_VAULT")) {
			return nil
		}
		if hexOnly {
			if _, err := hex.DecodeString(string(v)); err != nil {
				return nil
			}
		}
		s := bytes.Index(b, v)
		f, ok := field(b, key, s, s+len(v))
		if !ok {
			return nil
		}
		if hexOnly {
			f.Confidence = High
		}
		return []Field{f}
	}
}

// binaryFile reports a binary key file by its hex digest-sized prefix.
func binaryFile(key string) func(b []byte) []Field {
	return func(b []byte) []Field {
		if len(b) < 16 {
			return nil
		}
		return []Field{{Key: key, Start: 0, End: min(len(b), 64), Value: hex.EncodeToString(b[:min(len(b), 32)]), Confidence: High}}
	}
}

// reMailPass finds the password statements of mail clients: esmtp
// ("password = x"), msmtp ("password x"), fetchmail ("password 'x'",
// "pass x" inside a poll line) and mutt ("set smtp_pass = x").
var reMailPass = regexp.MustCompile(`(?i)(?:^|[\s;])((?:set\s+)?(?:(?:smtp|imap|pop)_)?pass(?:word|wd)?)(?:\s*=\s*|\s+)("[^"\n]*"|'[^'\n]*'|[^\s"'#]+)`)

// mailRCParse reports the passwords of mail client rc files (reMailPass).
func mailRCParse(b []byte) []Field {
	var out []Field
	eachLine(b, func(line []byte, off int) {
		if t := bytes.TrimSpace(line); len(t) == 0 || t[0] == '#' {
			return
		}
		for _, m := range reMailPass.FindAllSubmatchIndex(line, -1) {
			key := strings.TrimSpace(strings.TrimPrefix(string(line[m[2]:m[3]]), "set "))
			if f, ok := field(b, key, off+m[4], off+m[5]); ok {
				out = append(out, f)
			}
		}
	})
	return out
}

// reConnPass and reConnOther find the password of database connection strings:
// ADO.NET/ODBC ("Server=…;User Id=…;Password=…;"), JDBC query parameters
// ("jdbc:mysql://h/db?user=u&password=p") and libpq keyword strings
// ("host=h dbname=d user=u password=p").
var (
	reConnPass  = regexp.MustCompile(`(?i)(?:^|[;?&\s"'])(password|pwd)\s*=\s*('[^'\n]*'|"[^"\n]*"|[^;&\s"'<>]+)`)
	reConnOther = regexp.MustCompile(`(?i)(?:server|host|hostname|data source|datasource|dbname|database|initial catalog|uid|user id|user|username|jdbc:[a-z]+:)\s*[=:]`)
)

// connStringParse reports connection string passwords (reConnPass) on
// lines that also name a server, database or user (reConnOther).
func connStringParse(b []byte) []Field {
	var out []Field
	eachLine(b, func(line []byte, off int) {
		for _, m := range reConnPass.FindAllSubmatchIndex(line, -1) {
			// The string around it must name a server, database or user.
			lo, hi := max(0, m[0]-200), min(len(line), m[1]+200)
			ctx := append(append([]byte{}, line[lo:m[2]]...), line[m[5]:hi]...)
			if !reConnOther.Match(ctx) {
				continue
			}
			if f, ok := field(b, "connection string "+string(line[m[2]:m[3]]), off+m[4], off+m[5]); ok {
				out = append(out, f)
			}
		}
	})
	return out
}

// rePHP matches PHP assignments: define('NAME', 'value'),
// $name = 'value'; public $password = 'value'; 'name' => 'value'.
var rePHP = regexp.MustCompile(`(?i)(?:define\(\s*['"]([A-Za-z0-9_]+)['"]\s*,\s*|\$([A-Za-z0-9_]+)\s*=\s*|['"]([A-Za-z0-9_.-]+)['"]\s*=>\s*)('[^'\n]*'|"[^"\n]*")`)

// phpParse reports the PHP assignments (rePHP) whose names keep accepts.
func phpParse(keep func(string) bool) func(b []byte) []Field {
	return func(b []byte) []Field {
		var out []Field
		for _, m := range rePHP.FindAllSubmatchIndex(b, MaxMatches*4) {
			var name string
			for g := 1; g <= 3; g++ {
				if m[2*g] >= 0 {
					name = string(b[m[2*g]:m[2*g+1]])
				}
			}
			if !keep(name) {
				continue
			}
			if f, ok := field(b, name, m[8], m[9]); ok {
				out = append(out, f)
			}
		}
		return out
	}
}

// rePy matches Python settings: NAME = 'value' and 'NAME': 'value'.
var rePy = regexp.MustCompile(`(?m)(?:^([A-Z][A-Z0-9_]*)\s*=\s*|['"]([A-Za-z_]+)['"]\s*:\s*)([rbu]?'[^'\n]*'|[rbu]?"[^"\n]*")`)

// pyParse reports the Python settings (rePy) that SecretName accepts.
func pyParse(b []byte) []Field {
	var out []Field
	for _, m := range rePy.FindAllSubmatchIndex(b, MaxMatches*4) {
		name := ""
		for g := 1; g <= 2; g++ {
			if m[2*g] >= 0 {
				name = string(b[m[2*g]:m[2*g+1]])
			}
		}
		if !SecretName(name) {
			continue
		}
		s := m[6]
		for s < m[7] && b[s] != '\'' && b[s] != '"' {
			s++
		}
		if f, ok := field(b, name, s, m[7]); ok {
			out = append(out, f)
		}
	}
	return out
}

// reInsert and reSQLHash find password hashes in the rows of INSERT
// statements.
var (
	reInsert  = regexp.MustCompile("(?i)insert\\s+into\\s+[`\"\\[]?([A-Za-z0-9_.]+)")
	reSQLHash = regexp.MustCompile(`'(\$(?:2[aby]|argon2(?:id|i|d)|[156]|P|H)\$[^']{20,}|pbkdf2_sha(?:1|256)\$\d+\$[^']+|sha1\$[^']+\$[0-9a-f]{40}|bcrypt\$[^']+)'`)
)

// sqlDumpParse reports the password hashes of INSERT statements.
func sqlDumpParse(b []byte) []Field {
	var out []Field
	eachLine(b, func(line []byte, off int) {
		m := reInsert.FindSubmatch(line)
		if m == nil {
			return
		}
		table := string(m[1])
		for _, h := range reSQLHash.FindAllSubmatchIndex(line, MaxMatches) {
			out = append(out, Field{Key: table + " row", Start: off + h[2], End: off + h[3], Confidence: High})
		}
	})
	return out
}

// reAnsible finds Ansible connection passwords in YAML variables files
// ("ansible_become_pass: x") and INI inventories, where one host line holds
// several key=value variables ("web1 ansible_host=h ansible_password=x").
var reAnsible = regexp.MustCompile(`(?:^|[\s{,])(ansible_(?:ssh_|become_|sudo_)?pass(?:word)?|vault_password)["']?\s*[:=]\s*("[^"\n]*"|'[^'\n]*'|[^\s,}#]+)`)

// ansibleParse reports Ansible connection passwords (reAnsible).
func ansibleParse(b []byte) []Field {
	var out []Field
	eachLine(b, func(line []byte, off int) {
		if t := bytes.TrimSpace(line); len(t) == 0 || t[0] == '#' || t[0] == ';' {
			return
		}
		for _, m := range reAnsible.FindAllSubmatchIndex(line, -1) {
			if f, ok := field(b, string(line[m[2]:m[3]]), off+m[4], off+m[5]); ok {
				out = append(out, f)
			}
		}
	})
	return out
}

// dbeaverCredsParse reports DBeaver's credentials-config.json: AES-encrypted
// with a key published in DBeaver's source, so as good as plain text.
func dbeaverCredsParse(b []byte) []Field {
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) {
		return jsonParse(nil)(b)
	}
	if len(b) < 32 {
		return nil
	}
	return []Field{{Key: "credentials-config.json (AES, DBeaver's default key)", Start: 0, End: min(len(b), 64), Value: hex.EncodeToString(b[:32]), Confidence: Medium}}
}

// isDjangoSettings accepts settings.py and settings packages.
func isDjangoSettings(p string) bool {
	if !strings.HasSuffix(p, ".py") {
		return false
	}
	b := path.Base(p)
	return b == "settings.py" || b == "local_settings.py" || strings.HasSuffix(p, "/settings/"+b)
}

func isPHPConfig(p string) bool {
	if !strings.HasSuffix(p, ".php") {
		return false
	}
	b := strings.ToLower(path.Base(p))
	if b == "wp-config.php" {
		return false
	}
	for _, w := range []string{"config", "setting", "database", "parameters", "localsettings", "secrets", "credentials"} {
		if strings.Contains(b, w) {
			return true
		}
	}
	return b == "db.php" || b == "env.php" || b == "local.php" || b == "conf.php"
}

func isSpring(p string) bool {
	b := path.Base(p)
	for _, pre := range []string{"application", "bootstrap"} {
		if strings.HasPrefix(b, pre) {
			switch path.Ext(b) {
			case ".properties", ".yml", ".yaml":
				return true
			}
		}
	}
	return false
}

func dirHas(parts ...string) func(string) bool {
	return func(p string) bool {
		for _, s := range parts {
			if strings.Contains(p, s) {
				return true
			}
		}
		return false
	}
}

func suffix(s ...string) func(string) bool { return pathSuffix(s...) }

var credKeywords = []string{"pass", "pwd", "secret", "token", "key", "credential"}

// withNear sets a rule's Near check.
func withNear(r *Rule, near func(b []byte, pos int) bool) *Rule { r.Near = near; return r }

// nearEquals holds when the keyword at b[pos:] is followed by "=" (after
// the rest of its word and blanks): "Password=", "pwd =".
func nearEquals(b []byte, pos int) bool {
	i := pos
	for i < len(b) && i-pos < 12 && (b[i] >= 'a' && b[i] <= 'z' || b[i] >= 'A' && b[i] <= 'Z') {
		i++
	}
	for i < len(b) && i-pos < 16 && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	return i < len(b) && b[i] == '='
}

// nearXMLName holds when the keyword at b[pos:] ends an XML name: an
// element (<password>), an attribute (password="), or the text of a
// name/key (<name>…Password</name>, key="SmtpPassword"); not in prose.
func nearXMLName(b []byte, pos int) bool {
	i := pos
	for i < len(b) && i-pos < 40 && isNameChar(b[i]) {
		i++
	}
	if i >= len(b) {
		return false
	}
	switch b[i] {
	case '>', '=', '"', '\'', '<', '/':
	default:
		return false
	}
	j := pos
	for j > 0 && pos-j < 64 && isNameChar(b[j-1]) {
		j--
	}
	return j > 0 && (b[j-1] == '<' || b[j-1] == '>' || b[j-1] == '"' || b[j-1] == '\'' || b[j-1] == ' ' || b[j-1] == '\t')
}

// local marks a line-based rule Local.
func local(r *Rule) *Rule { r.Local = true; return r }

// formatRules returns the format rules, in the order they take precedence.
func formatRules() []*Rule {
	fr := func(id, kind string, paths func(string) bool, keywords []string, parse func([]byte) []Field) *Rule {
		return &Rule{ID: id, Kind: kind, Paths: paths, Keywords: keywords, Parse: parse, Severity: scorecard.High, Fix: fixConfigSecret}
	}
	wpKeys := keyIn("DB_PASSWORD", "AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY", "AUTH_SALT", "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT")
	envKeep := func(k string) bool { return SecretName(k) || strings.HasSuffix(strings.ToUpper(k), "_KEY") }
	return []*Rule{
		// Unix and web.
		fr(ruleShadowHash, "password hash in a shadow file", isShadow, nil, colonFile(false)),
		fr("SS-P1-htpasswd", "password hash in an htpasswd file", func(p string) bool { return strings.Contains(base(p), "htpasswd") }, nil, colonFile(true)),
		fr("SS-P1-ftpd-passwd", "password hash in an FTP server password file", anyOf(baseIn("ftpd.passwd", "proftpd.passwd", "pureftpd.passwd", "ftpasswd"), suffix("/proftpd/passwd")), nil, colonFile(false)),
		fr("SS-P1-pgpass", "PostgreSQL password (.pgpass)", baseIn(".pgpass", "pgpass.conf", "pgpass"), nil, pgpassParse),
		fr("SS-P1-mysql-cnf", "MySQL client password (my.cnf)", anyOf(baseIn(".my.cnf", "my.cnf", ".mylogin.cnf"), func(p string) bool { return strings.Contains(p, "/mysql/") && path.Ext(p) == ".cnf" }), []string{"pass"}, kvParse(false, keyIn("password", "pass"))),
		// Remote access and transfer.
		fr("SS-P1-putty-key", "PuTTY private key", func(p string) bool { return strings.HasSuffix(p, ".ppk") }, []string{"PuTTY-User-Key-File-"}, ppkParse),
		fr("SS-P1-filezilla", "FileZilla stored password", baseIn("sitemanager.xml", "recentservers.xml", "filezilla.xml"), []string{"<pass"}, xmlParse(keyIn("Pass"))),
		fr("SS-P1-winscp", "WinSCP stored password", func(p string) bool { return strings.EqualFold(base(p), "winscp.ini") }, []string{"password"}, kvParse(false, keyIn("Password", "PasswordPlain", "ProxyPassword", "TunnelPassword"))),
		fr("SS-P1-editor-sftp", "editor SFTP/FTP password", anyOf(baseIn("sftp-config.json", ".ftpconfig", ".remote-sync.json"), suffix("/.vscode/sftp.json")), []string{"pass"}, jsonParse(keyIn("password", "pass", "passphrase"))),
		fr("SS-P1-jetbrains", "JetBrains stored password", baseIn("WebServers.xml", "dataSources.xml", "dataSources.local.xml", "sshConfigs.xml", "deployment.xml"), []string{"pass"}, xmlParse(nil)),
		fr("SS-P1-dbeaver", "DBeaver connection password", anyOf(suffix("/.dbeaver/credentials-config.json", "/.dbeaver/data-sources.json"), dirHas("/DBeaverData/")), nil, dbeaverCredsParse),
		fr("SS-P1-mongo-gui", "MongoDB GUI stored password", anyOf(baseIn("robomongo.json", "robo3t.json", "studio3t.json"), dirHas("/.3T/", "/.config/3T/")), []string{"pass"}, jsonParse(nil)),
		fr("SS-P1-voice-server", "voice chat server password", baseIn("ventrilo_srv.ini", "ts3server.ini", "ts3db_mariadb.ini", "ts3db_mysql.ini", "murmur.ini", "mumble-server.ini"), []string{"pass"}, kvParse(false, nil)),
		fr("SS-P1-mail-client", "mail client password", baseIn(".esmtprc", ".msmtprc", "msmtprc", ".fetchmailrc", ".muttrc", "muttrc", ".neomuttrc"), []string{"pass"}, mailRCParse),
		// Frameworks.
		fr("SS-P1-rails-master-key", "Rails master key (decrypts credentials.yml.enc)", func(p string) bool {
			return strings.HasSuffix(p, "/config/master.key") || strings.Contains(p, "/config/credentials/") && strings.HasSuffix(p, ".key")
		}, nil, wholeFile("master.key", 32, true)),
		fr("SS-P1-rails-secrets", "Rails secret_key_base", baseIn("secrets.yml", "secrets.yaml"), []string{"secret_key_base"}, kvParse(false, keyIn("secret_key_base"))),
		fr("SS-P1-django", "Django secret or database password", isDjangoSettings, []string{"secret_key", "password"}, pyParse),
		fr("SS-P1-wordpress", "WordPress database password or auth key", baseIn("wp-config.php"), []string{"define"}, phpParse(wpKeys)),
		fr("SS-P1-php-config", "password in PHP configuration", isPHPConfig, credKeywords, phpParse(SecretName)),
		fr("SS-P1-dotenv", "secret in .env file", isEnvFile, credKeywords, kvParse(false, envKeep)),
		fr("SS-P1-spring", "Spring configuration secret", isSpring, credKeywords, kvParse(false, nil)),
		fr("SS-P1-jenkins-credentials", "Jenkins stored credential", anyOf(baseIn("credentials.xml"), func(p string) bool { return strings.Contains(p, "jenkins") && path.Base(p) == "config.xml" }), []string{"password", "secret", "privatekey", "token", "passphrase"},
			xmlParse(keyIn("password", "secret", "privateKey", "passphrase", "apiToken", "token", "secretBytes"))),
		fr("SS-P1-jenkins-master-key", "Jenkins secret (master key, hudson.util.Secret or initial admin password)", suffix("/secrets/master.key", "/secrets/hudson.util.Secret", "/secrets/initialAdminPassword"), nil, func(b []byte) []Field {
			if bytes.IndexByte(b, 0) >= 0 || bytes.IndexFunc(b, func(r rune) bool { return r > 127 }) >= 0 {
				return binaryFile("hudson.util.Secret")(b)
			}
			return wholeFile("secret", 32, true)(b)
		}),
		fr("SS-P1-tomcat-users", "Tomcat user password", baseIn("tomcat-users.xml"), []string{"password"}, xmlParse(keyIn("password"))),
		fr("SS-P1-hadoop-site", "Hadoop/Hive configuration secret", func(p string) bool {
			b := base(p)
			return strings.HasSuffix(b, "-site.xml") || b == "ssl-server.xml" || b == "ssl-client.xml"
		}, credKeywords, xmlParse(nil)),
		// Tools and clouds.
		fr("SS-P1-gh-token", "GitHub CLI / hub OAuth token", suffix("/gh/hosts.yml", "/.config/hub", "/hub/config"), []string{"oauth_token"}, kvParse(false, keyIn("oauth_token"))),
		fr("SS-P1-git-credentials", "password in .git-credentials", anyOf(baseIn(".git-credentials"), suffix("/git/credentials")), nil, gitCredentialsParse),
		fr("SS-P1-cloud-cli", "cloud CLI credential", baseIn(".s3cfg", ".boto", ".tugboat", "heroku.json", ".passwd-s3fs", "passwd-s3fs", ".dockercfg-s3"), credKeywords, kvParse(false, nil)),
		fr("SS-P1-gcloud", "gcloud stored credential", dirHas("/.config/gcloud/", "/gcloud/legacy_credentials/"), []string{"refresh_token", "client_secret", "access_token"}, jsonParse(keyIn("refresh_token", "client_secret", "access_token", "token"))),
		fr("SS-P1-azure-tokens", "Azure CLI token", dirHas("/.azure/"), []string{"token", "secret"}, jsonParse(keyIn("accessToken", "refreshToken", "secret", "access_token", "refresh_token"))),
		fr("SS-P1-terraform", "secret in Terraform state or variables", func(p string) bool {
			return strings.HasSuffix(p, ".tfstate") || strings.HasSuffix(p, ".tfstate.backup") || strings.HasSuffix(p, ".tfvars") || strings.HasSuffix(p, ".tfvars.json")
		}, credKeywords, func(b []byte) []Field {
			if bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) {
				return jsonParse(nil)(b)
			}
			return kvParse(false, nil)(b)
		}),
		fr("SS-P1-ansible-vault-password", "Ansible vault password file", baseIn(".vault_pass", ".vault_pass.txt", "vault_pass.txt", ".vault-pass", ".vault-password", "vault-password", "vault_password", ".vault_password", "vault-password.txt"), nil, wholeFile("vault password", 4, false)),
		fr("SS-P1-ansible", "Ansible connection password", dirHas("/group_vars/", "/host_vars/", "/inventory", "/ansible/hosts", "/etc/ansible/", "/playbooks/"), []string{"ansible_", "vault_password"}, ansibleParse),
		fr("SS-P1-browser-logins", "browser saved password (encrypted with the profile key)", baseIn("logins.json", "signons.json"), []string{"encryptedpassword"}, func(b []byte) []Field {
			fs := jsonParse(keyIn("encryptedPassword"))(b)
			for i := range fs {
				fs[i].Confidence = Medium
			}
			return fs
		}),
		local(fr("SS-P1-sql-dump", "password hash in a SQL dump", func(p string) bool { return strings.HasSuffix(p, ".sql") || strings.HasSuffix(p, ".dump") }, []string{"insert"}, sqlDumpParse)),
		// Generic structured configuration.
		withNear(local(fr("SS-P1-connection-string", "database connection string password", isConfigFile, []string{"password", "pwd="}, connStringParse)), nearEquals),
		withNear(fr("SS-P1-xml-credential", "credential in XML configuration", func(p string) bool { e := path.Ext(p); return (e == ".xml" || e == ".config") && !isSystemData(p) }, []string{"pass", "pwd", "secret", "token", "credential"}, xmlParse(nil)), nearXMLName),
	}
}

// isSystemData reports whether p is in a tree of distribution or language
// package data (documentation, schemas, library resources), where the
// generic XML rule would only find examples; the rules of named formats
// still look there.
func isSystemData(p string) bool {
	for _, d := range []string{"/usr/share/", "/usr/lib/python", "/usr/local/lib/python", "/site-packages/", "/dist-packages/", "/node_modules/", "/usr/lib/jvm/", "/gems/", "/go/pkg/mod/"} {
		if strings.Contains(p, d) {
			return true
		}
	}
	return false
}
