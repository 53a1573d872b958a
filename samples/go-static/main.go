// A server whose untaken routes read data only the binary names: zone data (/tz) and the system roots (/roots).
package main

import (
	"crypto/x509"
	"fmt"
	"log"
	"net/http"
	"time"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "go-static: /tz and /roots")
	})
	http.HandleFunc("/tz", func(w http.ResponseWriter, r *http.Request) {
		loc, err := time.LoadLocation("Europe/Paris")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC).In(loc).Format("2006-01-02 15:04 MST"))
	})
	http.HandleFunc("/roots", func(w http.ResponseWriter, r *http.Request) {
		pool, err := x509.SystemCertPool()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, len(pool.Subjects())) //nolint:staticcheck // a count of the roots read, on Linux
	})
	log.Fatal(http.ListenAndServe(":8080", nil))
}
