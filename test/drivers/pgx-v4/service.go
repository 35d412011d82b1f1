// The webhook service of the driver matrix, on pgx v4's own connection and transaction API.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"log"
	"net/http"
	"os"
	"sync"

	"github.com/jackc/pgx/v4"
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
	conn *pgx.Conn
	// One connection, as the incident's service had: requests take turns on it.
	mu    sync.Mutex
	fixed = len(os.Args) > 1 && os.Args[1] == "fixed"
)

func handle(ctx context.Context, ev event) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	var id int64
	var balance int32
	err = tx.QueryRow(ctx, "SELECT id, credits_balance FROM users WHERE email = $1", ev.Data.Object.CustomerDetails.Email).Scan(&id, &balance)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		log.Printf("select user: %v", err)
		if fixed {
			// The transaction is aborted: start a fresh one and go on without the column.
			_ = tx.Rollback(ctx)
			if tx, err = conn.Begin(ctx); err != nil {
				return err
			}
			err = tx.QueryRow(ctx, "SELECT id FROM users WHERE email = $1", ev.Data.Object.CustomerDetails.Email).Scan(&id)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				_ = tx.Rollback(ctx)
				return err
			}
		}
	}
	_, err = tx.Exec(ctx, "INSERT INTO webhook_events (event_id, type) VALUES ($1, $2)", ev.ID, ev.Type)
	if err != nil {
		log.Printf("insert event: %v", err)
		if fixed {
			_ = tx.Rollback(ctx)
			return err
		}
	}
	err = tx.Commit(ctx)
	if err != nil && fixed {
		_ = tx.Rollback(ctx)
		return err
	}
	return nil
}

func main() {
	ctx := context.Background()
	var err error
	if conn, err = pgx.Connect(ctx, os.Getenv("DATABASE_URL")); err != nil {
		log.Fatalf("connect: %v", err)
	}
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	http.HandleFunc("/webhooks/stripe", func(w http.ResponseWriter, r *http.Request) {
		var ev event
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		mu.Lock()
		err := handle(ctx, ev)
		mu.Unlock()
		if err != nil {
			log.Printf("webhook %s: %v", ev.ID, err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil))
}
