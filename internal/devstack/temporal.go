package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	tlog "go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
)

// TemporalConfig configures the embedded Temporal server.
type TemporalConfig struct {
	// DataFile is the SQLite database file; its folder must exist.
	DataFile string
	// Address is the frontend's gRPC address, such as "127.0.0.1:7233".
	Address string
	// Namespaces are registered at start (one per community).
	Namespaces []string
	Logger     *slog.Logger
}

// TemporalServer is a running embedded Temporal server.
type TemporalServer struct {
	server temporal.Server
	logger *serverLogger
}

// StartTemporal starts a single-process Temporal server on SQLite, the way
// the Temporal CLI's dev server does: every service in one process, static
// membership instead of ringpop, the schema created on first start, and
// namespaces registered before the services come up.
func StartTemporal(cfg TemporalConfig) (*TemporalServer, error) {
	host, portText, err := net.SplitHostPort(cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("temporal address %q: %w", cfg.Address, err)
	}
	frontendPort, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("temporal address %q: port is not a number", cfg.Address)
	}
	if len(cfg.Namespaces) == 0 {
		return nil, errors.New("temporal: no namespaces")
	}
	sqlCfg, err := temporalStore(cfg.DataFile, cfg.Namespaces)
	if err != nil {
		return nil, err
	}

	ports := map[primitives.ServiceName]int{primitives.FrontendService: frontendPort}
	for _, svc := range []primitives.ServiceName{primitives.HistoryService, primitives.MatchingService, primitives.WorkerService} {
		if ports[svc], err = freePort(host); err != nil {
			return nil, err
		}
	}
	httpPort, err := freePort(host)
	if err != nil {
		return nil, err
	}
	const clusterName = "active"
	conf := &config.Config{}
	conf.Global.Membership.MaxJoinDuration = 30 * time.Second
	conf.Global.Membership.BroadcastAddress = host
	conf.Persistence.DefaultStore = "sqlite"
	conf.Persistence.VisibilityStore = "sqlite"
	conf.Persistence.NumHistoryShards = 1
	conf.Persistence.DataStores = map[string]config.DataStore{"sqlite": {SQL: sqlCfg}}
	conf.ClusterMetadata = &cluster.Config{
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{clusterName: {
			Enabled:                true,
			InitialFailoverVersion: 1,
			RPCAddress:             cfg.Address,
			HTTPAddress:            net.JoinHostPort(host, strconv.Itoa(httpPort)),
			ClusterID:              "kinship-dev",
		}},
	}
	conf.DCRedirectionPolicy.Policy = "noop"
	conf.Services = map[string]config.Service{}
	hosts := map[primitives.ServiceName]static.Hosts{}
	for svc, port := range ports {
		s := config.Service{}
		s.RPC.GRPCPort = port
		s.RPC.BindOnIP = host
		if svc == primitives.FrontendService {
			s.RPC.HTTPPort = httpPort
		}
		conf.Services[string(svc)] = s
		hosts[svc] = static.SingleLocalHost(net.JoinHostPort(host, strconv.Itoa(port)))
	}
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	conf.PublicClient.HostPort = cfg.Address

	dyn := dynamicconfig.StaticClient{
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key():                 8192,
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
	}
	logger := &serverLogger{logger: cfg.Logger, stopping: &atomic.Bool{}}
	server, err := temporal.NewServer(
		temporal.WithConfig(conf),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(logger),
		temporal.WithDynamicConfigClient(dyn),
	)
	if err != nil {
		return nil, fmt.Errorf("create temporal server: %w", err)
	}
	if err := server.Start(); err != nil {
		return nil, fmt.Errorf("start temporal server: %w", err)
	}
	return &TemporalServer{server: server, logger: logger}, nil
}

// Stop stops the server. Its services complain about each other going away
// while it stops; those warnings are logged at debug level.
func (s *TemporalServer) Stop() {
	s.logger.stopping.Store(true)
	_ = s.server.Stop()
}

// temporalStore prepares the SQLite store: WAL journaling (without it a
// file database runs at a third of the speed), the schema on first start,
// and the namespaces.
func temporalStore(file string, namespaces []string) (*config.SQL, error) {
	sqlCfg := &config.SQL{
		PluginName:   sqliteplugin.PluginName,
		DatabaseName: file,
		// Attributes other than the driver's own become PRAGMAs.
		ConnectAttributes: map[string]string{
			"mode":         "rwc",
			"journal_mode": "wal",
			"synchronous":  "1", // NORMAL
			"busy_timeout": "10000",
		},
		// One connection: with more, a read transaction that turns into a
		// write fails with SQLITE_BUSY_SNAPSHOT ("database is locked (517)").
		MaxConns: 1,
	}
	if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
		if _, err := os.Stat(filepath.Dir(file)); err != nil {
			return nil, fmt.Errorf("temporal data folder: %w", err)
		}
		if err := sqliteschema.SetupSchema(sqlCfg); err != nil {
			return nil, fmt.Errorf("create temporal schema: %w", err)
		}
	}
	var nsConfigs []*sqliteschema.NamespaceConfig
	for _, ns := range namespaces {
		nc, err := sqliteschema.NewNamespaceConfig("active", ns, false, nil)
		if err != nil {
			return nil, fmt.Errorf("temporal namespace %s: %w", ns, err)
		}
		nsConfigs = append(nsConfigs, nc)
	}
	if err := sqliteschema.CreateNamespaces(sqlCfg, nsConfigs...); err != nil {
		return nil, fmt.Errorf("register temporal namespaces: %w", err)
	}
	return sqlCfg, nil
}

func freePort(host string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// serverLogger adapts slog to the Temporal server's logger. The server is
// chatty at info level, so its info becomes debug.
type serverLogger struct {
	logger   *slog.Logger
	tags     []tag.Tag
	stopping *atomic.Bool
}

var _ tlog.Logger = (*serverLogger)(nil)

func (l *serverLogger) log(level slog.Level, msg string, tags []tag.Tag) {
	if l.stopping.Load() && level < slog.LevelError {
		level = slog.LevelDebug
	}
	if !l.logger.Enabled(context.Background(), level) {
		return
	}
	attrs := make([]any, 0, 2*(len(l.tags)+len(tags)))
	for _, t := range append(l.tags, tags...) {
		attrs = append(attrs, t.Key(), t.Value())
	}
	l.logger.Log(context.Background(), level, msg, attrs...)
}

func (l *serverLogger) Debug(msg string, tags ...tag.Tag)  { l.log(slog.LevelDebug-4, msg, tags) }
func (l *serverLogger) Info(msg string, tags ...tag.Tag)   { l.log(slog.LevelDebug, msg, tags) }
func (l *serverLogger) Warn(msg string, tags ...tag.Tag)   { l.log(slog.LevelWarn, msg, tags) }
func (l *serverLogger) Error(msg string, tags ...tag.Tag)  { l.log(slog.LevelError, msg, tags) }
func (l *serverLogger) DPanic(msg string, tags ...tag.Tag) { l.log(slog.LevelError, msg, tags) }
func (l *serverLogger) Panic(msg string, tags ...tag.Tag) {
	l.log(slog.LevelError, msg, tags)
	panic(msg)
}
func (l *serverLogger) Fatal(msg string, tags ...tag.Tag) {
	l.log(slog.LevelError, msg, tags)
	os.Exit(1)
}

// With returns a logger that adds tags to every record.
func (l *serverLogger) With(tags ...tag.Tag) tlog.Logger {
	return &serverLogger{logger: l.logger, tags: append(append([]tag.Tag(nil), l.tags...), tags...), stopping: l.stopping}
}
