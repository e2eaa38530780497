package secret

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"unicode"
)

// Confidence says how sure a rule is that a value is a live credential.
type Confidence string

// Confidence levels. A finding's severity follows its confidence: high
// keeps the rule's severity, medium caps it at medium, low at low.
const (
	High   Confidence = "high"
	Medium Confidence = "medium"
	Low    Confidence = "low"
)

// Field is a credential a format parser found: the value is b[Start:End]
// of the content it parsed (or Value, for values the parser decoded).
type Field struct {
	// Key names the field that holds the credential ("[client].password",
	// "spring.datasource.password", "root" for a shadow entry).
	Key        string
	Start, End int
	// Value, when set, replaces b[Start:End] (a binary or decoded value).
	Value      string
	Confidence Confidence
	// Default is set for a weak default value ("changeme", "password"):
	// still a finding, at low confidence, saying it looks like a default.
	Default bool
}

// credWords are the last segments of key names that hold a credential;
// credPairs the last two segments.
var (
	credWords = map[string]bool{"password": true, "passwd": true, "pass": true, "pwd": true, "secret": true, "token": true,
		"apikey": true, "passphrase": true, "credential": true, "credentials": true, "secretkey": true, "privatekey": true,
		"authkey": true, "accesstoken": true, "refreshtoken": true, "authtoken": true, "clientsecret": true, "pw": true, "pat": true}
	credPairs = map[string]bool{"api_key": true, "secret_key": true, "private_key": true, "auth_key": true, "client_secret": true,
		"access_token": true, "refresh_token": true, "auth_token": true, "oauth_token": true, "app_key": true, "master_key": true,
		"access_key": false, "key_base": true, "app_secret": true, "encryption_key": true, "signing_key": true, "api_token": true}
)

