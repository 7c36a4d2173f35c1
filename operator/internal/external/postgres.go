package external

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresAdmin administers databases and roles with pgx, one short
// connection per call: the operator calls it only when a Community
// changes.
type PostgresAdmin struct {
	timeout time.Duration
}

var _ Postgres = (*PostgresAdmin)(nil)

// NewPostgresAdmin returns an admin whose calls each take at most timeout.
func NewPostgresAdmin(timeout time.Duration) *PostgresAdmin {
	return &PostgresAdmin{timeout: timeout}
}

func (p *PostgresAdmin) do(ctx context.Context, adminURL string, fn func(context.Context, *pgx.Conn) error) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	cfg, err := pgx.ParseConfig(adminURL)
	if err != nil {
		// The parse error may quote the URL and its password.
		return fmt.Errorf("parse postgresql admin url: malformed")
	}
	cfg.ConnectTimeout = p.timeout
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to postgresql %s:%d: %w", cfg.Host, cfg.Port, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return fn(ctx, conn)
}

// Describe reports whether the database and the role exist.
func (p *PostgresAdmin) Describe(ctx context.Context, adminURL, database, role string) (DatabaseState, error) {
	var st DatabaseState
	err := p.do(ctx, adminURL, func(ctx context.Context, conn *pgx.Conn) error {
		err := conn.QueryRow(ctx,
			`SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1), EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $2)`,
			database, role).Scan(&st.DatabaseExists, &st.RoleExists)
		if err != nil {
			return fmt.Errorf("look up database %s and role %s: %w", database, role, err)
		}
		return nil
	})
	return st, err
}

// exec runs a statement built by PostgreSQL's format(), which quotes
// identifiers (%I) and literals (%L); DDL takes no bind parameters.
func exec(ctx context.Context, conn *pgx.Conn, format string, args ...any) error {
	var stmt string
	if err := conn.QueryRow(ctx, "SELECT format($1::text"+placeholders(len(args))+")", append([]any{format}, args...)...).Scan(&stmt); err != nil {
		return err
	}
	_, err := conn.Exec(ctx, stmt)
	return err
}

func placeholders(n int) string {
	s := ""
	for i := range n {
		s += fmt.Sprintf(", $%d::text", i+2)
	}
	return s
}

// CreateRole creates a login role.
func (p *PostgresAdmin) CreateRole(ctx context.Context, adminURL, role, password string) error {
	return p.do(ctx, adminURL, func(ctx context.Context, conn *pgx.Conn) error {
		if err := exec(ctx, conn, "CREATE ROLE %I LOGIN PASSWORD %L", role, password); err != nil {
			return fmt.Errorf("create role %s: %w", role, err)
		}
		return nil
	})
}

// SetPassword changes a role's password.
func (p *PostgresAdmin) SetPassword(ctx context.Context, adminURL, role, password string) error {
	return p.do(ctx, adminURL, func(ctx context.Context, conn *pgx.Conn) error {
		if err := exec(ctx, conn, "ALTER ROLE %I WITH LOGIN PASSWORD %L", role, password); err != nil {
			return fmt.Errorf("set password of role %s: %w", role, err)
		}
		return nil
	})
}

// CreateDatabase creates a database owned by owner, closed to every other
// role.
func (p *PostgresAdmin) CreateDatabase(ctx context.Context, adminURL, database, owner string) error {
	return p.do(ctx, adminURL, func(ctx context.Context, conn *pgx.Conn) error {
		if err := exec(ctx, conn, "CREATE DATABASE %I OWNER %I", database, owner); err != nil {
			return fmt.Errorf("create database %s: %w", database, err)
		}
		if err := exec(ctx, conn, "REVOKE ALL ON DATABASE %I FROM PUBLIC", database); err != nil {
			return fmt.Errorf("close database %s to other roles: %w", database, err)
		}
		return nil
	})
}

// Drop drops the database, ending its sessions, then the role.
func (p *PostgresAdmin) Drop(ctx context.Context, adminURL, database, role string) error {
	return p.do(ctx, adminURL, func(ctx context.Context, conn *pgx.Conn) error {
		if err := exec(ctx, conn, "DROP DATABASE IF EXISTS %I WITH (FORCE)", database); err != nil {
			return fmt.Errorf("drop database %s: %w", database, err)
		}
		if err := exec(ctx, conn, "DROP ROLE IF EXISTS %I", role); err != nil {
			return fmt.Errorf("drop role %s: %w", role, err)
		}
		return nil
	})
}
