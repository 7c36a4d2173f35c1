package audit_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"testing"

	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/db/dbtest"
)

var pg *dbtest.Cluster

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m, &pg)) }

func TestAuditLog(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			d := dbtest.Open(t, engine, pg, audit.Migrations())
			log := audit.New(d)
			organiser := auth.WithPrincipal(context.Background(), auth.Principal{Kind: auth.KindUser, Subject: "u-1", Community: "demo", Roles: []auth.Role{auth.Organiser}}, auth.ScopeCommunity)
			for _, target := range []string{"k1", "k2", "k3"} {
				err := d.InTx(organiser, func(tx *sql.Tx) error { return log.Record(organiser, tx, "demo", "api_key.created", "api_key", target) })
				if err != nil {
					t.Fatal(err)
				}
			}
			boom := errors.New("boom")
			err := d.InTx(organiser, func(tx *sql.Tx) error {
				if err := log.Record(organiser, tx, "demo", "api_key.revoked", "api_key", "k1"); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatal(err)
			}
			first, err := log.List(organiser, "demo", "", 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(first) != 2 || first[0].TargetID != "k3" || first[1].TargetID != "k2" || first[0].ActorID != "u-1" || first[0].ActorKind != "user" {
				t.Fatalf("newest entries = %+v", first)
			}
			rest, err := log.List(organiser, "demo", first[1].ID, 10)
			if err != nil || len(rest) != 1 || rest[0].TargetID != "k1" || rest[0].Action != "api_key.created" {
				t.Fatalf("older entries = %+v, %v (a rolled-back action must leave no entry)", rest, err)
			}
			if other, _ := log.List(organiser, "other", "", 10); len(other) != 0 {
				t.Errorf("another community sees %d entries", len(other))
			}
			err = d.InTx(context.Background(), func(tx *sql.Tx) error {
				return log.Record(context.Background(), tx, "demo", "api_key.created", "api_key", "k9")
			})
			if err == nil {
				t.Error("an anonymous privileged action was recorded")
			}
		})
	}
}
