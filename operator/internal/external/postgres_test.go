package external

import (
	"context"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kinshiphq/kinship/internal/db/dbtest"
)

var cluster *dbtest.Cluster

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m, &cluster)) }

func adminURL(t *testing.T) string {
	t.Helper()
	if cluster == nil {
		t.Fatal("PostgreSQL is not installed: apt-get install postgresql (these tests never skip)")
	}
	return cluster.URL("postgres")
}

// urlFor is the URL the workloads would use.
func urlFor(t *testing.T, admin, role, password, database string) string {
	t.Helper()
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(role, password)
	u.Path = "/" + database
	return u.String()
}

func TestPostgresAdminCreatesAnIsolatedDatabase(t *testing.T) {
	admin := adminURL(t)
	p := NewPostgresAdmin(10 * time.Second)
	ctx := context.Background()

	st, err := p.Describe(ctx, admin, "kinship_alpha", "kinship_alpha")
	if err != nil {
		t.Fatal(err)
	}
	if st.DatabaseExists || st.RoleExists {
		t.Fatalf("nothing should exist yet: %+v", st)
	}
	if err := p.CreateRole(ctx, admin, "kinship_alpha", "it's-a-secret"); err != nil {
		t.Fatal(err)
	}
	if err := p.CreateDatabase(ctx, admin, "kinship_alpha", "kinship_alpha"); err != nil {
		t.Fatal(err)
	}
	if st, err = p.Describe(ctx, admin, "kinship_alpha", "kinship_alpha"); err != nil || !st.DatabaseExists || !st.RoleExists {
		t.Fatalf("after creating: %+v, %v", st, err)
	}
	if err := p.SetPassword(ctx, admin, "kinship_alpha", "another"); err != nil {
		t.Fatal(err)
	}

	// The role owns its database: it can create tables there.
	conn, err := pgx.Connect(ctx, urlFor(t, admin, "kinship_alpha", "another", "kinship_alpha"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE members (id text PRIMARY KEY)"); err != nil {
		t.Errorf("the community's role cannot create tables in its database: %v", err)
	}
	conn.Close(ctx)

	// Another community's role cannot even connect.
	if err := p.CreateRole(ctx, admin, "kinship_beta", "b"); err != nil {
		t.Fatal(err)
	}
	if conn, err := pgx.Connect(ctx, urlFor(t, admin, "kinship_beta", "b", "kinship_alpha")); err == nil {
		conn.Close(ctx)
		t.Error("another community's role connected to alpha's database")
	} else if !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("want permission denied, got %v", err)
	}

	// A session still open does not stop the drop.
	open, err := pgx.Connect(ctx, urlFor(t, admin, "kinship_alpha", "another", "kinship_alpha"))
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close(ctx)
	for _, pair := range [][2]string{{"kinship_alpha", "kinship_alpha"}, {"kinship_beta", "kinship_beta"}} {
		if err := p.Drop(ctx, admin, pair[0], pair[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Drop(ctx, admin, "kinship_alpha", "kinship_alpha"); err != nil {
		t.Fatalf("dropping what is gone: %v", err)
	}
	if st, err = p.Describe(ctx, admin, "kinship_alpha", "kinship_alpha"); err != nil || st.DatabaseExists || st.RoleExists {
		t.Fatalf("after dropping: %+v, %v", st, err)
	}
}

func TestPostgresAdminQuotesIdentifiers(t *testing.T) {
	admin := adminURL(t)
	p := NewPostgresAdmin(10 * time.Second)
	ctx := context.Background()
	odd := `kinship_x"; DROP DATABASE postgres; --`
	if err := p.CreateRole(ctx, admin, odd, `pa'ss`); err != nil {
		t.Fatal(err)
	}
	st, err := p.Describe(ctx, admin, "postgres", odd)
	if err != nil || !st.RoleExists || !st.DatabaseExists {
		t.Fatalf("the role must exist under its literal name and postgres must survive: %+v, %v", st, err)
	}
	if err := p.Drop(ctx, admin, "kinship_none", odd); err != nil {
		t.Fatal(err)
	}
}

func TestPostgresAdminReportsAnUnreachableServerWithoutThePassword(t *testing.T) {
	p := NewPostgresAdmin(time.Second)
	_, err := p.Describe(context.Background(), "postgres://admin:hunter2@127.0.0.1:1/postgres?sslmode=disable", "d", "r")
	if err == nil {
		t.Fatal("a closed port must fail")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("the error leaks the password: %v", err)
	}
	_, err = p.Describe(context.Background(), "postgres://admin:hunter2@[bad/x", "d", "r")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("a malformed URL must fail without quoting it: %v", err)
	}
}
