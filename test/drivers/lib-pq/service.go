// The webhook service of the driver matrix, on lib/pq through database/sql.
package main

import (
	"database/sql"
	"encoding/json"
	"errors"
	"log"
	"net/http"
	"net/url"
	"os"

	_ "github.com/lib/pq"
)

type event struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Data struct {
		Object struct {
			CustomerDetails struct {
				Email string `json:"email"`
			} `json:"customer_details"`
		} `json:"object"`
	} `json:"data"`
}

var (
	db    *sql.DB
	fixed = len(os.Args) > 1 && os.Args[1] == "fixed"
)

func handle(ev event) error {
	email := ev.Data.Object.CustomerDetails.Email
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	var id int64
	var balance int32
	err = tx.QueryRow("SELECT id, credits_balance FROM users WHERE email = $1", email).Scan(&id, &balance)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		log.Printf("select user: %v", err)
		if fixed {
			// The transaction is aborted: start a fresh one and go on without the column.
			_ = tx.Rollback()
			if tx, err = db.Begin(); err != nil {
				return err
			}
			err = tx.QueryRow("SELECT id FROM users WHERE email = $1", email).Scan(&id)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				_ = tx.Rollback()
				return err
			}
		}
	}
	if _, err = tx.Exec("INSERT INTO webhook_events (event_id, type) VALUES ($1, $2)", ev.ID, ev.Type); err != nil {
		log.Printf("insert event: %v", err)
		if fixed {
			_ = tx.Rollback()
			return err
		}
	}
	if err = tx.Commit(); err != nil && fixed {
		return err
	}
	return nil
}

func main() {
	dsn, err := url.Parse(os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatalf("DATABASE_URL: %v", err)
	}
	// lib/pq defaults to sslmode=require, unlike libpq's prefer; the URL is plain TCP.
	if q := dsn.Query(); q.Get("sslmode") == "" {
		q.Set("sslmode", "disable")
		dsn.RawQuery = q.Encode()
	}
	if db, err = sql.Open("postgres", dsn.String()); err != nil {
		log.Fatalf("open: %v", err)
	}
	// One connection, as the incident's service had: a request waits for the one before it.
	db.SetMaxOpenConns(1)
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := db.Ping(); err != nil {
			log.Printf("healthz: %v", err)
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	http.HandleFunc("/webhooks/stripe", func(w http.ResponseWriter, r *http.Request) {
		var ev event
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		if err := handle(ev); err != nil {
			log.Printf("webhook %s: %v", ev.ID, err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil))
}
