// Package dbtest runs a store test against every engine Kinship supports.
// It starts a throwaway PostgreSQL cluster from the system's
// packages (Debian's postgresql) on loopback, in a temporary folder, for
// tests. Nothing is downloaded and nothing outside the folder is touched.
package dbtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// ErrNotInstalled means no PostgreSQL server binaries were found.
var ErrNotInstalled = errors.New("postgresql server binaries not found (Debian: apt-get install postgresql)")

// RequireEnv, when set to "require" in the environment of `go test`, turns
// a missing PostgreSQL into a test failure instead of a skip. .ci/run sets it.
const RequireEnv = "KINSHIP_TEST_POSTGRES"

// Cluster is a running throwaway PostgreSQL server.
type Cluster struct {
	dir    string
	bin    string
	port   int
	asUser string // run server commands as this user (when the tests run as root)
}

// Start initialises and starts a cluster, or returns ErrNotInstalled.
func Start(ctx context.Context) (*Cluster, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "kinship-pgtest-")
	if err != nil {
		return nil, fmt.Errorf("create cluster folder: %w", err)
	}
	c := &Cluster{dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root.
		c.asUser = "postgres"
		if err := chownTo(dir, c.asUser); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
	}
	if err := c.run(ctx, "initdb", "-D", c.dataDir(), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	// The port is free when picked but not held: another process may bind
	// it before the server does, so a start that lost its port tries
	// another.
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		c.port = port
		opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", port, dir)
		err = c.run(ctx, "pg_ctl", "-D", c.dataDir(), "-o", opts, "-l", filepath.Join(dir, "server.log"), "-w", "-t", "60", "start")
		if err == nil {
			break
		}
		log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
		if attempt < 3 && bytes.Contains(log, []byte("already in use")) {
			continue
		}
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("%w\nserver log:\n%s", err, log)
	}
	return c, nil
}

// Stop stops the server and removes its folder.
func (c *Cluster) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = c.run(ctx, "pg_ctl", "-D", c.dataDir(), "-m", "immediate", "-w", "stop")
	_ = os.RemoveAll(c.dir)
}

// URL returns the connection URL of database name.
func (c *Cluster) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, name)
}

// NewDatabase creates an empty database for one test and drops it when the
// test ends. It returns the database's URL.
func (c *Cluster) NewDatabase(t testing.TB) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", c.URL("postgres"))
	if err != nil {
		t.Fatalf("connect to test cluster: %v", err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", c.URL("postgres"))
		if err != nil {
			return
		}
		defer admin.Close()
		_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	return c.URL(name)
}

func (c *Cluster) dataDir() string { return filepath.Join(c.dir, "data") }

func (c *Cluster) run(ctx context.Context, tool string, args ...string) error {
	path := filepath.Join(c.bin, tool)
	var cmd *exec.Cmd
	if c.asUser != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", c.asUser, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w\n%s", tool, err, out.String())
	}
	return nil
}

// findBin returns the folder of the newest installed initdb and pg_ctl.
func findBin() (string, error) {
	candidates, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(candidates, func(i, j int) bool { return majorOf(candidates[i]) > majorOf(candidates[j]) })
	if p, err := exec.LookPath("initdb"); err == nil {
		candidates = append([]string{filepath.Dir(p)}, candidates...)
	}
	for _, dir := range candidates {
		if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "pg_ctl")) {
			return dir, nil
		}
	}
	return "", ErrNotInstalled
}

func majorOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode()&0o111 != 0
}

func chownTo(dir, name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("tests run as root and need the %q user to run PostgreSQL: %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return fmt.Errorf("hand %s to %s: %w", dir, name, err)
	}
	return nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Main starts a cluster for a test binary's TestMain, runs the tests and
// stops it. With no PostgreSQL installed, *cluster stays nil (tests then
// call Skip) unless KINSHIP_TEST_POSTGRES=require, which fails the run.
func Main(m *testing.M, cluster **Cluster) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	c, err := Start(ctx)
	cancel()
	switch {
	case err == nil:
		*cluster = c
		defer c.Stop()
	case errors.Is(err, ErrNotInstalled) && strings.TrimSpace(os.Getenv(RequireEnv)) != "require":
		fmt.Fprintf(os.Stderr, "dbtest: %v; PostgreSQL tests will be skipped\n", err)
	default:
		fmt.Fprintf(os.Stderr, "dbtest: start PostgreSQL: %v\n", err)
		return 1
	}
	return m.Run()
}

// Database returns a fresh database URL on cluster, or skips t when
// PostgreSQL is not installed.
func Database(t testing.TB, cluster *Cluster) string {
	t.Helper()
	if cluster == nil {
		t.Skip(ErrNotInstalled.Error())
	}
	return cluster.NewDatabase(t)
}

// Restart stops the server, cutting every open connection (pg_ctl's fast
// mode), and starts it again on the same port and data, for tests of what
// survives a database restart (test/chaos). Not the immediate mode: with
// synchronous_commit off, as here, that would lose acknowledged commits.
func (c *Cluster) Restart(ctx context.Context) error {
	if err := c.Halt(ctx); err != nil {
		return err
	}
	return c.Resume(ctx)
}

// Halt stops the server as Restart does, cutting every open connection;
// until Resume, connecting fails.
func (c *Cluster) Halt(ctx context.Context) error {
	if err := c.run(ctx, "pg_ctl", "-D", c.dataDir(), "-m", "fast", "-w", "stop"); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	return nil
}

// Resume starts the server Halt stopped, on the same port and data.
func (c *Cluster) Resume(ctx context.Context) error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", c.port, c.dir)
	if err := c.run(ctx, "pg_ctl", "-D", c.dataDir(), "-o", opts, "-l", filepath.Join(c.dir, "server.log"), "-w", "-t", "60", "start"); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	return nil
}
