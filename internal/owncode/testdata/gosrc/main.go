// Command insecureapp is a fixture for shipshape's P7 tests: it has
// issues gosec is known to report (SQL built by string concatenation, a
// weak hash, TLS verification turned off). It is never run.
package main

import (
	"crypto/md5"
	"crypto/tls"
	"database/sql"
	"fmt"
	"net/http"
	"os"
)

func lookup(db *sql.DB, name string) (*sql.Rows, error) {
	q := "SELECT id FROM users WHERE name = '" + name + "'"
	return db.Query(q)
}

func lookupf(db *sql.DB, name string) (*sql.Rows, error) {
	return db.Query(fmt.Sprintf("SELECT id FROM users WHERE name = '%s'", name))
}

func search(db *sql.DB) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rows, err := db.Query("SELECT id FROM users WHERE name = '" + r.URL.Query().Get("name") + "'")
		if err == nil {
			rows.Close()
		}
	}
}

func fingerprint(b []byte) string {
	return fmt.Sprintf("%x", md5.Sum(b))
}

func client() *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
}

func main() {
	var db *sql.DB
	_, _ = lookup(db, os.Args[0])
	_, _ = lookupf(db, os.Args[0])
	http.Handle("/search", search(db))
	fmt.Println(fingerprint([]byte(os.Args[0])), client() != nil)
}
