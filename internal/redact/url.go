package redact

import (
	"net/url"
	"strings"
)

// URL is raw with the credentials it may carry hidden — its user and
// password, and the values of query parameters whose names say token, key,
// password or secret — for whatever is printed, logged or kept about a URL
// a user gave (a mirror, a registry). What does not parse as a URL loses
// everything before its last '@'.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.LastIndex(raw, "@"); i >= 0 {
			return hidden + "@" + raw[i+1:]
		}
		return raw
	}
	if u.User != nil {
		u.User = url.User(hidden)
	}
	q := u.Query()
	for k := range q {
		lk := strings.ToLower(k)
		if strings.Contains(lk, "token") || strings.Contains(lk, "key") || strings.Contains(lk, "password") || strings.Contains(lk, "secret") {
			q.Set(k, hidden)
		}
	}
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	// url.URL escapes the placeholder in the user and the query
	// ("%3Credacted%3E"); it is shown as written.
	return strings.ReplaceAll(u.String(), escapedHidden, hidden)
}

const (
	hidden        = "<redacted>"
	escapedHidden = "%3Credacted%3E"
)
