// Package server is "shipshape server": scans over HTTP for a fleet.
//
// It serves its own API (documented in docs/server-openapi.yaml), Harbor's
// pluggable scanner API v1.1/v1.2 and a Kubernetes validating admission
// webhook, all in front of one shared, concurrency-safe scan.Scanner. Jobs
// wait in a bounded queue for a bounded pool of workers; a full queue is
// refused with 429. Jobs and reports are kept in memory for a TTL, and
// finished reports are also written under the cache directory so that a
// restarted server still serves them.
//
// With Config.RedisURL (--redis) replicas share one Redis: the queue (a
// reliable one: a claimed job is leased, and requeued when its replica
// stops renewing the lease), the jobs' states and the reports, so any
// replica answers for any job (see redis.go), and the layer cache
// (internal/cache/rediscache): a layer is analysed once per fleet.
//
// Registry credentials sent with a request are used for that request's
// scan only: they live in the job until it runs and are never logged or
// written anywhere.
package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/shipshape-dev/shipshape/internal/cache/rediscache"
	"github.com/shipshape-dev/shipshape/internal/policy"
	"github.com/shipshape-dev/shipshape/internal/redact"
	"github.com/shipshape-dev/shipshape/internal/scan"
	"github.com/shipshape-dev/shipshape/internal/secret"
	"github.com/shipshape-dev/shipshape/internal/vuln/db"
)

// Defaults of Config.
const (
	DefaultWorkers = 2
	DefaultQueue   = 64
	// DefaultMaxBodyBytes fits an AdmissionReview of the largest object
	// Kubernetes stores (1.5 MiB) with its old version.
	DefaultMaxBodyBytes = 4 << 20
	DefaultTTL          = 24 * time.Hour
	DefaultScanTimeout  = 15 * time.Minute
)

