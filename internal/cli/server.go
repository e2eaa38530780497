package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shipshape-dev/shipshape/internal/scan"
	"github.com/shipshape-dev/shipshape/internal/server"
)

// envServerToken holds the server's bearer token (instead of
// --token-file); a token is never a flag value, which ps would show.
const envServerToken = "SHIPSHAPE_SERVER_TOKEN"

type serverFlags struct {
	img               imageFlags
	vuln              vulnFlags
	config            string
	listen            string
	tokenFile         string
	tlsCert, tlsKey   string
	workers, queue    int
	maxBodyBytes      int64
	rateLimit         float64
	rateBurst         int
	ttl               time.Duration
	shutdownTimeout   time.Duration
	admissionFailOpen bool
	requireDigest     bool
	admissionNoAuth   bool
	redisURL          string
	replica           string
	lease             time.Duration
	noSharedCache     bool
	sharedCacheMax    int
	dbRepository      string
	dbRefresh         time.Duration
	dbMaxAge          time.Duration
	dbEcosystems      []string
	admissionTimeout  time.Duration
}

func (a *app) serverCommand() *cobra.Command {
	var f serverFlags
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Serve scans over HTTP: own API, Harbor scanner API, Kubernetes admission",
		Long: `Serve scans over HTTP for a fleet of CI runners, a Harbor registry and a
Kubernetes cluster, sharing one layer cache and one vulnerability database.

  POST /v1/scans, GET /v1/scans/{id}[/report?format=…], GET /v1/db   own API (docs/server-openapi.yaml)
  GET /api/v1/metadata, POST /api/v1/scan, GET /api/v1/scan/{id}/report  Harbor pluggable scanner API v1.1/v1.2
  POST /v1/verify                                                     P6 only: who signed an image (like shipshape verify)
  POST /v1/admission                                                  Kubernetes validating webhook (P6 signers, P9 policy)
  GET /healthz, /readyz, /metrics                                     probes and Prometheus metrics

Requests must carry "Authorization: Bearer TOKEN" when a token is set
(--token-file, or the ` + envServerToken + ` environment variable); /healthz and
/readyz are open. On SIGTERM the server stops taking scans, lets running
ones finish for --shutdown-timeout and then fails them (with --redis, it
hands them back to the shared queue for another replica).

With --redis, replicas share the scan queue, the scans' states, their
reports and the layer cache (a base layer is analysed once per fleet):
send requests to any replica behind a load balancer.`,
		Example: `  SHIPSHAPE_SERVER_TOKEN=s3cret shipshape server --listen 127.0.0.1:8080
  shipshape scan --server http://127.0.0.1:8080 registry.example.com/team/app:1.2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runServer(cmd.Context(), &f)
		},
	}
	f.img.register(cmd)
	f.vuln.register(cmd)
	fs := cmd.Flags()
	fs.StringVar(&f.config, "config", "", "policy file judging admission requests (default: .shipshape.yaml in the working directory, if present)")
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&f.tokenFile, "token-file", "", "file holding the bearer token clients must send (or set "+envServerToken+")")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "serve HTTPS with this certificate (PEM)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "private key of --tls-cert (PEM)")
	fs.StringVar(&f.redisURL, "redis", "", "share the scan queue, job states and reports with other replicas through this Redis (redis://HOST:PORT/DB); jobs with registry credentials still run where they were sent")
	fs.StringVar(&f.replica, "replica", "", "this replica's name in Redis (default: host name and process id)")
	fs.DurationVar(&f.lease, "lease", server.DefaultLease, "with --redis: how long a scan stays claimed by a replica that stopped renewing it before another takes it over")
	fs.BoolVar(&f.noSharedCache, "no-shared-cache", false, "with --redis: keep the layer cache this replica's own instead of sharing analysed layers' facts through Redis")
	fs.IntVar(&f.sharedCacheMax, "shared-cache-max-entry", 4<<20, "with --redis: largest layer entry (compressed bytes) put in the shared cache; larger ones stay in this replica's cache")
	fs.StringVar(&f.dbRepository, "db-repository", "", "shared location this replica refreshes its copy of the vulnerability database (--db-dir) from: a directory holding ECOSYSTEM/all.zip, or a base URL (http, https, file://); empty: no refresh")
	fs.DurationVar(&f.dbRefresh, "db-refresh", 0, "with --db-repository: how often to refresh (0: only at start)")
	fs.DurationVar(&f.dbMaxAge, "db-max-age", 0, "a database older than this is reported as stale in every scan report (P5 and warnings), /readyz and GET /v1/db (0: never)")
	fs.StringSliceVar(&f.dbEcosystems, "db-ecosystems", nil, "with --db-repository: ecosystems to refresh (default: those in the repository directory, else in the local copy)")
	fs.IntVar(&f.workers, "workers", server.DefaultWorkers, "scans run at once")
	fs.IntVar(&f.queue, "queue", server.DefaultQueue, "scans that may wait for a worker; more are refused with 429")
	fs.Int64Var(&f.maxBodyBytes, "max-body-bytes", server.DefaultMaxBodyBytes, "largest request body")
	fs.Float64Var(&f.rateLimit, "rate-limit", 0, "requests per second one client address may send (0: no limit); past it, 429")
	fs.IntVar(&f.rateBurst, "rate-burst", 0, "requests a client may send at once (default: the rate)")
	fs.DurationVar(&f.ttl, "ttl", server.DefaultTTL, "how long finished scans and their reports are kept")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", time.Minute, "on SIGTERM, how long running scans may take to finish")
	fs.BoolVar(&f.admissionFailOpen, "admission-fail-open", false, "allow workloads whose admission review cannot be read (default: deny them)")
	fs.BoolVar(&f.admissionNoAuth, "admission-no-auth", false, "serve /v1/admission without the bearer token, for API servers that send none (restrict who reaches it)")
	fs.DurationVar(&f.admissionTimeout, "admission-timeout", 0, "how long one admission review may take to check signatures in registries (default 8s; keep it under the webhook's timeoutSeconds)")
	fs.BoolVar(&f.requireDigest, "admission-require-digest", false, "deny images not pinned by digest even when the policy does not require it")
	// A server scan is bounded by --timeout, which defaults lower here.
	fs.Lookup("timeout").DefValue = server.DefaultScanTimeout.String()
	f.img.timeout = server.DefaultScanTimeout
	return cmd
}

func (a *app) runServer(ctx context.Context, f *serverFlags) error {
	token, err := serverToken(f.tokenFile)
	if err != nil {
		return err
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	level := slog.LevelInfo
	if a.debug {
		level = slog.LevelDebug
	}
	if a.quiet {
		level = slog.LevelError
	}
	log := slog.New(slog.NewJSONHandler(a.stderr, &slog.HandlerOptions{Level: level}))
	pol, err := loadPolicy(f.config)
	if err != nil {
		return err
	}
	opts := f.img.scanOptions(a)
	opts.Logger = log
	if err := f.vuln.apply(&opts); err != nil {
		return err
	}
	if opts.DBDir == "" {
		if opts.DBDir, err = scan.DefaultDBDir(); err != nil {
			return err
		}
	}
	sc, err := a.scanner(opts)
	if err != nil {
		return err
	}
	defer sc.Close()
	srv, err := server.New(server.Config{
		Scanner: sc, DBDir: opts.DBDir, StateDir: filepath.Join(sc.CacheDir(), "server"),
		Insecure: f.img.insecure, Token: token, Workers: f.workers, Queue: f.queue,
		MaxBodyBytes: f.maxBodyBytes, RateLimit: f.rateLimit, RateBurst: f.rateBurst, TTL: f.ttl, ScanTimeout: f.img.timeout,
		Policy: pol, AdmissionFailOpen: f.admissionFailOpen, AdmissionNoAuth: f.admissionNoAuth, RequireDigest: f.requireDigest,
		RedisURL: f.redisURL, Replica: f.replica, Lease: f.lease,
		NoSharedCache: f.noSharedCache, SharedCacheMaxEntry: f.sharedCacheMax,
		AdmissionTimeout: f.admissionTimeout,
		DBRepository:     f.dbRepository, DBRefresh: f.dbRefresh, DBMaxAge: f.dbMaxAge, DBEcosystems: f.dbEcosystems,
		ToolVersion: Version, Logger: log,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		srv.Shutdown(context.Background())
		return fmt.Errorf("--listen: %w", err)
	}
	hs := srv.NewHTTPServer(f.listen)
	errc := make(chan error, 1)
	go func() {
		if f.tlsCert != "" {
			errc <- hs.ServeTLS(ln, f.tlsCert, f.tlsKey)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	log.Info("serving", "addr", ln.Addr().String(), "tls", f.tlsCert != "", "auth", token != "", "workers", f.workers, "queue", f.queue, "db", opts.DBDir)
	if token == "" {
		log.Warn("no bearer token (--token-file or " + envServerToken + "): anyone who reaches the address can use the server")
	}
	select {
	case err := <-errc:
		srv.Shutdown(context.Background())
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "deadline", f.shutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), f.shutdownTimeout)
	defer cancel()
	serr := srv.Shutdown(sctx)
	hctx, hcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer hcancel()
	if err := hs.Shutdown(hctx); err != nil {
		hs.Close()
	}
	if serr != nil {
		log.Warn("shutdown", "error", serr)
	}
	log.Info("stopped")
	return nil
}

// serverToken reads the bearer token from the file or the environment.
func serverToken(file string) (string, error) {
	if file == "" {
		return strings.TrimSpace(os.Getenv(envServerToken)), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", fmt.Errorf("--token-file %s: empty", file)
	}
	return t, nil
}