// keySegments splits a key name into lower-case words at punctuation and
// camelCase boundaries: "spring.datasource.userPassword" → spring,
// datasource, user, password.
func keySegments(k string) []string {
	var segs []string
	var cur []rune
	prevLower := false
	flush := func() {
		if len(cur) > 0 {
			segs = append(segs, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	for _, r := range k {
		switch {
		case unicode.IsUpper(r):
			if prevLower {
				flush()
			}
			cur = append(cur, r)
			prevLower = false
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			cur = append(cur, r)
			prevLower = true
		default:
			flush()
			prevLower = false
		}
	}
	flush()
	return segs
}

// SecretName reports whether a variable, key or property name says that
// it holds a credential: its last word is one (DB_PASSWORD, apiToken,
// spring.datasource.password, smtp_pass) or its last two are (API_KEY,
// client-secret, secret_key_base). Names that point at a credential
// instead of holding it (…_FILE, …_PATH, …_URL, …_ID) are not. It is the
// one name rule of P1: file content, image config and Dockerfile lint use
// it alike.
func SecretName(name string) bool {
	segs := keySegments(name)
	n := len(segs)
	if n == 0 {
		return false
	}
	last := segs[n-1]
	if credWords[last] {
		return true
	}
	if n >= 2 && credPairs[segs[n-2]+"_"+last] {
		return true
	}
	if n >= 3 && segs[n-3]+"_"+segs[n-2]+"_"+last == "secret_access_key" {
		return true
	}
	// Glued forms: "dbpassword", "smtppass", "wgDBpassword".
	for _, w := range []string{"password", "passwd", "secret", "token", "apikey", "passphrase"} {
		if strings.HasSuffix(last, w) {
			return true
		}
	}
	return false
}

// notAValue reports whether v is a reference or a template rather than a
// value: nothing to report.
func notAValue(v string) bool {
	l := strings.ToLower(strings.TrimSpace(v))
	if l == "" || strings.Trim(l, l[:1]) == "" {
		return true
	}
	for _, p := range []string{"${", "$(", "{{", "%(", "<%", "#{", "<", "env(", "env:", "%env", "vault:", "secret:", "process.env", "getenv", "os.environ"} {
		if strings.Contains(l, p) {
			return true
		}
	}
	if l[0] == '$' || l[0] == '%' || l[0] == '`' || l[0] == '@' && len(l) > 1 && l[len(l)-1] == '@' {
		return true
	}
	for _, w := range []string{"null", "none", "nil", "undefined", "true", "false", "''", `""`, "your_", "your-", "yourpass", "placeholder", "redacted", "replace", "insert", "todo", "fixme", "xxxx", "****", "put your unique phrase here"} {
		if l == w || len(w) > 4 && strings.Contains(l, w) {
			return true
		}
	}
	return false
}

// weakDefaults are values that installers and examples ship: still a
// credential in an image, but one that says it is a default.
var weakDefaults = []string{"password", "passw0rd", "p@ssw0rd", "changeme", "change_me", "change-me", "changeit", "secret", "admin", "administrator",
	"example", "test", "test123", "testing", "123456", "1234567", "12345678", "123456789", "letmein", "qwerty", "root", "toor", "default", "pass", "guest",
	"demo", "sample", "dummy", "foobar", "s3cr3t", "mysecret", "mypassword", "welcome", "tomcat", "manager", "postgres", "mysql"}

func weakDefault(v string) bool {
	l := strings.ToLower(strings.TrimSpace(v))
	for _, w := range weakDefaults {
		if l == w || strings.Contains(l, "changeme") || strings.Contains(l, "example") || strings.HasPrefix(l, "dummy") {
			return true
		}
	}
	return false
}

// judge decides the confidence of a value found in a field named like a
// credential: references are dropped, weak defaults are low, long random
// values high, the rest medium.
func judge(v string) (Confidence, bool, bool) {
	v = strings.TrimSpace(v)
	switch {
	case notAValue(v):
		return "", false, false
	case weakDefault(v):
		return Low, true, true
	case len(v) >= 8 && entropy(v) >= 3.0:
		return High, false, true
	}
	return Medium, false, true
}

// field builds the Field for value b[s:e] under key, judged by judge;
// ok is false for values that are not values.
func field(b []byte, key string, s, e int) (Field, bool) {
	for s < e && (b[s] == ' ' || b[s] == '\t' || b[s] == '\n' || b[s] == '\r') {
		s++
	}
	for e > s && (b[e-1] == ' ' || b[e-1] == '\t' || b[e-1] == '\r' || b[e-1] == '\n' || b[e-1] == ';' || b[e-1] == ',') {
		e--
	}
	if e-s >= 2 && (b[s] == '"' || b[s] == '\'') && b[e-1] == b[s] {
		s, e = s+1, e-1
	}
	c, d, ok := judge(string(b[s:e]))
	if !ok {
		return Field{}, false
	}
	return Field{Key: key, Start: s, End: e, Confidence: c, Default: d}, true
}

// eachLine calls fn for every line of b with its start offset.
func eachLine(b []byte, fn func(line []byte, off int)) {
	off := 0
	for off < len(b) {
		end := bytes.IndexByte(b[off:], '\n')
		if end < 0 {
			end = len(b) - off
		}
		fn(b[off:off+end], off)
		off += end + 1
	}
}

// kvPairs parses INI, properties, dotenv, rc and flat YAML files: "[section]"
// headers, "key = value", "key: value", "key value" (sep ' ' allowed),
// "export KEY=value", comments with # or ;. For indented YAML, the key is
// the dotted path of the enclosing keys. fn gets the key and the value's
// bounds.
func kvPairs(b []byte, spaceSep bool, fn func(key string, s, e int)) {
	section := ""
	type level struct {
		indent int
		key    string
	}
	var stack []level
	eachLine(b, func(line []byte, off int) {
		t := bytes.TrimLeft(line, " \t")
		indent := len(line) - len(t)
		t = bytes.TrimRight(t, " \t\r")
		if len(t) == 0 || t[0] == '#' || t[0] == ';' || t[0] == '!' || bytes.HasPrefix(t, []byte("//")) {
			return
		}
		if t[0] == '[' && t[len(t)-1] == ']' {
			section, stack = string(t[1:len(t)-1]), nil
			return
		}
		t = bytes.TrimPrefix(t, []byte("export "))
		t = bytes.TrimPrefix(t, []byte("- "))
		ks := bytes.Index(b[off:off+len(line)], t) + off // start of t in b
		i := 0
		for i < len(t) && t[i] != '=' && t[i] != ':' && !(spaceSep && (t[i] == ' ' || t[i] == '\t')) {
			i++
		}
		if i == 0 || i >= len(t) {
			return
		}
		key := strings.Trim(string(bytes.TrimSpace(t[:i])), `"'`)
		j := i + 1
		if t[i] == ':' && j < len(t) && t[j] == '=' {
			j++
		}
		vs := ks + j
		ve := ks + len(t)
		// A trailing comment after a space.
		if k := bytes.Index(t[j:], []byte(" #")); k >= 0 && !bytes.ContainsAny(t[j:j+k], `"'`) {
			ve = ks + j + k
		}
		for len(stack) > 0 && stack[len(stack)-1].indent >= indent {
			stack = stack[:len(stack)-1]
		}
		path := key
		if len(stack) > 0 {
			path = stack[len(stack)-1].key + "." + key
		}
		if section != "" {
			path = "[" + section + "]." + path
		}
		if strings.TrimSpace(string(b[vs:ve])) == "" {
			if t[i] == ':' {
				p := key
				if len(stack) > 0 {
					p = stack[len(stack)-1].key + "." + key
				}
				stack = append(stack, level{indent, p})
			}
			return
		}
		fn(path, vs, ve)
	})
}

// jsonPairs finds the "key": "string" pairs of JSON (also JSON with
// comments, and JSON inside other bytes, such as a SQLite page), honouring
// string escapes. fn gets the key and the bounds of the string value
// without its quotes.
func jsonPairs(b []byte, fn func(key string, s, e int)) {
	str := func(i int) int { // b[i] == '"': index after the closing quote, or -1
		for j := i + 1; j < len(b) && j-i < 64<<10; j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1
			case '\n':
				return -1
			}
		}
		return -1
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '"' {
			continue
		}
		ke := str(i)
		if ke < 0 {
			continue
		}
		j := ke
		for j < len(b) && (b[j] == ' ' || b[j] == '\t' || b[j] == '\r' || b[j] == '\n') {
			j++
		}
		if j >= len(b) || b[j] != ':' {
			i = ke - 1
			continue
		}
		j++
		for j < len(b) && (b[j] == ' ' || b[j] == '\t' || b[j] == '\r' || b[j] == '\n') {
			j++
		}
		if j < len(b) && b[j] == '"' {
			if ve := str(j); ve > 0 {
				fn(string(b[i+1:ke-1]), j+1, ve-1)
				i = ve - 1
				continue
			}
		}
		i = ke - 1
	}
}

// xmlFields walks an XML document. Element text is reported under the
// element's name, or under the text of a sibling <name>/<key> element
// (Hadoop <property><name>…</name><value>…</value>), or under the name/key
// attribute of its element (<entry key="password">…</entry>,
// <property name="password" value="…"/>); attributes under their name
// (<user password="…"/>). fn gets the key, the element path and the value's
// bounds in b. A malformed document is read up to its first error.
func xmlFields(b []byte, fn func(key, path string, s, e int)) {
	// encoding/xml refuses XML 1.1 declarations (Jenkins writes them):
	// start after the declaration, which holds nothing else of interest.
	shift := 0
	if t := bytes.TrimLeft(b, " \t\r\n\ufeff"); bytes.HasPrefix(t, []byte("<?xml")) {
		if i := bytes.Index(b, []byte("?>")); i >= 0 {
			shift = i + 2
		}
	}
	b = b[shift:]
	inner := fn
	fn = func(key, path string, s, e int) { inner(key, path, s+shift, e+shift) }
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = false
	d.AutoClose = xml.HTMLAutoClose
	d.Entity = xml.HTMLEntity
	var stack []string
	var propName string // the last <name>/<key> text in the current element
	var attrKey string  // name/key attribute of the open element
	for {
		off0 := int(d.InputOffset())
		tok, err := d.RawToken()
		if err != nil {
			if err != io.EOF {
				return
			}
			return
		}
		off1 := int(d.InputOffset())
		if off1 > len(b) || off0 > off1 {
			return
		}
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, t.Name.Local)
			attrKey = ""
			raw := b[off0:off1]
			for _, a := range t.Attr {
				n := strings.ToLower(a.Name.Local)
				if n == "name" || n == "key" {
					attrKey = a.Value
				}
			}
			for _, a := range t.Attr {
				n := a.Name.Local
				key := n
				if strings.EqualFold(n, "value") && attrKey != "" {
					key = attrKey
				}
				if a.Value == "" {
					continue
				}
				// The value as written: find it in the element's bytes.
				at := bytes.Index(raw, []byte(n+`="`))
				q := 2
				if at < 0 {
					at, q = bytes.Index(raw, []byte(n+`='`)), 2
				}
				if at < 0 {
					continue
				}
				vs := off0 + at + len(n) + q
				ve := bytes.IndexAny(b[vs:off1], `"'`)
				if ve < 0 {
					continue
				}
				fn(key, strings.Join(stack, "/"), vs, vs+ve)
			}
		case xml.EndElement:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			if n := strings.ToLower(t.Name.Local); n != "name" && n != "key" && n != "value" {
				propName = ""
			}
			attrKey = ""
		case xml.CharData:
			if len(stack) == 0 || len(bytes.TrimSpace(t)) == 0 {
				continue
			}
			el := stack[len(stack)-1]
			switch strings.ToLower(el) {
			case "name", "key":
				propName = strings.TrimSpace(string(t))
				continue
			case "value":
				if propName != "" {
					fn(propName, strings.Join(stack, "/"), off0, off1)
					continue
				}
			}
			key := el
			if attrKey != "" {
				key = attrKey
			}
			fn(key, strings.Join(stack, "/"), off0, off1)
		}
	}
}