// Config configures a Server.
type Config struct {
	// Scanner runs the scans; the server never closes it.
	Scanner *scan.Scanner
	// DBDir is the vulnerability database the scanner reads (for /v1/db
	// and /readyz).
	DBDir string
	// DBRepository is the shared location replicas refresh their copy
	// of the database from: a directory holding ECOSYSTEM/all.zip or a
	// base URL (see db.Updater.Repository). Empty: no refresh.
	DBRepository string
	// DBRefresh is how often the copy is refreshed from DBRepository (0:
	// only when the server starts).
	DBRefresh time.Duration
	// DBEcosystems are the ecosystems refreshed (empty: those the
	// repository directory or the local copy holds).
	DBEcosystems []string
	// DBKEVURL and DBEPSSURL are passed to the updater ("-": never).
	DBKEVURL, DBEPSSURL string
	// DBMaxAge, when set, is the age past which the database is called
	// stale: in every report (P5's summary and the warnings), in /readyz
	// and in GET /v1/db.
	DBMaxAge time.Duration
	// StateDir holds finished reports across restarts (typically
	// CACHE_DIR/server); empty keeps them in memory only.
	StateDir string
	// Insecure must match the scanner's: it allows Harbor's plain-HTTP
	// registry URLs.
	Insecure bool
	// RedisURL ("redis://HOST:PORT/DB"), when set, shares the queue, the
	// jobs' states and the reports with every replica using the same
	// Redis (see redis.go).
	RedisURL string
	// Replica names this process in Redis (default: host name and pid).
	Replica string
	// Lease is how long a claimed shared job stays claimed without its
	// replica renewing it (default DefaultLease); claims on layers being
	// analysed for the shared layer cache last as long.
	Lease time.Duration
	// NoSharedCache keeps the layer cache each replica's own even with
	// Redis.
	NoSharedCache bool
	// SharedCacheMaxEntry bounds one layer's entry in the shared cache
	// (compressed; default rediscache.DefaultMaxEntryBytes): layers with
	// a larger file index stay in the replica's own cache.
	SharedCacheMaxEntry int
	// Token, when not empty, is the bearer token every API request must
	// carry. /healthz and /readyz are open.
	Token string
	// Workers is how many scans run at once; Queue how many wait.
	Workers, Queue int
	// RateLimit is the requests per second one client address may send to
	// the API (probes excepted); past it, 429. Zero: no limit.
	RateLimit float64
	// RateBurst is how many requests a client may send at once (zero: the
	// rate, at least 1).
	RateBurst int
	// MaxBodyBytes bounds request bodies.
	MaxBodyBytes int64
	// TTL is how long a finished job and its report are kept.
	TTL time.Duration
	// ScanTimeout bounds one scan, including a registry that never
	// answers.
	ScanTimeout time.Duration
	// Policy judges admission requests (nil: the default policy).
	Policy *policy.Policy
	// AdmissionFailOpen allows a pod whose review cannot be decided (a
	// malformed object) instead of denying it.
	AdmissionFailOpen bool
	// AdmissionNoAuth serves /v1/admission without the bearer token, for
	// clusters whose API server does not send one (protect the address
	// with a NetworkPolicy instead).
	AdmissionNoAuth bool
	// AdmissionTimeout bounds the signature checks of one admission
	// review (default DefaultAdmissionTimeout); VerifyTimeout bounds POST
	// /v1/verify (default DefaultVerifyTimeout).
	AdmissionTimeout, VerifyTimeout time.Duration
	// RequireDigest makes admission deny images not pinned by digest even
	// when the policy does not ask for it.
	RequireDigest bool
	// ToolVersion is reported by the Harbor metadata.
	ToolVersion string
	// Logger receives JSON logs (nil: discarded).
	Logger *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Server serves the API. Create it with New, serve Handler, and stop it
// with Shutdown.
type Server struct {
	cfg     Config
	log     *slog.Logger
	store   *store
	metrics *metrics
	reg     *prometheus.Registry
	limiter *limiter
	rq      *shared
	db      dbState
	// verdicts are the images admission found signed, for a minute.
	verdicts verdictCache
	// lc is the layer cache shared through Redis (nil without).
	lc *rediscache.Store
	// redacted returns a message with the secret values the P1 rules
	// find in it hidden, as stderr is: an error message may quote what a
	// client sent or what a registry answered, and it leaves the process
	// in a response, in a job's record (Redis too) and in the logs.
	redacted func(msg string) string

	mu       sync.Mutex
	queue    chan *job
	draining bool

	// baseCtx is the parent of every scan; cancelJobs fails running
	// scans when the shutdown deadline passes.
	baseCtx     context.Context
	cancelJobs  context.CancelFunc
	workers     sync.WaitGroup
	closeShared sync.Once
	janitor     chan struct{}
}

// New starts the workers; Shutdown stops them.
func New(cfg Config) (*Server, error) {
	if cfg.Scanner == nil {
		return nil, errors.New("server: no scanner")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.ScanTimeout <= 0 {
		cfg.ScanTimeout = DefaultScanTimeout
	}
	if cfg.AdmissionTimeout <= 0 {
		cfg.AdmissionTimeout = DefaultAdmissionTimeout
	}
	if cfg.VerifyTimeout <= 0 {
		cfg.VerifyTimeout = DefaultVerifyTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Policy == nil {
		cfg.Policy = policy.Default()
	}
	st, err := newStore(cfg.StateDir, cfg.TTL, cfg.Now)
	if err != nil {
		return nil, err
	}
	var rq *shared
	if cfg.RedisURL != "" {
		if cfg.Replica == "" {
			h, _ := os.Hostname()
			cfg.Replica = fmt.Sprintf("%s-%d", h, os.Getpid())
		}
		if rq, err = newShared(context.Background(), cfg.RedisURL, cfg.Replica, cfg.Lease, cfg.TTL, cfg.Queue); err != nil {
			return nil, err
		}
	}
	reg := prometheus.NewRegistry()
	var lc *rediscache.Store
	if rq != nil && !cfg.NoSharedCache && cfg.Scanner.LayerCache() != nil {
		lc, err = rediscache.New(rediscache.Options{
			Client: rq.c, Local: cfg.Scanner.LayerCache(), MaxEntryBytes: cfg.SharedCacheMaxEntry,
			ClaimTTL: rq.lease, Logger: cfg.Logger,
		})
		if err != nil {
			rq.c.Close()
			return nil, err
		}
		cfg.Scanner = cfg.Scanner.WithLayerCache(lc)
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		redacted: redact.Hider(secret.ValueFinder()),
		store:    st,
		metrics:  newMetrics(reg),
		reg:      reg,
		rq:       rq,
		lc:       lc,
		queue:    make(chan *job, cfg.Queue),
		janitor:  make(chan struct{}),
	}
	if cfg.RateLimit > 0 {
		s.limiter = newLimiter(cfg.RateLimit, cfg.RateBurst, cfg.Now)
	}
	s.metrics.queueCapacity.Set(float64(cfg.Queue))
	if lc != nil {
		registerSharedCache(reg, lc)
	}
	s.baseCtx, s.cancelJobs = context.WithCancel(context.Background())
	s.loadDBAge()
	if cfg.DBRepository != "" {
		// A replica starts from the shared copy; a failure leaves the
		// local copy (and says so in /readyz and GET /v1/db). With a
		// local copy already there, it starts serving at once.
		s.db.mu.Lock()
		have := !s.db.oldest.IsZero()
		s.db.mu.Unlock()
		if have {
			go s.refreshDB(s.baseCtx)
		} else {
			s.refreshDB(s.baseCtx)
		}
		if cfg.DBRefresh > 0 {
			go s.refresher()
		}
	}
	for range cfg.Workers {
		s.workers.Add(1)
		go s.worker()
	}
	go s.sweep()
	return s, nil
}

// Handler is the HTTP API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	api := http.NewServeMux()
	api.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	api.HandleFunc("POST /v1/scans", s.postScan)
	api.HandleFunc("GET /v1/scans/{id}", s.getScan)
	api.HandleFunc("GET /v1/scans/{id}/report", s.getReport)
	api.HandleFunc("GET /v1/db", s.getDB)
	api.HandleFunc("POST /v1/verify", s.postVerify)
	if s.cfg.AdmissionNoAuth {
		mux.Handle("POST /v1/admission", s.rateLimit(http.HandlerFunc(s.admission)))
	} else {
		api.HandleFunc("POST /v1/admission", s.admission)
	}
	api.HandleFunc("GET /api/v1/metadata", s.harborMetadata)
	api.HandleFunc("POST /api/v1/scan", s.harborScan)
	api.HandleFunc("GET /api/v1/scan/{id}/report", s.harborReport)
	mux.Handle("/", s.rateLimit(s.auth(api)))
	return s.limitBody(mux)
}

// Shutdown stops taking jobs (new ones get 503), fails the queued ones and
// waits for the running ones until ctx ends, then cancels them. It returns
// ctx's error when scans had to be cancelled.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.draining {
		s.draining = true
		close(s.queue)
		close(s.janitor)
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.workers.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		s.cancelJobs()
		<-done
		err = fmt.Errorf("shutdown: running scans cancelled: %w", ctx.Err())
	}
	s.cancelJobs()
	s.closeShared.Do(func() {
		if s.rq != nil {
			s.rq.c.Close()
		}
	})
	return err
}

// auth checks the bearer token in constant time.
func (s *Server) auth(next http.Handler) http.Handler {
	if s.cfg.Token == "" {
		return next
	}
	want := []byte("Bearer " + s.cfg.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="shipshape"`)
			s.metrics.requestsRejected.WithLabelValues("unauthorized").Inc()
			s.writeError(w, http.StatusUnauthorized, "missing or wrong bearer token (Authorization: Bearer TOKEN)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody bounds every request body; decoders see an error past it.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.cfg.MaxBodyBytes {
			s.metrics.requestsRejected.WithLabelValues("too_large").Inc()
			s.writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body of %d bytes is over the limit of %d", r.ContentLength, s.cfg.MaxBodyBytes))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

// decodeBody reads one JSON value into v, answering the error itself; it
// reports whether decoding succeeded.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any, errf func(w http.ResponseWriter, code int, msg string)) bool {
	return s.decode(w, r, v, errf, true)
}

// decodeBodyLax is decodeBody allowing fields it does not know (Harbor's
// and Kubernetes' documents grow).
func (s *Server) decodeBodyLax(w http.ResponseWriter, r *http.Request, v any, errf func(w http.ResponseWriter, code int, msg string)) bool {
	return s.decode(w, r, v, errf, false)
}

func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any, errf func(w http.ResponseWriter, code int, msg string), strict bool) bool {
	dec := json.NewDecoder(r.Body)
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.metrics.requestsRejected.WithLabelValues("too_large").Inc()
			errf(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is over the limit of %d bytes", mbe.Limit))
			return false
		}
		errf(w, http.StatusBadRequest, "request body: "+err.Error())
		return false
	}
	if dec.More() {
		errf(w, http.StatusBadRequest, "request body: more than one JSON value")
		return false
	}
	return true
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, "application/json", map[string]string{"status": "ok"})
}

// readyz is ready when the vulnerability database has at least one
// ecosystem and the server takes jobs; it says what is loaded.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	st := s.dbStatus()
	code := http.StatusOK
	var reasons []string
	if len(st.Ecosystems) == 0 {
		code = http.StatusServiceUnavailable
		reasons = append(reasons, "no vulnerability database loaded: run `shipshape db update --db-dir "+s.cfg.DBDir+"`")
	}
	if st.Error != "" {
		code = http.StatusServiceUnavailable
		reasons = append(reasons, st.Error)
	}
	if s.rq != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := s.rq.c.Ping(ctx).Err()
		cancel()
		if err != nil {
			code = http.StatusServiceUnavailable
			reasons = append(reasons, "the shared store (Redis) does not answer: "+err.Error())
		}
	}
	s.mu.Lock()
	draining := s.draining
	s.mu.Unlock()
	if draining {
		code = http.StatusServiceUnavailable
		reasons = append(reasons, "shutting down")
	}
	status := "ready"
	if code != http.StatusOK {
		status = "not ready"
	}
	// A stale database does not take the replica out of service (the
	// whole fleet would go with the shared copy): its reports say so.
	var warnings []string
	if st.Stale != "" {
		warnings = append(warnings, st.Stale)
	}
	if st.RefreshError != "" {
		warnings = append(warnings, "the last refresh of the vulnerability database failed: "+st.RefreshError)
	}
	writeJSON(w, code, "application/json", map[string]any{"status": status, "reasons": reasons, "warnings": warnings, "db": st})
}

// DBStatus is the answer of GET /v1/db.
type DBStatus struct {
	Dir        string    `json:"dir"`
	Ecosystems []db.Meta `json:"ecosystems"`
	Error      string    `json:"error,omitempty"`
	// Repository is the shared location the copy is refreshed from,
	// RefreshedAt the last refresh, RefreshError how it failed.
	Repository   string     `json:"repository,omitempty"`
	RefreshedAt  *time.Time `json:"refreshedAt,omitempty"`
	RefreshError string     `json:"refreshError,omitempty"`
	// MaxAge is --db-max-age; Stale says how the copy is over it.
	MaxAge string `json:"maxAge,omitempty"`
	Stale  string `json:"stale,omitempty"`
}

func (s *Server) dbStatus() DBStatus {
	st := DBStatus{Dir: s.cfg.DBDir, Ecosystems: []db.Meta{}, Repository: s.cfg.DBRepository, Stale: s.staleDB()}
	if s.cfg.DBMaxAge > 0 {
		st.MaxAge = s.cfg.DBMaxAge.String()
	}
	s.db.mu.Lock()
	if !s.db.refreshedAt.IsZero() {
		t := s.db.refreshedAt
		st.RefreshedAt = &t
	}
	st.RefreshError = s.db.refreshErr
	s.db.mu.Unlock()
	if s.cfg.DBDir == "" {
		st.Error = "no vulnerability database directory configured"
		return st
	}
	m, err := db.Status(s.cfg.DBDir)
	if err != nil {
		st.Error = err.Error()
	}
	if m != nil {
		st.Ecosystems = m
	}
	return st
}

func (s *Server) getDB(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, "application/json", s.dbStatus())
}

// apiError is the error body of the server's own API.
type apiError struct {
	Error string `json:"error"`
}

// writeError answers with an error body of the server's own API; the
// message passes through redacted first.
func (s *Server) writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, "application/json", apiError{Error: s.redacted(msg)})
}

func writeJSON(w http.ResponseWriter, code int, contentType string, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		code = http.StatusInternalServerError
		b = []byte(`{"error":"encoding the response failed"}`)
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

// mediaBase is a media type without parameters, lower case.
func mediaBase(mt string) string {
	b, _, _ := strings.Cut(mt, ";")
	return strings.ToLower(strings.TrimSpace(b))
}

// HTTP timeouts of NewHTTPServer: a slow or stalled client is cut off
// instead of holding a connection and a goroutine.
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 60 * time.Second
	WriteTimeout      = 5 * time.Minute
	IdleTimeout       = 2 * time.Minute
	MaxHeaderBytes    = 64 << 10
)

// NewHTTPServer is an http.Server for the handler with timeouts against
// slow clients and errors logged through the server's logger.
func (s *Server) NewHTTPServer(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           s.Handler(),
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}
